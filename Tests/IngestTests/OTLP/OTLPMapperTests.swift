import PacketModel
import Foundation
import OTLPProto
import Testing

@testable import Ingest

@Suite("OTLP mapping onto packets")
struct OTLPMapperTests {
    let mapper = OTLPLogMapper(limits: PacketLimits())

    /// Maps, checks every packet passes ingest's own validator, and decodes them as the analyser does.
    func packets(_ request: OTLPExportLogsServiceRequest, mapper: OTLPLogMapper? = nil) throws -> [Packet] {
        let output = (mapper ?? self.mapper).map(request)
        return try output.packets.map { try PacketValidator.decode($0, limits: PacketLimits()) }
    }

    func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static let severities: [(Int, LogLevel)] = (0...24).map { number in
        switch number {
        case 0: (0, .info)
        case 1...4: (number, .trace)
        case 5...8: (number, .debug)
        case 9...12: (number, .info)
        case 13...16: (number, .warn)
        case 17...20: (number, .error)
        default: (number, .fatal)
        }
    }

    @Test("every severity number maps to its range's level", arguments: severities)
    func severityNumbers(number: Int, level: LogLevel) throws {
        #expect(OTLPSeverity.level(number: number, text: "") == level)
        let packet = try #require(try packets(OTLPFixtures.request(records: [OTLPFixtures.record("x", severity: number)])).first)
        #expect(packet.messages.first?.level == level)
    }

    @Test(
        "an unspecified number falls back to the severity text, then INFO",
        arguments: [
            ("WARNING", LogLevel.warn), ("warn", .warn), ("Error", .error), ("CRITICAL", .fatal), ("fatal", .fatal),
            ("DEBUG", .debug), ("trace", .trace), ("INFO2", .info), ("ERROR3", .error), ("notice", .info), ("", .info),
            ("bogus", .info),
        ])
    func severityTexts(text: String, level: LogLevel) {
        #expect(OTLPSeverity.level(number: 0, text: text) == level)
        // A number in range wins over the text.
        #expect(OTLPSeverity.level(number: 17, text: text) == .error)
        // An unknown number (not one of the 24) is treated as unspecified.
        #expect(OTLPSeverity.level(number: 99, text: text) == level)
    }

    @Test(
        "bodies: strings as themselves, other kinds as JSON",
        arguments: [
            (OTLPAnyValue.with { $0.stringValue = "hello \"world\"\n" }, "hello \"world\"\n"),
            (.with { $0.intValue = -42 }, "-42"),
            (.with { $0.doubleValue = 1.5 }, "1.5"),
            (.with { $0.doubleValue = 3 }, "3"),
            (.with { $0.doubleValue = .nan }, "\"NaN\""),
            (.with { $0.boolValue = true }, "true"),
            (.with { $0.bytesValue = Data([1, 2, 3]) }, "\"AQID\""),
            (.with { $0.arrayValue.values = [OTLPFixtures.string("a"), .with { $0.intValue = 1 }] }, "[\"a\",1]"),
            (
                .with {
                    $0.kvlistValue.values = [
                        OTLPFixtures.pair("k", OTLPFixtures.string("v")), OTLPFixtures.pair("n", .with { $0.intValue = 2 }),
                        OTLPFixtures.pair("k", OTLPFixtures.string("repeated")),
                    ]
                }, "{\"k\":\"v\",\"n\":2}"
            ),
            (OTLPAnyValue(), ""),
        ])
    func bodies(body: OTLPAnyValue, expected: String) throws {
        var record = OTLPFixtures.record("")
        record.body = body
        let packet = try #require(try packets(OTLPFixtures.request(records: [record])).first)
        #expect(packet.messages.first?.message == expected)
    }

    @Test("attributes are kept with their types; the record's own fields as otel.*; a repeated key keeps its first value")
    func attributes() throws {
        var record = OTLPFixtures.record(
            "x", severity: 10, text: "INFO2",
            attributes: [
                OTLPFixtures.pair("http.status", .with { $0.intValue = 503 }),
                OTLPFixtures.pair("user", OTLPFixtures.string("ann")),
                OTLPFixtures.pair("user", OTLPFixtures.string("bob")),
                OTLPFixtures.pair("tags", .with { $0.arrayValue.values = [OTLPFixtures.string("a")] }),
                OTLPFixtures.pair("nested", .with { $0.kvlistValue.values = [OTLPFixtures.pair("ok", .with { $0.boolValue = true })] }),
            ])
        record.traceID = Data((0..<16).map { UInt8($0) })
        record.spanID = Data((0..<8).map { UInt8($0 + 0xA0) })
        record.eventName = "checkout.failed"
        record.flags = 1
        let output = mapper.map(OTLPFixtures.request(records: [record]))
        let packet = try object(try #require(output.packets.first))
        let messages = try #require(packet["messages"] as? [[String: Any]])
        let attributes = try #require(messages.first?["attributes"] as? [String: Any])
        #expect(attributes["http.status"] as? Int == 503)
        #expect(attributes["user"] as? String == "ann")
        #expect(attributes["tags"] as? [String] == ["a"])
        #expect((attributes["nested"] as? [String: Any])?["ok"] as? Bool == true)
        #expect(attributes["otel.severity_number"] as? Int == 10)
        #expect(attributes["otel.severity_text"] as? String == "INFO2")
        #expect(attributes["otel.trace_id"] as? String == "000102030405060708090a0b0c0d0e0f")
        #expect(attributes["otel.span_id"] as? String == "a0a1a2a3a4a5a6a7")
        #expect(attributes["otel.event_name"] as? String == "checkout.failed")
        #expect(attributes["otel.flags"] as? Int == 1)
        // The resource and scope travel on the packet; service.name is the source.
        #expect(packet["source"] as? String == "checkout")
        #expect((packet["resource"] as? [String: Any])?["host.name"] as? String == "h1")
        #expect((packet["scope"] as? [String: Any])?["name"] as? String == "app")
        #expect((packet["scope"] as? [String: Any])?["version"] as? String == "1.0")
    }

    @Test("a record without service.name has no source; a record without attributes has none")
    func noSource() throws {
        let packet = try #require(try packets(OTLPFixtures.request(service: nil, records: [OTLPFixtures.record("x", severity: 0)])).first)
        #expect(packet.source == nil)
        #expect(packet.messages.first?.attributeCount == 0)
    }

    @Test("timestamps: time_unix_nano in ms, else observed_time_unix_nano, else none")
    func timestamps() throws {
        var observed = OTLPFixtures.record("observed", timeNanos: 0)
        observed.observedTimeUnixNano = 1_732_400_000_999_999_999
        let none = OTLPFixtures.record("none", timeNanos: 0)
        let timed = OTLPFixtures.record("timed", timeNanos: 1_732_400_000_123_456_789)
        let packet = try #require(try packets(OTLPFixtures.request(records: [timed, observed, none])).first)
        #expect(packet.timestamp == 1_732_400_000_123)
        #expect(packet.messages.map(\.timestamp) == [1_732_400_000_123, 1_732_400_000_999, nil])
        let untimed = try #require(try packets(OTLPFixtures.request(records: [none])).first)
        #expect(untimed.timestamp == nil)
    }

    @Test("ids come from the content: the same request maps to the same ids, different records to different ones")
    func ids() throws {
        let request = OTLPFixtures.request(count: 3)
        let first = mapper.map(request)
        let again = mapper.map(request)
        #expect(first.ids == again.ids)
        #expect(first.packets == again.packets)
        let id = try #require(first.ids.first)
        #expect(id.hasPrefix("otlp-") && id.count == 37)
        var changed = request
        changed.resourceLogs[0].scopeLogs[0].logRecords[1].timeUnixNano += 1
        #expect(mapper.map(changed).ids != first.ids)
        let otherService = OTLPFixtures.request(count: 3, service: "billing")
        #expect(mapper.map(otherService).ids != first.ids)
        // The id in the packet is its key.
        let packet = try PacketValidator.decode(try #require(first.packets.first), limits: PacketLimits())
        #expect(packet.id == id)
    }

    @Test("identical scopes in one request get distinct ids, stable across retries")
    func repeatedContent() throws {
        var request = OTLPFixtures.request(count: 2)
        request.resourceLogs.append(request.resourceLogs[0])
        let output = mapper.map(request)
        #expect(output.ids.count == 2)
        #expect(Set(output.ids).count == 2)
        #expect(output.ids[1] == output.ids[0] + "-2")
        #expect(mapper.map(request).ids == output.ids)
    }

    @Test("one packet per resource and scope, split at recordsPerPacket; every record once, in order")
    func chunking() throws {
        let small = OTLPLogMapper(limits: PacketLimits(), recordsPerPacket: 1000)
        var request = OTLPFixtures.request(count: 2500)
        request.resourceLogs.append(OTLPFixtures.request(count: 10, prefix: "other", service: "billing").resourceLogs[0])
        let output = small.map(request)
        #expect(output.records == 2510)
        let decoded = try output.packets.map { try PacketValidator.decode($0, limits: PacketLimits()) }
        #expect(decoded.map(\.messages.count) == [1000, 1000, 500, 10])
        #expect(decoded.map(\.source) == ["checkout", "checkout", "checkout", "billing"])
        #expect(output.slices.map(\.messages) == [1000, 1000, 500, 10])
        #expect(decoded.prefix(3).flatMap { $0.messages.map(\.message) } == (0..<2500).map { "line-\($0)" })
    }

    @Test("packets stay within the body limit: large records spread over several packets")
    func byteLimit() throws {
        var limits = PacketLimits()
        limits.maxBodyBytes = 10_000
        let mapper = OTLPLogMapper(limits: limits)
        let text = String(repeating: "x", count: 3000)
        let output = mapper.map(OTLPFixtures.request(records: (0..<10).map { OTLPFixtures.record("\($0)\(text)") }))
        #expect(output.records == 10)
        #expect(output.rejected == 0)
        #expect(output.packets.count >= 4)
        for packet in output.packets {
            #expect(packet.count <= limits.maxBodyBytes)
            #expect(throws: Never.self) { try PacketValidator.decode(packet, limits: limits) }
        }
    }

    @Test("records that cannot be packets are rejected, one by one, with the reason")
    func rejections() throws {
        var limits = PacketLimits()
        limits.maxMessageLength = 10
        let mapper = OTLPLogMapper(limits: limits)
        var deep = OTLPAnyValue.with { $0.stringValue = "leaf" }
        for _ in 0..<40 { deep = .with { [deep] in $0.arrayValue.values = [deep] } }
        var deepRecord = OTLPFixtures.record("ok")
        deepRecord.attributes = [OTLPFixtures.pair("deep", deep)]
        let request = OTLPFixtures.request(records: [
            OTLPFixtures.record("short"), OTLPFixtures.record("far too long for ten"), deepRecord, OTLPFixtures.record("fine"),
        ])
        let output = mapper.map(request)
        #expect(output.records == 2)
        #expect(output.rejected == 2)
        #expect(output.rejection?.contains("at most 10") == true)
        let packet = try PacketValidator.decode(try #require(output.packets.first), limits: limits)
        #expect(packet.messages.map(\.message) == ["short", "fine"])
    }

    @Test("an empty request maps to nothing")
    func empty() {
        let output = mapper.map(OTLPExportLogsServiceRequest())
        #expect(output.slices.isEmpty && output.records == 0 && output.rejected == 0)
    }
}

import LogdistBasics
import KafkaClient
import PacketModel
import Foundation
import OTLPProto

/// OTLP log records → logdist packets, as README's mapping table says: one packet per resource and scope (split
/// into several when large), one message per record. Pure: tests reach it without Kafka or HTTP.
///
/// A packet: `{"id":"otlp-<hash>","timestamp":ms,"source":service.name,"resource":{attrs},"scope":{…},
/// "messages":[{"level":…,"message":body,"timestamp":ms,"attributes":{…}}]}`; its id is derived from its content.
struct OTLPLogMapper {
    /// What `map` made: packets laid out in two buffers, as `KafkaProducer.sendSlices` takes them.
    struct Output {
        var values: [UInt8] = []
        var keys: [UInt8] = []
        var slices: [KafkaProducer.RecordSlice] = []
        /// Records that became messages.
        var records = 0
        /// Records refused (each counted in `rejected_log_records`), and why the first was.
        var rejected = 0
        var rejection: String?

        /// The packets' ids, in order (for tests and logs).
        var ids: [String] { slices.map { String(decoding: keys[$0.key], as: UTF8.self) } }
        /// The packets' bytes, in order.
        var packets: [[UInt8]] { slices.map { Array(values[$0.value]) } }
    }

    var limits: PacketLimits
    /// At most this many records in one packet.
    var recordsPerPacket = 1000

    init(limits: PacketLimits, recordsPerPacket: Int = 1000) {
        self.limits = limits
        self.recordsPerPacket = max(1, min(recordsPerPacket, limits.maxMessages))
    }

    /// Room kept in each packet for `{"id":"…",` and the closing brackets.
    private static let idRoom = 64

    func map(_ request: OTLPExportLogsServiceRequest) -> Output {
        var output = Output()
        var occurrences: [String: Int] = [:]
        for resourceLogs in request.resourceLogs {
            let source = Self.serviceName(resourceLogs.resource)
            for scopeLogs in resourceLogs.scopeLogs {
                guard !scopeLogs.logRecords.isEmpty else { continue }
                let header: JSONBytes
                do {
                    header = try packetHeader(resource: resourceLogs, scope: scopeLogs, source: source)
                } catch {
                    reject(&output, count: scopeLogs.logRecords.count, "resource or scope attributes nest deeper than \(limits.maxDepth)")
                    continue
                }
                var chunk: [JSONBytes] = []
                var chunkNanos: [UInt64] = []
                var chunkBytes = 0
                var firstTimestamp: Int64?
                let room = limits.maxBodyBytes - header.bytes.count - Self.idRoom
                for record in scopeLogs.logRecords {
                    let message: JSONBytes
                    switch self.message(record) {
                    case .success(let made): message = made
                    case .failure(let refusal):
                        reject(&output, count: 1, refusal.reason)
                        continue
                    }
                    guard message.bytes.count + 1 <= room else {
                        reject(&output, count: 1, "a record maps to \(message.bytes.count) bytes; a packet holds at most \(limits.maxBodyBytes)")
                        continue
                    }
                    if chunk.count == recordsPerPacket || chunkBytes + message.bytes.count + 1 > room {
                        emit(&output, header: header, timestamp: firstTimestamp, messages: chunk, nanos: chunkNanos, occurrences: &occurrences)
                        chunk.removeAll(keepingCapacity: true)
                        chunkNanos.removeAll(keepingCapacity: true)
                        chunkBytes = 0
                        firstTimestamp = nil
                    }
                    if firstTimestamp == nil { firstTimestamp = Self.milliseconds(record) }
                    chunk.append(message)
                    chunkNanos.append(record.timeUnixNano)
                    chunkNanos.append(record.observedTimeUnixNano)
                    chunkBytes += message.bytes.count + 1
                }
                if !chunk.isEmpty {
                    emit(&output, header: header, timestamp: firstTimestamp, messages: chunk, nanos: chunkNanos, occurrences: &occurrences)
                }
            }
        }
        return output
    }

    private func reject(_ output: inout Output, count: Int, _ reason: String) {
        output.rejected += count
        if output.rejection == nil { output.rejection = reason }
    }

    /// `"source":…,"resource":{…},"scope":{…},` — the members every packet of one scope shares.
    private func packetHeader(resource: OTLPResourceLogs, scope: OTLPScopeLogs, source: String?) throws(NestingTooDeep) -> JSONBytes {
        var json = JSONBytes(capacity: 256)
        if let source {
            json.raw("\"source\":")
            json.string(source)
            json.byte(0x2C)
        }
        if !resource.resource.attributes.isEmpty {
            json.raw("\"resource\":")
            try json.object(resource.resource.attributes, depth: 2, maxDepth: limits.maxDepth)
            json.byte(0x2C)
        }
        let instrumentation = scope.scope
        if !instrumentation.name.isEmpty || !instrumentation.version.isEmpty || !instrumentation.attributes.isEmpty {
            json.raw("\"scope\":{\"name\":")
            json.string(instrumentation.name)
            if !instrumentation.version.isEmpty {
                json.raw(",\"version\":")
                json.string(instrumentation.version)
            }
            if !instrumentation.attributes.isEmpty {
                json.raw(",\"attributes\":")
                try json.object(instrumentation.attributes, depth: 3, maxDepth: limits.maxDepth)
            }
            json.raw("},")
        }
        return json
    }

    /// Writes one packet: its content (everything after the id) first, so that the id can be derived from it —
    /// from the content and the records' exact times (`nanos`), which the packet keeps only to the millisecond.
    private func emit(
        _ output: inout Output, header: JSONBytes, timestamp: Int64?, messages: [JSONBytes], nanos: [UInt64],
        occurrences: inout [String: Int]
    ) {
        var content = JSONBytes(capacity: header.bytes.count + messages.reduce(32) { $0 + $1.bytes.count + 1 })
        if let timestamp {
            content.raw("\"timestamp\":")
            content.integer(timestamp)
            content.byte(0x2C)
        }
        content.append(header)
        content.raw("\"messages\":[")
        for (index, message) in messages.enumerated() {
            if index > 0 { content.byte(0x2C) }
            content.append(message)
        }
        content.raw("]}")
        let contentCount = content.bytes.count
        for value in nanos { withUnsafeBytes(of: value.littleEndian) { content.bytes.append(contentsOf: $0) } }
        let base = OTLPPacketID.make(content.bytes, occurrence: 1)
        let occurrence = occurrences[base, default: 0] + 1
        occurrences[base] = occurrence
        let id = occurrence == 1 ? base : OTLPPacketID.make(content.bytes, occurrence: occurrence)
        content.bytes.removeLast(content.bytes.count - contentCount)
        let keyStart = output.keys.count
        output.keys.append(contentsOf: id.utf8)
        let valueStart = output.values.count
        output.values.append(contentsOf: "{\"id\":\"".utf8)
        output.values.append(contentsOf: id.utf8)
        output.values.append(contentsOf: "\",".utf8)
        output.values.append(contentsOf: content.bytes)
        output.slices.append(
            KafkaProducer.RecordSlice(
                value: valueStart..<output.values.count, key: keyStart..<output.keys.count, messages: Int32(messages.count)))
        output.records += messages.count
    }

    struct Refusal: Error { var reason: String }

    /// One record as a message: `{"level":…,"message":…,"timestamp":…,"attributes":{…}}`.
    func message(_ record: OTLPLogRecord) -> Result<JSONBytes, Refusal> {
        let text = Self.text(of: record.body, maxDepth: limits.maxDepth)
        guard let text else { return .failure(Refusal(reason: "a record's body nests deeper than \(limits.maxDepth)")) }
        if text.utf8.count > limits.maxMessageLength {
            let count = text.unicodeScalars.count
            if count > limits.maxMessageLength {
                return .failure(Refusal(reason: "a record's body is \(count) characters; at most \(limits.maxMessageLength) are allowed"))
            }
        }
        var json = JSONBytes(capacity: 96 + text.utf8.count)
        json.raw("{\"level\":\"")
        json.bytes.append(contentsOf: OTLPSeverity.level(record.severityNumber, text: record.severityText).rawValue.utf8)
        json.raw("\",\"message\":")
        json.string(text)
        if let timestamp = Self.milliseconds(record) {
            json.raw(",\"timestamp\":")
            json.integer(timestamp)
        }
        let extras = Self.hasExtras(record)
        if !record.attributes.isEmpty || extras {
            json.raw(",\"attributes\":")
            do {
                try json.object(record.attributes, depth: 4, maxDepth: limits.maxDepth) { json, seen in
                    Self.writeExtras(record, into: &json, seen: &seen)
                }
            } catch {
                return .failure(Refusal(reason: "a record's attributes nest deeper than \(limits.maxDepth)"))
            }
        }
        json.byte(0x7D)
        return .success(json)
    }

    private static func hasExtras(_ record: OTLPLogRecord) -> Bool {
        record.severityNumber.rawValue != 0 || !record.severityText.isEmpty || !record.traceID.isEmpty
            || !record.spanID.isEmpty || !record.eventName.isEmpty || record.flags != 0
    }

    /// The record's own fields that have no place of their own in a message, as `otel.*` attributes (after the
    /// record's attributes; an attribute of the same name wins).
    private static func writeExtras(_ record: OTLPLogRecord, into json: inout JSONBytes, seen: inout Set<String>) {
        func key(_ name: String) -> Bool {
            guard seen.insert(name).inserted else { return false }
            json.member(name, first: seen.count == 1)
            return true
        }
        if record.severityNumber.rawValue != 0, key("otel.severity_number") { json.integer(record.severityNumber.rawValue) }
        if !record.severityText.isEmpty, key("otel.severity_text") { json.string(record.severityText) }
        if !record.eventName.isEmpty, key("otel.event_name") { json.string(record.eventName) }
        if !record.traceID.isEmpty, key("otel.trace_id") { json.hexString(record.traceID) }
        if !record.spanID.isEmpty, key("otel.span_id") { json.hexString(record.spanID) }
        if record.flags != 0, key("otel.flags") { json.integer(record.flags) }
    }

    /// The message text: a string body as itself, an absent body as "", any other kind as its JSON.
    static func text(of body: OTLPAnyValue, maxDepth: Int) -> String? {
        switch body.value {
        case .stringValue(let text): return text
        case nil: return ""
        default:
            var json = JSONBytes()
            do { try json.anyValue(body, depth: 1, maxDepth: maxDepth) } catch { return nil }
            return String(decoding: json.bytes, as: UTF8.self)
        }
    }

    /// `time_unix_nano` in milliseconds, else `observed_time_unix_nano` (the data model's rule for a record whose
    /// source gave no time), else nil.
    static func milliseconds(_ record: OTLPLogRecord) -> Int64? {
        let nanos = record.timeUnixNano != 0 ? record.timeUnixNano : record.observedTimeUnixNano
        guard nanos != 0 else { return nil }
        return Int64(nanos / 1_000_000)
    }

    /// The resource's `service.name` (a non-string value as its JSON), or nil.
    static func serviceName(_ resource: OTLPResource) -> String? {
        guard let pair = resource.attributes.first(where: { $0.key == "service.name" }) else { return nil }
        if case .stringValue(let name) = pair.value.value { return name.isEmpty ? nil : name }
        return text(of: pair.value, maxDepth: 8)
    }
}

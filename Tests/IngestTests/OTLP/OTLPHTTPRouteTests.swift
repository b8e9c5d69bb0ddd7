import LogdistBasics
import PacketModel
import Foundation
import GRPCCore
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import OTLPProto
import SwiftProtobuf
import Testing

@testable import Ingest

@Suite("OTLP/HTTP POST /v1/logs", .timeLimit(.minutes(3)))
struct OTLPHTTPRouteTests {
    @Test("protobuf, JSON and gzip requests: 200 with an empty ExportLogsServiceResponse once every packet is in Kafka")
    func encodings() async throws {
        let harness = try await OTLPHarness(label: "otlp-http")
        let json = Array(OTLPDecoderTests.json.utf8)
        try await harness.test { client in
            let proto = try await client.postOTLP(OTLPFixtures.request(count: 5, prefix: "proto"))
            #expect(proto.status == .ok)
            #expect(proto.headers[.contentType] == "application/x-protobuf")
            #expect(proto.otlpResponse == OTLPExportLogsServiceResponse())
            let zipped = try await client.postOTLP(OTLPFixtures.request(count: 3, prefix: "gzip"), gzip: true)
            #expect(zipped.status == .ok)
            let plain = try await client.postOTLP(json, contentType: "application/json; charset=utf-8")
            #expect(plain.status == .ok)
            #expect(plain.headers[.contentType] == "application/json")
            #expect(plain.text == "{}")
            let jsonZipped = try await client.postOTLP(try OTLPClient.gzip(json), contentType: "application/json", encoding: "gzip")
            #expect(jsonZipped.status == .ok)
        }
        let packets = try await harness.packetsInKafka(expected: 4)
        let messages = packets.flatMap(\.messages)
        #expect(packets.count == 4)
        #expect(messages.count == 12)  // 5 + 3 + 2 JSON + 2 JSON gzip
        #expect(Set(packets.compactMap(\.source)) == ["checkout", "web"])
        let errors = messages.filter { $0.level == LogLevel.error }.count
        let warnings = messages.filter { $0.level == LogLevel.warn }.count
        #expect(errors == 2)
        #expect(warnings == 2)
        // The same JSON request twice maps to the same packet id (the retry guarantee dedupes it downstream).
        #expect(Set(packets.map(\.id)).count == 3)
        await harness.close()
    }

    @Test("records that cannot be packets: 200 with partial_success naming how many and why; the rest are written")
    func partialSuccess() async throws {
        let harness = try await OTLPHarness(label: "otlp-partial") { $0.limits.maxMessageLength = 20 }
        let request = OTLPFixtures.request(records: [
            OTLPFixtures.record("ok 1"), OTLPFixtures.record(String(repeating: "x", count: 21)), OTLPFixtures.record("ok 2"),
        ])
        let (proto, json) = try await harness.test { client in
            let proto = try await client.postOTLP(request)
            let json = try await client.postOTLP(Array(try request.jsonUTF8Data()), contentType: "application/json")
            return (proto, json)
        }
        #expect(proto.status == .ok)
        let partial = try #require(proto.otlpResponse?.partialSuccess)
        #expect(partial.rejectedLogRecords == 1)
        #expect(partial.errorMessage.contains("at most 20"))
        #expect(json.status == .ok)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(json.body.readableBytesView)) as? [String: Any])
        let jsonPartial = try #require(body["partialSuccess"] as? [String: Any])
        #expect(jsonPartial["rejectedLogRecords"] as? String == "1")
        let packets = try await harness.packetsInKafka(expected: 1)
        #expect(packets.first?.messages.map(\.message) == ["ok 1", "ok 2"])
        await harness.close()
    }

    @Test("an empty request is a success with nothing written")
    func empty() async throws {
        let harness = try await OTLPHarness(label: "otlp-empty")
        try await harness.test { client in
            let response = try await client.postOTLP([], contentType: "application/x-protobuf")
            let json = try await client.postOTLP(Array("{}".utf8), contentType: "application/json")
            #expect(response.status == .ok)
            #expect(json.status == .ok)
        }
        await harness.close()
    }

    @Test(
        "malformed requests: 400 with a google.rpc.Status in the request's encoding",
        arguments: [
            ([UInt8]([0xFF, 0xFF, 0xFF, 0xFF]), "application/x-protobuf", nil as String?),
            (Array("{\"resourceLogs\":".utf8), "application/json", nil),
            (Array("[1,2]".utf8), "application/json", nil),
            (Array("not gzip at all".utf8), "application/x-protobuf", "gzip"),
        ])
    func malformed(body: [UInt8], contentType: String, encoding: String?) async throws {
        let harness = try await OTLPHarness(label: "otlp-bad")
        let response = try await harness.test { client in try await client.postOTLP(body, contentType: contentType, encoding: encoding) }
        #expect(response.status == .badRequest)
        #expect(response.headers[.contentType] == contentType)
        if contentType == "application/x-protobuf" {
            #expect(response.rpcStatus?.code == .invalidArgument)
        } else {
            #expect(response.text.hasPrefix("{\"code\":3,\"message\":"))
        }
        await harness.close()
    }

    @Test("415 for another content type or content encoding")
    func unsupported() async throws {
        let harness = try await OTLPHarness(label: "otlp-415")
        try await harness.test { client in
            let text = try await client.postOTLP([1], contentType: "text/plain")
            let none = try await client.postOTLP([1], contentType: nil)
            let brotli = try await client.postOTLP([1], contentType: "application/x-protobuf", encoding: "br")
            #expect(text.status == .unsupportedMediaType)
            #expect(none.status == .unsupportedMediaType)
            #expect(brotli.status == .unsupportedMediaType)
        }
        await harness.close()
    }

    @Test("413 past the body limit, and for a gzip body that inflates past the inflated limit")
    func oversized() async throws {
        let harness = try await OTLPHarness(label: "otlp-413") {
            $0.limits.maxBodyBytes = 10_000
            $0.otlp.maxInflatedBytes = 50_000
        }
        try await harness.test { client in
            let big = try await client.postOTLP(OTLPFixtures.request(count: 500))
            #expect(big.status == .contentTooLarge)
            #expect(big.rpcStatus?.code == .resourceExhausted)
            // 100 records of 1000 bytes compress well below 10 kB but inflate beyond 50 kB.
            let text = String(repeating: "a", count: 1000)
            let bomb: [UInt8] = try OTLPClient.gzip(
                try OTLPFixtures.request(records: (0..<100).map { _ in OTLPFixtures.record(text) }).serializedBytes())
            #expect(bomb.count < 10_000)
            let inflated = try await client.postOTLP(bomb, encoding: "gzip")
            #expect(inflated.status == .contentTooLarge)
        }
        await harness.close()
    }

    @Test(
        "Kafka down: 503 with Retry-After; a full producer queue: 429 with Retry-After",
        .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func backpressure() async throws {
        let harness = try await OTLPHarness(label: "otlp-503") {
            $0.ackTimeout = .seconds(2)
            $0.queueCapacity = 1
        }
        let broker = try #require(harness.cluster.outage(for: "taking the broker down"))
        try broker.down()
        let (slow, busy) = try await harness.test { client in
            async let first = client.postOTLP(OTLPFixtures.request(count: 1, prefix: "first"))
            try await Task.sleep(for: .milliseconds(300))
            let second = try await client.postOTLP(OTLPFixtures.request(count: 1, prefix: "second"))
            return (try await first, second)
        }
        try broker.up()
        #expect(slow.status == .serviceUnavailable)
        #expect(slow.headers[.retryAfter] == "1")
        #expect(slow.rpcStatus?.code == .unavailable)
        #expect(busy.status == .tooManyRequests)
        #expect(busy.headers[.retryAfter] == "1")
        #expect(busy.rpcStatus?.code == .resourceExhausted)
        await harness.close()
    }
}

import ServiceSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import KafkaTestSupport
import OTLPProto
import SwiftProtobuf
import Testing

@testable import Ingest

/// docs/openapi.json documents every answer of `POST /v1/logs`, with the content type it comes in.
@Suite("OpenAPI document: POST /v1/logs", .timeLimit(.minutes(2)))
struct OTLPOpenAPITests {
    @Test("every status and content type /v1/logs answers is documented")
    func documented() async throws {
        let doc = try OpenAPITests.document()
        let operation = try #require(((doc["paths"] as? [String: Any])?["/v1/logs"] as? [String: Any])?["post"] as? [String: Any])
        let responses = try #require(operation["responses"] as? [String: Any])
        // Status → its documented content types.
        let table: [String: Set<String>] = responses.mapValues { Set((($0 as? [String: Any])?["content"] as? [String: Any] ?? [:]).keys) }
        let harness = try await OTLPHarness(label: "otlp-openapi") {
            $0.limits.maxBodyBytes = 4096
            $0.limits.maxMessageLength = 10
            $0.token = BearerToken("t0ken")!
        }
        let good: [UInt8] = try OTLPFixtures.request(count: 2).serializedBytes()
        let partial: [UInt8] = try OTLPFixtures.request(records: [OTLPFixtures.record("far too long")]).serializedBytes()
        let json = Array(OTLPDecoderTests.json.utf8)
        var badID = OTLPFixtures.request(count: 1)
        badID.resourceLogs[0].scopeLogs[0].logRecords[0].traceID = Data([1, 2, 3])
        let probes: [(body: [UInt8], contentType: String?, encoding: String?, token: String?)] = [
            (good, "application/x-protobuf", nil, "t0ken"),
            (partial, "application/x-protobuf", nil, "t0ken"),
            (json, "application/json", nil, "t0ken"),
            (try OTLPClient.gzip(good), "application/x-protobuf", "gzip", "t0ken"),
            ([0xFF, 0xFF], "application/x-protobuf", nil, "t0ken"),
            (Array("{".utf8), "application/json", nil, "t0ken"),
            (try badID.serializedBytes(), "application/x-protobuf", nil, "t0ken"),
            (good, "text/plain", nil, "t0ken"),
            (good, "application/x-protobuf", "br", "t0ken"),
            (Array(repeating: 0x20, count: 5000), "application/json", nil, "t0ken"),
            (good, "application/x-protobuf", nil, nil),
        ]
        try await harness.test { client in
            for probe in probes {
                var headers: HTTPFields = [:]
                if let contentType = probe.contentType { headers[.contentType] = contentType }
                if let encoding = probe.encoding { headers[.contentEncoding] = encoding }
                if let token = probe.token { headers[.authorization] = "Bearer \(token)" }
                let response = try await client.execute(uri: "/v1/logs", method: .post, headers: headers, body: ByteBuffer(bytes: probe.body))
                let types = table["\(response.status.code)"]
                #expect(types != nil, "\(probe.contentType ?? "-") answered \(response.status.code), not documented")
                let type = response.headers[.contentType].map { String($0.split(separator: ";").first ?? "") } ?? ""
                #expect(types?.contains(type) == true, "\(response.status.code) came as \(type), documented \(types ?? [])")
            }
        }
        await harness.close()
    }
}

import PacketModel
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing

@testable import Ingest

/// One malformed request from `hostile-corpus.json` and the answer ingest must give it.
///
/// The body is `body` (text, sent as its UTF-8), `bodyBase64` (raw bytes, for invalid UTF-8), or `generate`:
/// `"oversize"` builds a packet-shaped body of the limit + 1 bytes, too big to check in. `field` is compared when
/// the case has the key at all; `"field": null` asserts the error names no field.
struct HostileCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var method: String
    var path: String
    var headers: [String: String]
    var body: String?
    var bodyBase64: String?
    var generate: String?
    var status: Int
    var error: String
    var field: String?
    /// Whether the case states `field` (possibly as null).
    var checksField: Bool

    var testDescription: String { name }

    private enum CodingKeys: String, CodingKey {
        case name, method, path, headers, body, bodyBase64, generate, status, error, field
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        method = try container.decode(String.self, forKey: .method)
        path = try container.decode(String.self, forKey: .path)
        headers = try container.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        body = try container.decodeIfPresent(String.self, forKey: .body)
        bodyBase64 = try container.decodeIfPresent(String.self, forKey: .bodyBase64)
        generate = try container.decodeIfPresent(String.self, forKey: .generate)
        status = try container.decode(Int.self, forKey: .status)
        error = try container.decode(String.self, forKey: .error)
        field = try container.decodeIfPresent(String.self, forKey: .field)
        checksField = container.contains(.field)
    }

    /// The Content-Type header, looked up without regard to case; nil sends none.
    var contentType: String? {
        headers.first { $0.key.lowercased() == "content-type" }?.value
    }

    /// The request body's bytes; nil when the case does not say how to build them.
    func bytes(limits: PacketLimits) -> [UInt8]? {
        switch (body, bodyBase64, generate) {
        case (let text?, .none, .none):
            return Array(text.utf8)
        case (.none, let encoded?, .none):
            return Data(base64Encoded: encoded).map { Array($0) }
        case (.none, .none, "oversize"?):
            let head = Array(#"{"id":"oversize","messages":[{"level":"INFO","message":""#.utf8)
            let tail = Array(#""}]}"#.utf8)
            let padding = limits.maxBodyBytes + 1 - head.count - tail.count
            return head + [UInt8](repeating: UInt8(ascii: "x"), count: padding) + tail
        default:
            return nil
        }
    }
}

@Suite("Hostile input corpus", .timeLimit(.minutes(2)))
struct HostileCorpusTests {
    static let corpusURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("hostile-corpus.json")

    static func loadCorpus() throws -> [HostileCase] {
        try JSONDecoder().decode([HostileCase].self, from: Data(contentsOf: corpusURL))
    }

    /// The statuses each error code may come with (ValidationError's table plus the HTTP layer's 415 and 413).
    static let statusesByError: [String: Set<Int>] = [
        "empty_body": [400], "malformed_json": [400], "invalid_utf8": [400], "duplicate_key": [400],
        "too_deep": [400], "missing_field": [422], "wrong_type": [422], "invalid_value": [422],
        "too_many_messages": [422], "empty_batch": [422], "too_large": [413, 422], "unsupported_media_type": [415],
    ]

    static let routes: Set<String> = ["/v1/packets", "/v1/packets:batch", "/distributor/packet"]

    @Test("the corpus is well-formed: unique names, one body each, known routes, statuses that match their errors")
    func corpusIsWellFormed() throws {
        let cases = try Self.loadCorpus()
        #expect(cases.count >= 40)
        #expect(Set(cases.map(\.name)).count == cases.count, "case names must be unique")
        for case_ in cases {
            #expect(case_.method == "POST", "\(case_.name): only POST cases are supported")
            #expect(Self.routes.contains(case_.path), "\(case_.name): unknown route \(case_.path)")
            #expect(
                case_.headers.keys.allSatisfy { $0.lowercased() == "content-type" },
                "\(case_.name): only Content-Type can be set")
            #expect(case_.bytes(limits: PacketLimits()) != nil, "\(case_.name): needs one of body, bodyBase64, generate")
            #expect(
                Self.statusesByError[case_.error]?.contains(case_.status) == true,
                "\(case_.name): \(case_.error) does not go with \(case_.status)")
        }
    }

    @Test("every malformed request gets its status, error and field, and none reaches Kafka")
    func corpusIsRefused() async throws {
        let cases = try Self.loadCorpus()
        try #require(cases.count >= 40)
        let limits = PacketLimits()
        let harness = try await IngestHarness(label: "ingest-hostile", limits: limits)
        try await harness.test { client in
            for case_ in cases {
                guard let bytes = case_.bytes(limits: limits) else {
                    Issue.record("\(case_.name): no body")
                    continue
                }
                let response = try await client.post(case_.path, bytes: bytes, contentType: case_.contentType)
                let json = response.json
                #expect(Int(response.status.code) == case_.status, "\(case_.name): \(response.text)")
                #expect(response.headers[.contentType] == "application/json", "\(case_.name)")
                #expect(json["error"] as? String == case_.error, "\(case_.name): \(response.text)")
                if case_.checksField {
                    #expect(json["field"] as? String == case_.field, "\(case_.name): \(response.text)")
                }
                #expect((json["detail"] as? String)?.isEmpty == false, "\(case_.name): \(response.text)")
            }
            // A control packet proves the topic is readable, so an empty read below means nothing got in.
            let control = try await client.post("/v1/packets", body: packetJSON(id: "hostile-control"))
            #expect(control.status == .accepted, "control packet: \(control.text)")
        }
        let inKafka = try await harness.packetsInKafka(expected: 2, timeout: .seconds(3))
        let keys = inKafka.map { String(decoding: $0.key ?? [], as: UTF8.self) }
        #expect(keys == ["hostile-control"], "the packets topic must hold only the control packet, found \(keys)")
        await harness.close()
    }
}

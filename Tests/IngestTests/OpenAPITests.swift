import PacketModel
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing

@testable import Ingest

/// Keeps docs/openapi.json true: every documented route exists, and every status the routes answer is documented.
@Suite("OpenAPI document", .timeLimit(.minutes(2)))
struct OpenAPITests {
    static func document() throws -> [String: Any] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("docs/openapi.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func documentedStatuses(_ doc: [String: Any], path: String, method: String) -> Set<Int> {
        let paths = doc["paths"] as? [String: Any] ?? [:]
        let operation = (paths[path] as? [String: Any])?[method] as? [String: Any]
        let responses = operation?["responses"] as? [String: Any] ?? [:]
        return Set(responses.keys.compactMap(Int.init))
    }

    @Test("the document is OpenAPI 3.1 and lists exactly the service's routes")
    func routesMatch() throws {
        let doc = try Self.document()
        #expect(doc["openapi"] as? String == "3.1.0")
        let paths = Set((doc["paths"] as? [String: Any] ?? [:]).keys)
        #expect(paths == ["/v1/packets", "/v1/packets:batch", "/distributor/packet", "/v1/logs", "/health/live", "/health/ready", "/metrics"])
    }

    @Test("every status the routes answer is documented for that route")
    func statusesDocumented() async throws {
        let doc = try Self.document()
        var documented: [String: Set<Int>] = [:]
        for path in ["/v1/packets", "/v1/packets:batch", "/distributor/packet"] {
            documented[path] = Self.documentedStatuses(doc, path: path, method: "post")
        }
        for path in ["/health/live", "/health/ready", "/metrics"] {
            documented[path] = Self.documentedStatuses(doc, path: path, method: "get")
        }
        let table = documented
        var limits = PacketLimits()
        limits.maxBodyBytes = 2048
        let harness = try await IngestHarness(label: "openapi", token: "t0ken", limits: limits)
        let good = packetJSON(id: "o-1")
        let probes: [(path: String, body: String, contentType: String?, token: String?)] = [
            ("/v1/packets", good, "application/json", "t0ken"),
            ("/v1/packets", "{", "application/json", "t0ken"),
            ("/v1/packets", #"{"id":"a","messages":[]}"#, "application/json", "t0ken"),
            ("/v1/packets", good, "text/plain", "t0ken"),
            ("/v1/packets", String(repeating: " ", count: 4096) + good, "application/json", "t0ken"),
            ("/v1/packets", good, "application/json", nil),
            ("/v1/packets:batch", good + "\n" + good, "application/x-ndjson", "t0ken"),
            ("/v1/packets:batch?partial=true", good + "\n{", "application/x-ndjson", "t0ken"),
            ("/v1/packets:batch", "[]", "application/json", "t0ken"),
            ("/v1/packets:batch", good, "text/csv", "t0ken"),
            ("/distributor/packet", good, "application/json", "t0ken"),
            ("/distributor/packet", #"{"id":1}"#, "application/json", "t0ken"),
            ("/distributor/packet", good, "application/json", "wrong"),
        ]
        try await harness.test { client in
            for probe in probes {
                let response = try await client.post(probe.path, body: probe.body, contentType: probe.contentType, token: probe.token)
                let path = String(probe.path.split(separator: "?").first!)
                #expect(table[path, default: []].contains(Int(response.status.code)), "\(probe.path) answered \(response.status.code), not documented")
            }
            for path in ["/health/live", "/health/ready", "/metrics"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(table[path, default: []].contains(Int(response.status.code)))
            }
        }
        await harness.close()
    }
}

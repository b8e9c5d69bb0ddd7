import PacketModel
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing

@testable import Ingest

@Suite("Ingest routes", .timeLimit(.minutes(2)))
struct IngestRouteTests {
    @Test("single, batch and logdistributor packets land in Kafka byte-identical, keyed by id, with the ingest time")
    func packetsLandByteIdentical() async throws {
        let harness = try await IngestHarness(label: "ingest-ok")
        let single = packetJSON(id: "p-1", extra: #","unknown":{"nested":[1,2,{"x":null}]}"#)
        let legacy = packetJSON(id: "p-2", level: "warn")
        let ndjson = [packetJSON(id: "p-3"), packetJSON(id: "p-4"), packetJSON(id: #"p-\u0037"#)].joined(separator: "\n") + "\n"
        let array = "[ " + [packetJSON(id: "p-5"), packetJSON(id: "p-6", message: "caf\\u00e9 ☕")].joined(separator: " ,\n ") + " ]"
        let before = epochMilliseconds()
        try await harness.test { client in
            let r1 = try await client.post("/v1/packets", body: single)
            #expect(r1.status == .accepted)
            #expect(r1.text == #"{"accepted":1}"#)
            #expect(try await client.post("/distributor/packet", body: legacy).status == .accepted)
            let r3 = try await client.post("/v1/packets:batch", body: ndjson, contentType: "application/x-ndjson")
            #expect(r3.status == .accepted)
            #expect(r3.json["accepted"] as? Int == 3)
            let r4 = try await client.post("/v1/packets:batch", body: array, contentType: "application/json; charset=utf-8")
            #expect(r4.status == .accepted)
        }
        let messages = try await harness.packetsInKafka(expected: 7)
        #expect(messages.count == 7)
        let byID = Dictionary(uniqueKeysWithValues: messages.map { (String(decoding: $0.key ?? [], as: UTF8.self), $0) })
        #expect(byID["p-1"]?.value == Array(single.utf8))
        #expect(byID["p-2"]?.value == Array(legacy.utf8))
        #expect(byID["p-3"]?.value == Array(packetJSON(id: "p-3").utf8))
        #expect(byID["p-6"]?.value == Array(packetJSON(id: "p-6", message: "caf\\u00e9 ☕").utf8))
        // An escaped id is the key unescaped; the value keeps the bytes as sent.
        #expect(byID["p-7"]?.value == Array(packetJSON(id: #"p-\u0037"#).utf8))
        for message in messages {
            let ingestTime = HeaderNames.integer(message.header(HeaderNames.ingestTime))
            #expect(ingestTime != nil && ingestTime! >= before)
        }
        await harness.close()
    }

    static let badInputs: [(name: String, uri: String, body: String, contentType: String?, status: Int, error: String, field: String?)] = [
        ("malformed JSON", "/v1/packets", #"{"id":"a","messages":[{"level":"INFO","message":"x"}"#, "application/json", 400, "malformed_json", "messages[0]"),
        ("wrong type", "/v1/packets", #"{"id":7,"messages":[{"level":"INFO","message":"x"}]}"#, "application/json", 422, "wrong_type", "id"),
        ("missing id", "/v1/packets", #"{"messages":[{"level":"INFO","message":"x"}]}"#, "application/json", 422, "missing_field", "id"),
        ("empty messages", "/v1/packets", #"{"id":"a","messages":[]}"#, "application/json", 422, "invalid_value", "messages"),
        ("unknown level", "/v1/packets", #"{"id":"a","messages":[{"level":"LOUD","message":"x"}]}"#, "application/json", 422, "invalid_value", "messages[0].level"),
        ("duplicate keys", "/v1/packets", #"{"id":"a","id":"b","messages":[{"level":"INFO","message":"x"}]}"#, "application/json", 400, "duplicate_key", "id"),
        ("empty body", "/v1/packets", "", "application/json", 400, "empty_body", nil),
        ("wrong content type", "/v1/packets", packetJSON(id: "a"), "text/plain", 415, "unsupported_media_type", "Content-Type"),
        ("no content type", "/v1/packets", packetJSON(id: "a"), nil, 415, "unsupported_media_type", "Content-Type"),
        ("bad item in a batch: all or nothing", "/v1/packets:batch", packetJSON(id: "a") + "\n" + #"{"id":"b","messages":[{"level":"NOPE","message":"x"}]}"#, "application/x-ndjson", 422, "invalid_value", "[1].messages[0].level"),
        ("legacy route, missing messages", "/distributor/packet", #"{"id":"a"}"#, "application/json", 422, "missing_field", "messages"),
    ]

    @Test("each bad-input class gets its status and error body", arguments: 0..<badInputs.count)
    func badInput(_ index: Int) async throws {
        let case_ = Self.badInputs[index]
        let harness = try await IngestHarness(label: "ingest-bad-\(index)")
        try await harness.test { client in
            let response = try await client.post(case_.uri, body: case_.body, contentType: case_.contentType)
            #expect(Int(response.status.code) == case_.status, "\(case_.name): \(response.text)")
            #expect(response.headers[.contentType] == "application/json")
            let json = response.json
            #expect(json["error"] as? String == case_.error, "\(case_.name): \(response.text)")
            #expect(json["field"] as? String == case_.field, "\(case_.name): \(response.text)")
            #expect((json["detail"] as? String)?.isEmpty == false)
        }
        let inKafka = try await harness.packetsInKafka(expected: 1, timeout: .seconds(1))
        #expect(inKafka.isEmpty, "\(case_.name): a rejected request wrote to Kafka")
        await harness.close()
    }

    @Test("oversized body, too many messages, invalid UTF-8 and deep nesting are refused")
    func limits() async throws {
        var limits = PacketLimits()
        limits.maxBodyBytes = 4096
        limits.maxMessages = 3
        let harness = try await IngestHarness(label: "ingest-limits", limits: limits)
        try await harness.test { client in
            let big = packetJSON(id: "a", message: String(repeating: "x", count: 5000))
            let r1 = try await client.post("/v1/packets", body: big)
            #expect(r1.status == .contentTooLarge)
            #expect(r1.json["error"] as? String == "too_large")

            let four = #"{"id":"a","messages":["# + Array(repeating: #"{"level":"INFO","message":"x"}"#, count: 4).joined(separator: ",") + "]}"
            let r2 = try await client.post("/v1/packets", body: four)
            #expect(r2.status.code == 422)
            #expect(r2.json["error"] as? String == "too_many_messages")

            var invalid = Array(#"{"id":"a","messages":[{"level":"INFO","message":"bad "#.utf8)
            invalid += [0xC3, 0x28]
            invalid += Array(#""}]}"#.utf8)
            let r3 = try await client.post("/v1/packets", bytes: invalid)
            #expect(r3.status == .badRequest)
            #expect(r3.json["error"] as? String == "invalid_utf8")

            let deep = #"{"id":"a","messages":[{"level":"INFO","message":"x","attributes":"# + String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100) + "}]}"
            let r4 = try await client.post("/v1/packets", body: deep)
            #expect(r4.status == .badRequest)
            #expect(r4.json["error"] as? String == "too_deep")
        }
        await harness.close()
    }

    @Test("?partial=true answers per item and writes the good ones: 422 when any was invalid, else 200")
    func partialBatch() async throws {
        let harness = try await IngestHarness(label: "ingest-partial")
        let body = [packetJSON(id: "ok-1"), #"{"id":"bad","messages":[]}"#, packetJSON(id: "ok-2")].joined(separator: "\n")
        try await harness.test { client in
            let clean = try await client.post(
                "/v1/packets:batch?partial=true", body: packetJSON(id: "ok-0"), contentType: "application/x-ndjson")
            #expect(clean.status == .ok)
            #expect(clean.json["accepted"] as? Int == 1)
            let response = try await client.post("/v1/packets:batch?partial=true", body: body, contentType: "application/x-ndjson")
            #expect(response.status == .unprocessableContent)
            let json = response.json
            #expect(json["accepted"] as? Int == 2)
            #expect(json["rejected"] as? Int == 1)
            let results = json["results"] as? [[String: Any]] ?? []
            #expect(results.map { $0["status"] as? Int } == [202, 422, 202])
            #expect(results[1]["field"] as? String == "[1].messages")
        }
        let messages = try await harness.packetsInKafka(expected: 3)
        #expect(Set(messages.map { String(decoding: $0.key ?? [], as: UTF8.self) }) == ["ok-0", "ok-1", "ok-2"])
        await harness.close()
    }

    @Test("a route asked with a method it does not serve answers 405 with Allow; an unknown path 404")
    func methodNotAllowed() async throws {
        let harness = try await IngestHarness(label: "ingest-405")
        try await harness.test { client in
            for (uri, method, allow) in [
                ("/v1/packets", HTTPRequest.Method.put, "POST"), ("/v1/packets", .get, "POST"),
                ("/v1/packets:batch", .delete, "POST"), ("/metrics", .post, "GET"), ("/health/ready", .patch, "GET"),
            ] {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .methodNotAllowed, "\(method) \(uri)")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                #expect(response.json["error"] as? String == "method_not_allowed")
            }
            let missing = try await client.execute(uri: "/v1/nothing", method: .get)
            #expect(missing.status == .notFound)
        }
        await harness.close()
    }

    @Test("with a token, every ingest route refuses requests without it, and health and metrics stay open")
    func bearerToken() async throws {
        let harness = try await IngestHarness(label: "ingest-auth", token: "s3cret-token")
        try await harness.test { client in
            for uri in ["/v1/packets", "/v1/packets:batch", "/distributor/packet"] {
                let denied = try await client.post(uri, body: packetJSON(id: "a"))
                #expect(denied.status == .unauthorized)
                #expect(denied.json["error"] as? String == "unauthorized")
                #expect(!denied.text.contains("s3cret"))
                let wrong = try await client.post(uri, body: packetJSON(id: "a"), token: "s3cret-tokeN")
                #expect(wrong.status == .unauthorized)
            }
            let ok = try await client.post("/v1/packets", body: packetJSON(id: "a"), token: "s3cret-token")
            #expect(ok.status == .accepted)
            #expect(try await client.execute(uri: "/health/live", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
        }
        await harness.close()
    }

    @Test("metrics and readiness")
    func metricsAndHealth() async throws {
        let harness = try await IngestHarness(label: "ingest-metrics")
        try await harness.test { client in
            _ = try await client.post("/v1/packets", body: packetJSON(id: "m-1"))
            _ = try await client.post("/v1/packets", body: "{")
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .ok)
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"logdist_ingest_requests_total{route="/v1/packets",status="202"} 1"#))
            #expect(metrics.contains(#"logdist_ingest_requests_total{route="/v1/packets",status="400"} 1"#))
            #expect(metrics.contains("logdist_ingest_packets_accepted_total 1"))
            #expect(metrics.contains(#"logdist_ingest_packets_rejected_total{error="malformed_json"} 1"#))
            #expect(metrics.contains("logdist_ingest_produce_ack_seconds_bucket"))
            #expect(metrics.contains("logdist_ingest_producer_queue_depth_messages"))
        }
        await harness.close()
    }
}

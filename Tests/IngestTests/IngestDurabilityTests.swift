import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Synchronization
import Testing

@testable import Ingest

@Suite("Ingest durability", .timeLimit(.minutes(3)))
struct IngestDurabilityTests {
    @Test("broker down → 503 with Retry-After within the deadline; 202 again after recovery; every 202 is in Kafka", .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func brokerDown() async throws {
        let harness = try await IngestHarness(label: "ingest-down", ackTimeout: .seconds(2))
        guard let broker = harness.cluster.outage(for: "taking the broker down") else { return }
        let accepted = Mutex<[String]>([])
        try await harness.test { client in
            #expect(try await client.post("/v1/packets", body: packetJSON(id: "before")).status == .accepted)
            accepted.withLock { $0.append("before") }
            try broker.down()
            let started = ContinuousClock.now
            let during = try await client.post("/v1/packets", body: packetJSON(id: "during"))
            let elapsed = ContinuousClock.now - started
            #expect(during.status == .serviceUnavailable)
            #expect(during.headers[.retryAfter] != nil)
            #expect(during.json["error"] as? String == "unavailable")
            // The deadline is 2 s; librdkafka checks message timeouts once a second, plus scheduling slack.
            #expect(elapsed < .seconds(5))
            try broker.up()
            var recovered = false
            let deadline = ContinuousClock.now.advanced(by: .seconds(20))
            var attempt = 0
            while !recovered, ContinuousClock.now < deadline {
                attempt += 1
                let id = "after-\(attempt)"
                if try await client.post("/v1/packets", body: packetJSON(id: id)).status == .accepted {
                    accepted.withLock { $0.append(id) }
                    recovered = true
                }
            }
            #expect(recovered)
        }
        let ids = accepted.withLock { $0 }
        let inKafka = Set(try await harness.packetsInKafka(expected: ids.count + 1, timeout: .seconds(5)).map {
            String(decoding: $0.key ?? [], as: UTF8.self)
        })
        for id in ids { #expect(inKafka.contains(id), "\(id) got a 202 but is not in Kafka") }
        await harness.close()
    }

    @Test("64 concurrent clients lose nothing")
    func concurrentClients() async throws {
        let harness = try await IngestHarness(label: "ingest-concurrent")
        let perClient = 40
        let accepted = try await harness.test { client in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for c in 0..<64 {
                    group.addTask {
                        var ok = 0
                        for i in 0..<perClient {
                            let useBatch = i % 4 == 0
                            if useBatch {
                                let body = packetJSON(id: "c\(c)-\(i)-a") + "\n" + packetJSON(id: "c\(c)-\(i)-b")
                                let r = try await client.post("/v1/packets:batch", body: body, contentType: "application/x-ndjson")
                                if r.status == .accepted { ok += 2 }
                            } else {
                                let r = try await client.post("/v1/packets", body: packetJSON(id: "c\(c)-\(i)"))
                                if r.status == .accepted { ok += 1 }
                            }
                        }
                        return ok
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        let expected = 64 * (perClient + perClient / 4)
        #expect(accepted == expected)
        let messages = try await harness.packetsInKafka(expected: expected)
        #expect(messages.count == expected)
        #expect(Set(messages.map { $0.key ?? [] }).count == expected)
        await harness.close()
    }
}

import Analyser
import AsyncHTTPClient
import LogdistBasics
import PacketModel
import Operations
import Foundation
import KafkaTestSupport
import Testing

/// A client's retry — the same packet posted again after a timeout or a 503 — is analysed once, whichever analyser
/// the weights would pick for it, through restarts of the dispatcher.
@Suite("Client retries are analysed once", .timeLimit(.minutes(4)))
struct RetryTests {
    /// Every packet is posted, then posted again after three others: under weighted round-robin 1:2:3 the copy
    /// would mostly go to another analyser than the first (each analyser dedupes only what it sees).
    static func interleaved(_ ids: [String]) -> [String] {
        var order: [String] = []
        for (index, id) in ids.enumerated() {
            order.append(id)
            if index >= 3 { order.append(ids[index - 3]) }
        }
        order += ids.suffix(3)
        return order
    }

    @Test("retries spread over analysers, with dispatcher restarts between them: every id analysed once")
    func retriesAcrossRestarts() async throws {
        let (cluster, topics, analysers) = try await AnalyserFleet.make(label: "retry", namespace: "retry")
        let boot = cluster.kafka.bootstrapServers
        let ingestPort = freeLoopbackPort()
        let ingest = try ChildProcess(
            ["ingest", "--bootstrap", boot, "--namespace", topics.namespace, "--port", "\(ingestPort)", "--log-level", "warning"],
            name: "retry-ingest")
        defer { ingest.terminate() }
        let dispatcherPort = freeLoopbackPort()
        @Sendable func dispatcher(_ name: String, extra: [String] = []) throws -> ChildProcess {
            try ChildProcess(
                [
                    "dispatch", "--bootstrap", boot, "--namespace", topics.namespace, "--port", "\(dispatcherPort)",
                    "--instance-id", "retry-test", "--session-timeout-ms", "6000", "--log-level", "warning",
                ] + extra, name: name)
        }
        try await ServiceRunner.with(analysers.flatMap { $0.services() }, logger: cluster.logger) {
            #expect(await eventually(timeout: .seconds(60)) { await Self.status("http://127.0.0.1:\(ingestPort)/health/ready") == 200 })
            var running = try dispatcher("retry-dispatcher-1")
            defer { running.terminate() }
            let client = PacketPoster(port: ingestPort)
            var all: [String] = []
            var posted = 0

            // Round 1: 120 packets, each retried after three others.
            let first = (0..<120).map { "r1-\($0)" }
            posted += try await client.post(Self.interleaved(first))
            all += first
            #expect(await Self.analysedOnce(first, analysers: analysers), "round 1 not analysed")

            // A graceful restart, then round 2: retries of round 1 again, and new packets with their retries.
            running.terminate()
            running = try dispatcher("retry-dispatcher-2")
            let second = (0..<120).map { "r2-\($0)" }
            posted += try await client.post(Self.interleaved(first.shuffled() + second))
            all += second
            #expect(await Self.analysedOnce(all, analysers: analysers), "round 2 not analysed")

            // A kill on a real cluster (exactly-once), a graceful stop on the embedded broker (at-least-once: a
            // killed dispatcher may route its last batch again). The new instance reads its windows back.
            if cluster.isReal { running.kill() } else { running.terminate() }
            running = try dispatcher("retry-dispatcher-3")
            posted += try await client.post(Self.interleaved((first + second).shuffled()))
            // Wait until the retries of round 3 have been read (dropped or routed) before counting.
            #expect(await eventually(timeout: .seconds(60)) { await Self.dispatcherLag(topics, cluster: cluster) == 0 })

            var counts: [String: Int] = [:]
            for analyser in analysers { counts.merge(analyser.analysedIDs(), uniquingKeysWith: +) }
            let twice = counts.filter { $0.value > 1 }
            print("retry test: posted \(posted) for \(all.count) ids, analysed \(counts.count) ids, \(twice.count) more than once")
            #expect(counts.count == all.count)
            #expect(twice.isEmpty, "analysed more than once: \(twice.keys.sorted().prefix(10))")
            #expect(Set(counts.keys) == Set(all))
            // Each analyser got its share: the retry filter did not bend the weights.
            let perAnalyser = analysers.map { $0.analysedIDs().count }
            #expect(perAnalyser[0] > 0 && perAnalyser[2] > perAnalyser[0], "\(perAnalyser)")

            // The control: the same traffic with the window off does reach analysers twice — the test can fail.
            running.terminate()
            running = try dispatcher("retry-dispatcher-off", extra: ["--retry-window", "0"])
            let control = (0..<60).map { "c-\($0)" }
            _ = try await client.post(Self.interleaved(control))
            #expect(await eventually(timeout: .seconds(60)) { await Self.dispatcherLag(topics, cluster: cluster) == 0 })
            try await Task.sleep(for: .seconds(1))
            var controlCounts: [String: Int] = [:]
            for analyser in analysers {
                for (id, n) in analyser.analysedIDs() where id.hasPrefix("c-") { controlCounts[id, default: 0] += n }
            }
            let controlTwice = controlCounts.values.filter { $0 > 1 }.count
            print("retry test, window off: \(controlTwice) of \(control.count) ids analysed twice")
            #expect(controlTwice > 0)
        }
    }

    static func analysedOnce(_ ids: [String], analysers: [AnalyserService]) async -> Bool {
        await eventually(timeout: .seconds(60), every: .milliseconds(200)) {
            var seen = Set<String>()
            for analyser in analysers { seen.formUnion(analyser.analysedIDs().keys) }
            return ids.allSatisfy(seen.contains)
        }
    }

    /// The dispatcher group's lag over the packets topic (committed against end offsets).
    static func dispatcherLag(_ topics: Topics, cluster: TestCluster) async -> Int64? {
        guard let inspector = try? LagInspector(kafka: cluster.kafka, topics: topics, logger: cluster.logger) else { return nil }
        let report = try? await inspector.report()
        await inspector.close()
        return report?.dispatcher.totalLag
    }

    @Test("a retry window beyond its bound is refused at start with the bound named")
    func windowBound() async throws {
        let child = try ChildProcess(
            ["dispatch", "--bootstrap", "127.0.0.1:1", "--namespace", "retry-bound", "--port", "0", "--retry-window", "10000001"],
            name: "retry-bound")
        defer { child.terminate() }
        let exited = await eventually(timeout: .seconds(30)) { !child.isRunning }
        #expect(exited, "still running: \(child.output.suffix(2000))")
        if exited { #expect(child.process.terminationStatus != 0) }
        #expect(child.output.contains("--retry-window (10000001) must be 0 to 10000000"), "\(child.output.suffix(2000))")
    }

    static func status(_ url: String) async -> Int? {
        (try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2))).map { Int($0.status.code) }
    }
}

/// Posts packets one request each, as an emitter does, retrying a 503 after its Retry-After.
struct PacketPoster {
    let port: Int

    /// Posts every id (in order); returns how many requests were accepted.
    func post(_ ids: [String]) async throws -> Int {
        var accepted = 0
        for id in ids {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/packets")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(Array(#"{"id":"\#(id)","source":"retry","messages":[{"level":"INFO","message":"m \#(id)"}]}"#.utf8))
            for _ in 0..<20 {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                if response.status == .accepted {
                    accepted += 1
                    break
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        return accepted
    }
}

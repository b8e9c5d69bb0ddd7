import Operations
import AsyncHTTPClient
import LogdistBasics
import KafkaClient
import PacketModel
import Foundation
import KafkaTestSupport
import Testing

@Suite("Graceful shutdown", .timeLimit(.minutes(2)))
struct GracefulShutdownTests {
    @Test("ingest on SIGTERM finishes in-flight requests, flushes the producer and exits 0; every 202 is in Kafka")
    func ingestSIGTERM() async throws {
        let cluster = try TestCluster(label: "sigterm")
        let topics = Topics(namespace: cluster.namespace("sigterm"))
        try await cluster.create(topics.specs(packetPartitions: 1, analyserSlots: 1))
        let port = freeLoopbackPort()
        let ingest = try ChildProcess(
            ["ingest", "--bootstrap", cluster.kafka.bootstrapServers, "--namespace", topics.namespace, "--port", "\(port)", "--linger-ms", "50"],
            name: "ingest-sigterm")
        #expect(await eventually {
            let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/ready"), timeout: .seconds(2))
            return response?.status == .ok
        })
        let accepted = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<40 {
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/packets")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(.init(string: #"{"id":"g-\#(i)","messages":[{"level":"INFO","message":"x"}]}"#))
                    let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10))
                    return response?.status == .accepted ? "g-\(i)" : nil
                }
            }
            // SIGTERM while requests are in flight (linger 50 ms keeps them waiting for their acknowledgement).
            try await Task.sleep(for: .milliseconds(20))
            kill(ingest.process.processIdentifier, SIGTERM)
            var ids: [String] = []
            for try await id in group { if let id { ids.append(id) } }
            return ids
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                ingest.process.waitUntilExit()
                continuation.resume()
            }
        }
        #expect(ingest.process.terminationStatus == 0, "\(ingest.output)")
        #expect(ingest.output.contains("producer flushed"))
        let inKafka = Set(try await cluster.readAll([TopicPartition(topics.packets, 0)], count: accepted.count, timeout: .seconds(10))
            .map { String(decoding: $0.key ?? [], as: UTF8.self) })
        for id in accepted { #expect(inKafka.contains(id), "\(id) got a 202 but is not in Kafka") }
    }

    @Test("with the broker gone, ingest, dispatcher and analyser still exit promptly on SIGTERM", .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func sigtermWithBrokerDown() async throws {
        let cluster = try TestCluster(label: "sigterm-down")
        guard let broker = cluster.outage(for: "taking the broker down") else { return }
        let topics = Topics(namespace: cluster.namespace("sigdown"))
        try await cluster.create(topics.specs(packetPartitions: 2, analyserSlots: 2))
        let boot = cluster.kafka.bootstrapServers
        let ns = topics.namespace
        let ports = (ingest: freeLoopbackPort(), dispatcher: freeLoopbackPort(), analyser: freeLoopbackPort())
        let children = [
            try ChildProcess(["ingest", "--bootstrap", boot, "--namespace", ns, "--port", "\(ports.ingest)"], name: "down-ingest"),
            try ChildProcess(
                ["analyse", "--bootstrap", boot, "--namespace", ns, "--id", "a1", "--partition", "0", "--port", "\(ports.analyser)"],
                name: "down-analyser"),
            try ChildProcess(
                ["dispatch", "--bootstrap", boot, "--namespace", ns, "--port", "\(ports.dispatcher)", "--instance-id", "d1"],
                name: "down-dispatcher"),
        ]
        for port in [ports.ingest, ports.dispatcher, ports.analyser] {
            #expect(await eventually(timeout: .seconds(30)) {
                let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/live"), timeout: .seconds(2))
                return response?.status == .ok
            })
        }
        // Let the dispatcher join its group and start its health loop, then take the broker away.
        try await Task.sleep(for: .seconds(3))
        try broker.down()
        try await Task.sleep(for: .seconds(3))
        let started = ContinuousClock.now
        for child in children { kill(child.process.processIdentifier, SIGTERM) }
        for child in children {
            let exited = await eventually(timeout: .seconds(25)) { !child.isRunning }
            #expect(exited, "still running 25 s after SIGTERM: \(child.logURL.path)")
            if !exited { child.kill() }
        }
        print("all exited \(ContinuousClock.now - started) after SIGTERM with the broker down")
        try broker.up()
    }
}

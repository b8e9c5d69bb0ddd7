import AsyncHTTPClient
import Foundation
import KafkaTestSupport
import Testing

/// Every service started at once against a cluster that has none of logdist's topics: whoever comes first creates
/// them, the others wait for leaders and coordinators, and the pipeline delivers without any restart.
@Suite("Empty cluster, all services at once", .timeLimit(.minutes(3)))
struct EmptyClusterTests {
    @Test(
        "ingest, dispatcher and three analysers started together on an empty namespace come up by themselves",
        .enabled(if: TestNeeds.realCluster, "creating topics from services needs a real cluster (the embedded broker has no CreateTopics)"))
    func allAtOnce() async throws {
        let cluster = try TestCluster(label: "empty")
        let ns = cluster.namespace("empty")
        let boot = cluster.kafka.bootstrapServers
        let ingestPort = freeLoopbackPort()
        let dispatcherPort = freeLoopbackPort()
        let analyserPorts = (0..<3).map { _ in freeLoopbackPort() }
        var children: [ChildProcess] = []
        defer { for child in children { child.terminate() } }
        children.append(try ChildProcess(["ingest", "--bootstrap", boot, "--namespace", ns, "--port", "\(ingestPort)"], name: "empty-ingest"))
        children.append(try ChildProcess(
            ["dispatch", "--bootstrap", boot, "--namespace", ns, "--port", "\(dispatcherPort)", "--instance-id", "empty-1"],
            name: "empty-dispatcher"))
        for index in 0..<3 {
            children.append(try ChildProcess(
                [
                    "analyse", "--bootstrap", boot, "--namespace", ns, "--id", "a\(index + 1)", "--partition", "\(index)",
                    "--weight", "\(index + 1)", "--port", "\(analyserPorts[index])",
                ], name: "empty-a\(index + 1)"))
        }
        for port in [ingestPort, dispatcherPort] + analyserPorts {
            let ready = await eventually(timeout: .seconds(90)) { await status("http://127.0.0.1:\(port)/health/ready") == 200 }
            #expect(ready, "port \(port) never ready: \(children.map(\.output).joined(separator: "\n---\n").suffix(4000))")
        }
        for child in children { #expect(child.isRunning, "exited: \(child.output.suffix(2000))") }

        let count = 300
        for i in 0..<count {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(ingestPort)/v1/packets")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(Array(#"{"id":"e-\#(i)","messages":[{"level":"INFO","message":"m \#(i)"}]}"#.utf8))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status == .accepted)
        }
        // Everything analysed, and each analyser's lag reaches 0 and its replay is finished: transaction markers
        // count as read.
        var analysed: Int64 = 0
        let settled = await eventually(timeout: .seconds(60)) {
            var total: Int64 = 0
            for port in analyserPorts {
                guard let stats = await json("http://127.0.0.1:\(port)/v1/stats") else { return false }
                let offsets = stats["offsets"] as? [String: Any]
                let replay = stats["replay"] as? [String: Any]
                guard (offsets?["lag"] as? Int) == 0, replay?["finishedAtMs"] as? Int != nil else { return false }
                total += Int64((stats["analysis"] as? [String: Any])?["packets"] as? Int ?? 0)
            }
            analysed = total
            return total == Int64(count)
        }
        #expect(settled, "analysed \(analysed) of \(count)")
        for child in children {
            let waits = child.output.components(separatedBy: "waiting for Kafka").count - 1
            #expect(waits <= 8, "a condition said more than once per condition: \(child.output.suffix(3000))")
        }
    }

    private func status(_ url: String) async -> Int? {
        (try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2))).map { Int($0.status.code) }
    }

    private func json(_ url: String) async -> [String: Any]? {
        guard let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2)),
            let body = try? await response.body.collect(upTo: 1 << 20)
        else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
    }
}

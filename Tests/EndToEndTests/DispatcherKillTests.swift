import Analyser
import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Logging
import Pipeline
import Testing

@Suite("Dispatcher killed mid-stream", .timeLimit(.minutes(3)))
struct DispatcherKillTests {
    @Test("SIGKILL of a dispatcher process, then a restart: nothing lost; duplicates only on the embedded broker, at most a batch")
    func killAndRestart() async throws {
        let (cluster, topics, analysers) = try await AnalyserFleet.make(label: "kill", namespace: "kill")
        let batchSize = 500
        let dispatcherArguments = [
            "dispatch", "--bootstrap", cluster.kafka.bootstrapServers, "--namespace", topics.namespace, "--port", "0",
            "--instance-id", "kill-test", "--batch-size", "\(batchSize)", "--commit-interval-ms", "50",
            "--session-timeout-ms", "6000", "--log-level", "warning",
        ]
        try await ServiceRunner.with(analysers.flatMap { $0.services() }, logger: cluster.logger) {
            var dispatcher = try ChildProcess(dispatcherArguments, name: "dispatcher-1")
            let feeder = try KafkaProducer(configuration: cluster.producerConfig("kill-feeder"), logger: cluster.logger)
            var ids: [String] = []
            var resumed: Duration?
            var analysedAtKill = 0
            var restarted = ContinuousClock.now
            for round in 0..<20 {
                let chunk = (0..<500).map { "k\(round)-\($0)" }
                ids += chunk
                _ = try await feeder.sendBatch(chunk.map { id in
                    OutgoingMessage(
                        topic: topics.packets, key: Array(id.utf8),
                        value: Array(#"{"id":"\#(id)","messages":[{"level":"INFO","message":"m"}]}"#.utf8))
                }).get()
                try await Task.sleep(for: .milliseconds(150))
                if round == 8 {
                    // Mid-stream: make sure it is routing, then kill it without any chance to commit.
                    _ = await eventually(timeout: .seconds(30)) { analysers.contains { !$0.analysedIDs().isEmpty } }
                    dispatcher.kill()
                    analysedAtKill = analysers.reduce(0) { $0 + $1.analysedIDs().count }
                    restarted = ContinuousClock.now
                    dispatcher = try ChildProcess(dispatcherArguments, name: "dispatcher-2")
                }
                if round == 9 {
                    // Static membership (same --instance-id): the restarted instance takes its partitions back
                    // without waiting out the dead member's session (6 s here).
                    let (before, since) = (analysedAtKill, restarted)
                    resumed = await eventually(timeout: .seconds(60), every: .milliseconds(50)) {
                        analysers.reduce(0) { $0 + $1.analysedIDs().count } >= before + 500
                    } ? ContinuousClock.now - since : nil
                }
            }
            await feeder.close(timeout: .seconds(5))
            let complete = await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
                var seen = Set<String>()
                for analyser in analysers { seen.formUnion(analyser.analysedIDs().keys) }
                return seen.count == ids.count
            }
            var counts: [String: Int] = [:]
            for analyser in analysers { counts.merge(analyser.analysedIDs(), uniquingKeysWith: +) }
            let lost = ids.filter { counts[$0] == nil }.count
            // Counted across analysers: a re-dispatched packet may land on another analyser than the first time.
            let duplicated = counts.values.reduce(0) { $0 + max(0, $1 - 1) }
            print(
                "kill test: accepted \(ids.count), analysed \(counts.count), lost \(lost), duplicated \(duplicated), "
                    + "restarted dispatcher routing again after \(resumed.map { "\($0)" } ?? "never")")
            #expect(resumed != nil)
            #expect(complete, "\(dispatcher.output)")
            #expect(lost == 0)
            if cluster.isReal {
                #expect(duplicated == 0)
            } else {
                #expect(duplicated <= batchSize)
            }
            dispatcher.terminate()
        }
    }
}

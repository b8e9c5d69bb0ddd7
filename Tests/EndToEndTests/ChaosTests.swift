import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Logging
import Pipeline
import Testing

@Suite("Chaos", .timeLimit(.minutes(4)))
struct ChaosTests {
    @Test("processes killed at random and broker faults under load: nothing accepted is lost")
    func shortChaos() async throws {
        guard let binary = LogdistBinary.url else {
            Issue.record("the logdist binary is not built next to the tests")
            return
        }
        var options = ChaosOptions()
        options.duration = .seconds(20)
        options.rate = 250
        options.killEvery = .milliseconds(2500)
        options.faultEvery = .seconds(4)
        options.basePort = freeLoopbackPortBlock(count: 8)
        // Replay a failing run with LOGDIST_TEST_CHAOS_SEED (or `logdist chaos --seed`).
        if let seed = ProcessInfo.processInfo.environment["LOGDIST_TEST_CHAOS_SEED"].flatMap(UInt64.init) { options.seed = seed }
        print("chaos test seed \(options.seed) (replay: LOGDIST_TEST_CHAOS_SEED=\(options.seed))")
        if let bootstrap = TestCluster.externalBootstrap { options.kafka = KafkaConfig(bootstrapServers: bootstrap) }
        var logger = Logger(label: "logdist.test.chaos")
        logger.logLevel = .critical
        let report = try await ChaosRunner(options: options, binary: binary, logger: logger).run { print($0) }
        print(report.text)
        #expect(report.accepted > 1_000)
        #expect(report.lost == 0, "seed \(options.seed)")
        #expect(report.duplicated <= report.duplicateBound)
        #expect(report.kills.values.reduce(0, +) >= 2)
        if options.kafka == nil {
            #expect(report.faults.values.reduce(0, +) >= 2)
        } else {
            #expect(report.duplicated == 0)
        }
    }
}

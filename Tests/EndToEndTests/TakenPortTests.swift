import Operations
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation
import KafkaTestSupport
import Logging
import Pipeline
import Testing

/// A port another process holds ends a service at once, with an error that names the address.
@Suite("Taken ports", .timeLimit(.minutes(2)))
struct TakenPortTests {
    @Test("logdist up with its ingest port taken fails with the address named, instead of hanging")
    func pipelineWithTakenPort() async throws {
        let squatter = ConnectionCounter()
        defer { squatter.stop() }
        var config = PipelineConfig()
        if let bootstrap = TestCluster.externalBootstrap { config.kafka = KafkaConfig(bootstrapServers: bootstrap) }
        config.namespace = "taken-\(UUID().uuidString.prefix(8).lowercased())"
        config.ingestPort = squatter.port
        config.dispatcherPort = 0
        config.analyserBasePort = 0
        var logger = Logger(label: "logdist.test.taken")
        logger.logLevel = .critical
        let pipeline = try Pipeline(config: config, logger: logger)
        let started = ContinuousClock.now
        let error = await #expect(throws: ListenError.self) { try await pipeline.run() }
        #expect(error?.description.contains("127.0.0.1:\(squatter.port)") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test("a service process with its port taken exits non-zero and says which port")
    func processWithTakenPort() async throws {
        let cluster = try TestCluster(label: "taken")
        let squatter = ConnectionCounter()
        defer { squatter.stop() }
        let topics = Topics(namespace: cluster.namespace("taken"))
        try await cluster.create(topics.specs(packetPartitions: 1, analyserSlots: 1))
        let child = try ChildProcess(
            ["ingest", "--bootstrap", cluster.kafka.bootstrapServers, "--namespace", topics.namespace, "--port", "\(squatter.port)"],
            name: "taken-ingest")
        let exited = await eventually(timeout: .seconds(30)) { !child.isRunning }
        #expect(exited, "still running with its port taken: \(child.output.suffix(2000))")
        if exited { #expect(child.process.terminationStatus != 0) }
        #expect(child.output.contains("127.0.0.1:\(squatter.port)"), "\(child.output.suffix(2000))")
        child.terminate()
    }
}

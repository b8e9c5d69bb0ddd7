import Operations
import Analyser
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Dispatcher
import Foundation
import KafkaTestSupport
import Logging
import Pipeline
import Testing

/// The whole pipeline in process on free ports, with helpers to feed it and to read what analysers saw.
struct PipelineHarness: Sendable {
    let pipeline: Pipeline
    let logger: Logger

    init(
        label: String, weights: [Int] = [1, 2, 3], heartbeatTimeout: Duration = .seconds(3),
        commitInterval: Duration = .milliseconds(10), operatorAddresses: Bool = false, weightBy: WeightBy = .packets
    ) throws {
        var logger = Logger(label: "logdist.e2e.\(label)")
        logger.logLevel = ProcessInfo.processInfo.environment["LOGDIST_TEST_LOG"] == "debug" ? .debug : .critical
        self.logger = logger
        var config = PipelineConfig()
        if let bootstrap = TestCluster.externalBootstrap {
            config.kafka = KafkaConfig(bootstrapServers: bootstrap)
        }
        config.namespace = "e2e-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
        config.analysers = weights.enumerated().map { AnalyserSpec(id: "a\($0.offset + 1)", weight: $0.element) }
        // Operator addresses (the dispatcher's --ingest-url and --analyser-url, for load and fail/begin) need the
        // ports before the servers start: free ones, picked now.
        config.ingestPort = operatorAddresses ? freeLoopbackPort() : 0
        config.dispatcherPort = 0
        config.analyserBasePort = operatorAddresses ? freeLoopbackPortBlock(count: weights.count) : 0
        config.recordIDs = true
        config.heartbeatInterval = .milliseconds(200)
        config.heartbeatTimeout = heartbeatTimeout
        config.commitInterval = commitInterval
        config.weightBy = weightBy
        pipeline = try Pipeline(config: config, logger: logger)
    }

    var topics: Topics { pipeline.topics }

    func run<T: Sendable>(_ body: @Sendable (PipelineHarness) async throws -> T) async throws -> T {
        try await pipeline.prepare()
        return try await ServiceRunner.with(pipeline.services(), logger: logger) {
            await pipeline.waitUntilListening()
            return try await body(self)
        }
    }

    /// Waits until the dispatcher sees `count` healthy analysers.
    func waitHealthy(_ count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { pipeline.dispatcher.view().analysers.filter(\.status.healthy).count == count }
    }

    /// Produces packets straight to the packets topic (as ingest would), ids `prefix-0…`, `chunk` at a time (each
    /// stamped with its own ingest time), pausing `pause` after each acknowledged chunk.
    @discardableResult
    func produce(_ count: Int, prefix: String, chunk size: Int = 5000, pause: Duration? = nil) async throws -> [String] {
        var config = KafkaProducer.Configuration(kafka: pipeline.kafka)
        config.clientName = "e2e-feeder"
        let producer = try KafkaProducer(configuration: config, logger: logger)
        var ids: [String] = []
        for start in stride(from: 0, to: count, by: size) {
            if let pause, start > 0 { try await Task.sleep(for: pause) }
            let chunk = (start..<min(count, start + size)).map { "\(prefix)-\($0)" }
            ids += chunk
            let now = "\(epochMilliseconds())"
            _ = try await producer.sendBatch(chunk.map { id in
                OutgoingMessage(
                    topic: topics.packets, key: Array(id.utf8),
                    value: Array(#"{"id":"\#(id)","source":"e2e","messages":[{"level":"INFO","message":"packet \#(id)"}]}"#.utf8),
                    headers: [KafkaHeader(HeaderNames.ingestTime, string: now)])
            }).get()
        }
        await producer.close(timeout: .seconds(5))
        return ids
    }

    /// Packet id → how many times analysers analysed it, across all analysers.
    func analysedCounts() -> [String: Int] {
        var all: [String: Int] = [:]
        for analyser in pipeline.analysers { all.merge(analyser.analysedIDs(), uniquingKeysWith: +) }
        return all
    }

    func analysed(by id: String) -> Int { pipeline.analyser(id)?.analysedIDs().count ?? 0 }

    /// Smooth weighted round-robin: in each period of unchanged health, every member's count is its exact share
    /// (within the couple of packets a change of rotation can shift).
    func expectExactPerEpoch(_ epochs: [DispatchEpoch], sourceLocation: SourceLocation = #_sourceLocation) {
        for epoch in epochs {
            #expect(epoch.maxDeviation <= 3, "period \(epoch.members.map { "\($0.id):\($0.weight)" }) got \(epoch.counts)", sourceLocation: sourceLocation)
        }
    }

    func waitAnalysed(_ ids: [String], timeout: Duration = .seconds(60)) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(200)) {
            let counts = analysedCounts()
            return ids.allSatisfy { counts[$0] != nil }
        }
    }
}

/// A test cluster with the logdist topics and analysers a1..a3 (weights 1:2:3, ids recorded) not yet running,
/// for tests that run the dispatcher themselves.
enum AnalyserFleet {
    static func make(label: String, namespace: String) async throws -> (TestCluster, Topics, [AnalyserService]) {
        let cluster = try TestCluster(label: label)
        let topics = Topics(namespace: cluster.namespace(namespace))
        try await cluster.create(topics.specs(packetPartitions: 6, analyserSlots: 3))
        let analysers = try (0..<3).map { index in
            var config = AnalyserConfig(
                kafka: cluster.kafka, topics: topics, id: "a\(index + 1)", partition: Int32(index), weight: index + 1,
                http: HTTPSettings(port: 0))
            config.recordIDs = true
            config.heartbeatInterval = .milliseconds(200)
            return try AnalyserService(config: config, logger: cluster.logger)
        }
        return (cluster, topics, analysers)
    }
}

import Analyser
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Dispatcher
import Foundation
import Ingest
import Logging
import ServiceLifecycle

/// One analyser of a pipeline: its id and weight; its partition is its index.
public struct AnalyserSpec: Sendable, Equatable {
    public var id: String
    public var weight: Int

    public init(id: String, weight: Int) {
        self.id = id
        self.weight = weight
    }

    /// `a1:1,a2:2,a3:3`, or plain weights `1,2,3` (ids a1, a2, …).
    public static func parse(_ text: String) throws -> [AnalyserSpec] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.enumerated().map { index, part in
            let pieces = part.split(separator: ":", maxSplits: 1).map(String.init)
            let id = pieces.count == 2 ? pieces[0] : "a\(index + 1)"
            guard let weight = Int(pieces.last ?? ""), weight >= 0, !id.isEmpty else {
                throw ValidationFailure("analyser '\(part)': expected id:weight or a weight (a non-negative integer)")
            }
            if let problem = AnalyserID.problem(with: id) { throw ValidationFailure(problem) }
            return AnalyserSpec(id: id, weight: weight)
        }
    }
}

/// A plain error with a message, for configuration mistakes.
public struct ValidationFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Everything `logdist up` (and the demo and end-to-end tests) runs in one process.
public struct PipelineConfig: Sendable {
    /// nil: start the embedded broker; else a real cluster.
    public var kafka: KafkaConfig?
    public var brokers = 1
    public var namespace = "logdist"
    public var host = "127.0.0.1"
    public var packetPartitions = 6
    public var analysers = [AnalyserSpec(id: "a1", weight: 1), AnalyserSpec(id: "a2", weight: 2), AnalyserSpec(id: "a3", weight: 3)]
    /// 0 picks free ports.
    public var ingestPort = 8080
    public var dispatcherPort = 8090
    public var analyserBasePort = 8101
    public var adminToken: BearerToken = .random()
    public var ingestToken: BearerToken?
    public var heartbeatInterval: Duration = .milliseconds(500)
    public var heartbeatTimeout: Duration = .milliseconds(1500)
    public var maxLag: Int64 = 100_000
    public var delivery: DeliveryMode?
    public var recordIDs = false
    public var commitInterval: Duration = .milliseconds(10)
    public var weightBy: WeightBy = .packets
    /// Partitions of the assigned topic; nil: one per analyser, plus 5 spare on the embedded broker (which cannot
    /// add partitions later), so analysers can join the running pipeline (`logdist analyse --partition 3 …`).
    public var analyserSlots: Int?
    /// The OTLP/gRPC port of ingest; nil: none; 0: a free port.
    public var otlpGRPCPort: Int?

    public init() {}
}

/// The whole pipeline in one process: embedded broker (or a real cluster), ingest, dispatcher, analysers.
public final class Pipeline: Sendable {
    public let config: PipelineConfig
    public let kafka: KafkaConfig
    public let topics: Topics
    public let ingest: IngestService
    public let dispatcher: DispatcherService
    public let analysers: [AnalyserService]
    let logger: Logger
    /// Declared last so it is destroyed after the clients that talk to it.
    public let broker: EmbeddedBroker?

    public init(config: PipelineConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let broker: EmbeddedBroker? = config.kafka == nil ? try EmbeddedBroker(brokers: config.brokers, logger: logger) : nil
        self.broker = broker
        self.kafka = config.kafka ?? KafkaConfig(bootstrapServers: broker!.bootstrapServers, embedded: true)
        topics = Topics(namespace: config.namespace)
        var ingestConfig = IngestConfig(kafka: kafka, topics: topics, http: HTTPSettings(host: config.host, port: config.ingestPort))
        ingestConfig.token = config.ingestToken
        ingestConfig.otlp.grpcPort = config.otlpGRPCPort
        ingestConfig.otlp.grpcHost = config.host
        let slots = config.analyserSlots ?? (broker == nil ? config.analysers.count : config.analysers.count + 5)
        ingestConfig.layout = TopicLayout(packetPartitions: config.packetPartitions, analyserSlots: slots)
        ingest = try IngestService(config: ingestConfig, logger: logger.labelled("ingest"), embedded: broker)

        var dispatcherConfig = DispatcherConfig(
            kafka: kafka, topics: topics, http: HTTPSettings(host: config.host, port: config.dispatcherPort), instanceID: "up-0")
        dispatcherConfig.policy = HealthPolicy(heartbeatTimeout: config.heartbeatTimeout, maxLag: config.maxLag)
        dispatcherConfig.delivery = config.delivery
        dispatcherConfig.adminToken = config.adminToken
        for (index, spec) in config.analysers.enumerated() where config.analyserBasePort != 0 {
            dispatcherConfig.analyserURLs[spec.id] = "http://\(config.host):\(config.analyserBasePort + index)"
        }
        dispatcherConfig.commitInterval = config.commitInterval
        dispatcherConfig.weightBy = config.weightBy
        if config.ingestPort != 0 { dispatcherConfig.ingestURL = "http://\(config.host):\(config.ingestPort)/v1/packets" }
        dispatcherConfig.ingestToken = config.ingestToken
        dispatcher = try DispatcherService(config: dispatcherConfig, logger: logger.labelled("dispatcher"), embedded: broker)

        let kafka = kafka
        let topics = topics
        analysers = try config.analysers.enumerated().map { index, spec in
            let port = config.analyserBasePort == 0 ? 0 : config.analyserBasePort + index
            var analyserConfig = AnalyserConfig(
                kafka: kafka, topics: topics, id: spec.id, partition: Int32(index), weight: spec.weight,
                http: HTTPSettings(host: config.host, port: port))
            analyserConfig.adminToken = config.adminToken
            analyserConfig.heartbeatInterval = config.heartbeatInterval
            analyserConfig.recordIDs = config.recordIDs
            analyserConfig.advertisedURL = port == 0 ? nil : "http://\(config.host):\(port)"
            return try AnalyserService(config: analyserConfig, logger: logger.labelled("analyser.\(spec.id)"))
        }
    }

    /// Creates topics and resolves the dispatcher's mode.
    public func prepare() async throws {
        try await ingest.prepare()
        try await dispatcher.prepare()
    }

    /// Producer-owning services first, HTTP servers last within each component.
    public func services() -> [any Service] {
        analysers.flatMap { $0.services() } + dispatcher.services() + ingest.services()
    }

    /// Runs until SIGINT/SIGTERM.
    public func run(extraServices: [any Service] = [], onReady: @escaping @Sendable () async -> Void = {}) async throws {
        try await prepare()
        let group = ServiceGroup(
            configuration: .init(services: services() + extraServices, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // The service group ending — a shutdown, or an error such as a taken port — ends the wait for readiness too.
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            tasks.addTask {
                while !self.isListening { try await Task.sleep(for: .milliseconds(20)) }
                await onReady()
                return false
            }
            while let groupEnded = try await tasks.next() {
                if groupEnded { tasks.cancelAll() }
            }
        }
    }

    /// Whether every server of the pipeline is listening.
    var isListening: Bool {
        ([ingest.boundPort, dispatcher.boundPort] + analysers.map(\.boundPort)).allSatisfy { $0.current != nil }
    }

    public func waitUntilListening() async {
        _ = await ingest.boundPort.wait()
        if config.otlpGRPCPort != nil { _ = await ingest.otlpGRPCPort.wait() }
        _ = await dispatcher.boundPort.wait()
        for analyser in analysers { _ = await analyser.boundPort.wait() }
    }

    public func analyser(_ id: String) -> AnalyserService? { analysers.first { $0.config.id == id } }
}

extension Logger {
    /// The same handler and level under a component label.
    public func labelled(_ component: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = "\(component)"
        return copy
    }
}

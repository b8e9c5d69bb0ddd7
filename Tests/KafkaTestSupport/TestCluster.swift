import LogdistBasics
import KafkaClient
import Foundation
import Logging

/// The Kafka a test runs against: the embedded broker, or a real cluster when `LOGDIST_TEST_BOOTSTRAP` is set.
///
/// Topic names are unique per run, so tests never see each other's data and can run against a shared cluster.
public final class TestCluster: Sendable {
    public let kafka: KafkaConfig
    /// nil against a real cluster.
    public let broker: EmbeddedBroker?
    public let admin: KafkaAdmin
    public let logger: Logger
    private let runID: String

    /// True when the tests run against a real cluster (`LOGDIST_TEST_BOOTSTRAP`).
    public var isReal: Bool { broker == nil }

    /// The embedded broker, for a test that must control it; against a real cluster nil, after printing that the test
    /// is skipped and why (`need`: "taking the broker down", …).
    public func embeddedBroker(for need: String) -> EmbeddedBroker? {
        if broker == nil { print("skipped: \(need) needs the embedded broker (LOGDIST_TEST_BOOTSTRAP is set)") }
        return broker
    }

    public static var externalBootstrap: String? {
        let value = ProcessInfo.processInfo.environment["LOGDIST_TEST_BOOTSTRAP"] ?? ""
        return value.isEmpty ? nil : value
    }

    public init(brokers: Int = 1, label: String = "test") throws {
        var logger = Logger(label: "logdist.test.\(label)")
        logger.logLevel = ProcessInfo.processInfo.environment["LOGDIST_TEST_LOG"] == "debug" ? .debug : .critical
        self.logger = logger
        if let bootstrap = Self.externalBootstrap {
            var properties: [String: String] = [:]
            if let extra = ProcessInfo.processInfo.environment["LOGDIST_TEST_KAFKA_PROPERTIES"] {
                properties = try KafkaConfig.parseProperties(extra.split(separator: ",").map(String.init))
            }
            self.broker = nil
            self.kafka = KafkaConfig(bootstrapServers: bootstrap, properties: properties)
        } else {
            let broker = try EmbeddedBroker(brokers: brokers, logger: logger)
            self.broker = broker
            self.kafka = KafkaConfig(bootstrapServers: broker.bootstrapServers, embedded: true)
        }
        self.admin = try KafkaAdmin(kafka: kafka, logger: logger)
        self.runID = String(UUID().uuidString.lowercased().prefix(8))
    }

    /// A topic name unique to this run.
    public func topicName(_ base: String) -> String { "logdist-test.\(base).\(runID)" }

    /// A namespace unique to this run, for services' topics and groups.
    public func namespace(_ base: String) -> String { "t\(runID).\(base)" }

    /// Creates a topic and waits until its metadata shows all partitions.
    @discardableResult
    public func createTopic(_ base: String, partitions: Int, configs: [String: String] = [:]) async throws -> String {
        let name = topicName(base)
        try await create([TopicSpec(name: name, partitions: partitions, configs: configs)])
        return name
    }

    public func create(_ specs: [TopicSpec]) async throws {
        try await TopicProvisioner.ensure(specs, admin: admin, embedded: broker, logger: logger)
        for spec in specs {
            let deadline = ContinuousClock.now.advanced(by: .seconds(15))
            while try await admin.partitionCount(topic: spec.name) != spec.partitions {
                guard ContinuousClock.now < deadline else {
                    throw KafkaError(kind: .timedOut, message: "topic \(spec.name) did not appear")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    public func producerConfig(_ name: String = "test-producer") -> KafkaProducer.Configuration {
        var config = KafkaProducer.Configuration(kafka: kafka)
        config.clientName = name
        config.linger = .milliseconds(2)
        return config
    }

    public func consumerConfig(group: String?, name: String = "test-consumer") -> KafkaConsumer.Configuration {
        var config = KafkaConsumer.Configuration(kafka: kafka, groupID: group)
        config.clientName = name
        return config
    }

    /// Reads `count` messages from `partitions` starting at the beginning, or fails after `timeout`.
    public func readAll(
        _ partitions: [TopicPartition], count: Int, isolation: IsolationLevel = .readCommitted,
        timeout: Duration = .seconds(30)
    ) async throws -> [KafkaMessage] {
        var config = consumerConfig(group: nil, name: "test-reader")
        config.isolationLevel = isolation
        let consumer = try KafkaConsumer(configuration: config, logger: logger)
        defer { Task { await consumer.close() } }
        try consumer.assign(partitions.map { TopicPartitionOffset($0.topic, $0.partition, KafkaOffset.beginning) })
        var messages: [KafkaMessage] = []
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while messages.count < count, ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxMessages: 10_000, timeout: .milliseconds(200))
            messages.append(contentsOf: batch.messages)
        }
        return messages
    }
}

import CRdKafka
import Logging
import Synchronization

/// What to create: a topic with its partition count, replication factor and configs such as `cleanup.policy`.
public struct TopicSpec: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Cluster administration and offset inspection: topics, partition counts, watermarks, group offsets.
public final class KafkaAdmin: Sendable {
    let client: RDKafkaClient
    private let kafka: KafkaConfig
    private let logger: Logger
    private let executor = BlockingExecutor(label: "logdist.kafka.admin")
    private let groupReaders = Mutex<[String: KafkaConsumer]>([:])

    public init(kafka: KafkaConfig, logger: Logger) throws {
        self.kafka = kafka
        self.logger = logger
        self.client = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER, properties: kafka.resolved(defaults: ["client.id": "logdist-admin", "allow.auto.create.topics": "false"]), logger: logger,
            name: "admin")
    }

    /// The cluster id, or nil when no broker answered in time.
    public func clusterID(timeout: Duration = .seconds(5)) async -> String? {
        let client = client
        return try? await executor.run { client.clusterID(timeout: timeout) }
    }

    /// Whether the cluster is librdkafka's mock cluster (the embedded broker), told by its cluster id.
    /// - Throws: `.timedOut` (retriable) when no broker answered in time: nothing can be told yet.
    public func isEmbeddedBroker(timeout: Duration = .seconds(5)) async throws -> Bool {
        guard let id = await clusterID(timeout: timeout) else {
            throw KafkaError(
                kind: .timedOut, message: "no broker of \(kafka.bootstrapServers) answered with a cluster id", isRetriable: true)
        }
        return EmbeddedBroker.isEmbeddedClusterID(id)
    }

    /// Creates topics; topics that already exist are left as they are.
    /// - Throws: `.unsupported` on a broker without CreateTopics (the embedded broker: use `EmbeddedBroker.createTopic`).
    public func createTopics(_ specs: [TopicSpec], timeout: Duration = .seconds(30)) async throws {
        let client = client
        try await executor.run { try Self.createTopicsBlocking(client: client, specs: specs, timeout: timeout) }
    }

    /// Partition count of `topic`, or nil when it does not exist.
    public func partitionCount(topic: String, timeout: Duration = .seconds(10)) async throws -> Int? {
        let client = client
        return try await executor.query(deadline: timeout + .seconds(1)) { try client.partitionCount(topic: topic, timeout: timeout) }
    }

    /// Low and high watermarks (log start and end offsets) of a partition.
    public func watermarks(_ partition: TopicPartition, timeout: Duration = .seconds(10)) async throws -> (low: Int64, high: Int64) {
        let client = client
        return try await executor.query(deadline: timeout + .seconds(1)) { try client.watermarks(partition, timeout: timeout) }
    }

    /// Committed offsets of `group` for `partitions`; partitions without a commit are absent from the result.
    public func committedOffsets(
        group: String, partitions: [TopicPartition], timeout: Duration = .seconds(10)
    ) async throws -> [TopicPartition: Int64] {
        let reader = try groupReaders.withLock { readers in
            if let known = readers[group] { return known }
            var config = KafkaConsumer.Configuration(kafka: kafka, groupID: group)
            config.clientName = "admin-offsets"
            let created = try KafkaConsumer(configuration: config, logger: logger)
            readers[group] = created
            return created
        }
        let offsets = try await reader.committed(partitions, timeout: timeout)
        var result: [TopicPartition: Int64] = [:]
        for entry in offsets where entry.offset >= 0 { result[entry.topicPartition] = entry.offset }
        return result
    }

    /// Closes the helper consumers used for group offsets.
    public func close() async {
        let readers = groupReaders.withLock { readers in
            defer { readers.removeAll() }
            return Array(readers.values)
        }
        for reader in readers { await reader.close() }
    }

    /// Grows `topic` to `count` partitions (Admin CreatePartitions; a topic already that large is left alone).
    /// - Throws: `.unsupported`/`.timedOut` from the embedded broker, which cannot add partitions.
    public func createPartitions(topic: String, count: Int, timeout: Duration = .seconds(30)) async throws {
        let client = client
        try await executor.run { try Self.createPartitionsBlocking(client: client, topic: topic, count: count, timeout: timeout) }
    }

    private static func createPartitionsBlocking(client: RDKafkaClient, topic: String, count: Int, timeout: Duration) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        guard let request = rd_kafka_NewPartitions_new(topic, count, &errstr, errstr.count) else {
            throw KafkaError(kind: .invalidArgument, message: "partitions of \(topic): \(String(cBuffer: errstr))")
        }
        defer { rd_kafka_NewPartitions_destroy(request) }
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        var requests: [OpaquePointer?] = [request]
        requests.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreatePartitions(client.handle, buffer.baseAddress, 1, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds + 5000) else {
            throw KafkaError(kind: .timedOut, message: "CreatePartitions got no answer")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            throw KafkaError(code: eventError, context: "CreatePartitions: \(text)")
        }
        guard let result = rd_kafka_event_CreatePartitions_result(event) else {
            throw KafkaError(kind: .broker, message: "CreatePartitions returned no result")
        }
        var n = 0
        guard let topics = rd_kafka_CreatePartitions_result_topics(result, &n), n > 0 else { return }
        let err = rd_kafka_topic_result_error(topics[0])
        // INVALID_PARTITIONS: the topic already has that many (someone grew it first).
        if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS { return }
        let text = rd_kafka_topic_result_error_string(topics[0]).map { String(cString: $0) } ?? ""
        throw KafkaError(code: err, context: "add partitions to \(topic): \(text)")
    }

    private static func createTopicsBlocking(client: RDKafkaClient, specs: [TopicSpec], timeout: Duration) throws {
        guard !specs.isEmpty else { return }
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for spec in specs {
            guard let topic = rd_kafka_NewTopic_new(spec.name, Int32(spec.partitions), Int32(spec.replicationFactor), &errstr, errstr.count)
            else {
                throw KafkaError(kind: .invalidArgument, message: "topic \(spec.name): \(String(cBuffer: errstr))")
            }
            newTopics.append(topic)
            for (key, value) in spec.configs.sorted(by: { $0.key < $1.key }) {
                let err = rd_kafka_NewTopic_set_config(topic, key, value)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "topic config \(key)") }
            }
        }
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        newTopics.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(client.handle, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds + 5000) else {
            throw KafkaError(kind: .timedOut, message: "CreateTopics got no answer")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            throw KafkaError(code: eventError, context: "CreateTopics: \(text)")
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            throw KafkaError(kind: .broker, message: "CreateTopics returned no result")
        }
        var count = 0
        guard let topics = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        for i in 0..<count {
            let topic = topics[i]
            let err = rd_kafka_topic_result_error(topic)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
            let name = String(cString: rd_kafka_topic_result_name(topic))
            let text = rd_kafka_topic_result_error_string(topic).map { String(cString: $0) } ?? ""
            throw KafkaError(code: err, context: "create topic \(name): \(text)")
        }
    }
}

import CRdKafka
import Logging

/// A transactional producer: consume → produce → commit offsets as one atomic unit.
///
/// Errors follow librdkafka's transactional contract: `isRetriable` — call the same method again;
/// `requiresAbort` — call `abortTransaction()` and redo the batch; `isFatal` — the producer is fenced or broken,
/// close it and create a new one (another instance with the same `transactional.id` took over).
public final class TransactionalProducer: Sendable {
    public let producer: KafkaProducer
    public let transactionalID: String

    public init(configuration: KafkaProducer.Configuration, transactionalID: String, logger: Logger) throws {
        var configuration = configuration
        configuration.transactionalID = transactionalID
        configuration.idempotent = true
        self.producer = try KafkaProducer(configuration: configuration, logger: logger)
        self.transactionalID = transactionalID
    }

    /// Registers the transactional id with the coordinator and fences older instances that used it.
    public func initTransactions(timeout: Duration) async throws {
        try await call("init transactions") { rd_kafka_init_transactions($0, timeout.milliseconds) }
    }

    public func beginTransaction() async throws {
        try await call("begin transaction") { rd_kafka_begin_transaction($0) }
    }

    /// Produces inside the open transaction; suspends until every message is acknowledged or has failed.
    public func sendBatch(_ messages: [OutgoingMessage]) async -> [Result<DeliveryReport, KafkaError>] {
        await producer.sendBatch(messages)
    }

    /// Adds the consumer's next offsets to the transaction, to be committed with it.
    public func sendOffsetsToTransaction(
        _ offsets: [TopicPartitionOffset], groupMetadata: ConsumerGroupMetadata, timeout: Duration
    ) async throws {
        guard !offsets.isEmpty else { return }
        try await call("send offsets to transaction") { rk in
            let list = PartitionList.make(offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            return rd_kafka_send_offsets_to_transaction(rk, list, groupMetadata.pointer, timeout.milliseconds)
        }
    }

    /// Flushes and commits; on success the messages and offsets become visible to `read_committed` readers.
    public func commitTransaction(timeout: Duration) async throws {
        try await call("commit transaction") { rd_kafka_commit_transaction($0, timeout.milliseconds) }
    }

    /// Aborts; the transaction's messages stay invisible to `read_committed` readers and offsets are not committed.
    public func abortTransaction(timeout: Duration) async throws {
        try await call("abort transaction") { rd_kafka_abort_transaction($0, timeout.milliseconds) }
    }

    public func close(timeout: Duration) async {
        await producer.close(timeout: timeout)
    }

    private func call(_ what: String, _ body: @escaping @Sendable (OpaquePointer) -> OpaquePointer?) async throws {
        let error: ErrorBox? = try await producer.runBlocking { rk in body(rk).map(ErrorBox.init) }
        if let error { throw KafkaError(consuming: error.pointer, context: what) }
    }
}

/// An `rd_kafka_error_t*` on its way from the blocking queue to the caller, who destroys it.
struct ErrorBox: @unchecked Sendable {
    let pointer: OpaquePointer
}

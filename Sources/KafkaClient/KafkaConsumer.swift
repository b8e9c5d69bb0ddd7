import LogdistBasics
import CRdKafka
import Foundation
import Logging
import Synchronization

/// A Kafka consumer: group subscription or manual assignment, batch polling, pause/resume, and offsets that are
/// stored and committed only after the caller processed the messages (auto-commit and auto-store are off).
public final class KafkaConsumer: Sendable {
    let client: RDKafkaClient
    private let queue: QueueHandle
    let executor: BlockingExecutor
    /// Commits wait on their own queue: a commit must not wait behind a poll that is waiting for data (librdkafka's
    /// calls are thread-safe). Measured: queued behind polls, commits added up to 10 ms to the dispatcher's hop.
    let commitExecutor: BlockingExecutor
    public let configuration: Configuration
    /// Starting → running (first poll) → closing → closed; polls are refused once a close begins.
    private let lifecycle = Mutex(ClientLifecycle(role: "consumer"))
    let wakeInFlight = WakeFlag()

    /// - Parameter onRebalance: called on the polling thread, after librdkafka applied the change.
    public init(
        configuration: Configuration, logger: Logger, onRebalance: (@Sendable (RebalanceEvent) -> Void)? = nil
    ) throws {
        self.configuration = configuration
        let client = try RDKafkaClient(
            type: RD_KAFKA_CONSUMER, properties: configuration.properties(), logger: logger,
            name: configuration.clientName, rebalanceHandler: onRebalance
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, _ in
                guard let rk else { return }
                KafkaConsumer.rebalance(rk: rk, err: err, partitions: partitions)
            }
        }
        self.client = client
        rd_kafka_poll_set_consumer(client.handle)
        self.queue = QueueHandle(pointer: rd_kafka_queue_get_consumer(client.handle))
        self.executor = BlockingExecutor(label: "logdist.kafka.\(configuration.clientName)")
        self.commitExecutor = BlockingExecutor(label: "logdist.kafka.\(configuration.clientName).commit")
    }

    deinit {
        rd_kafka_queue_destroy(queue.pointer)
        if lifecycle.withLock({ $0.needsTeardown }) {
            rd_kafka_consumer_close(client.handle)
        }
    }

    /// Joins the group and follows its assignments for `topics`.
    public func subscribe(_ topics: [String]) throws {
        let list = PartitionList.make(topics.map { TopicPartition($0, -1) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_subscribe(client.handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "subscribe") }
    }

    /// Assigns partitions manually, each from the given offset (`KafkaOffset.stored` for the committed one).
    public func assign(_ partitions: [TopicPartitionOffset]) throws {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(client.handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "assign") }
    }

    /// The partitions currently assigned.
    public func assignment() throws -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let err = rd_kafka_assignment(client.handle, &list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(code: err, context: "assignment") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return PartitionList.read(list).map(\.topicPartition)
    }

    /// Up to `maxMessages` messages: what is already fetched, else the first to arrive within `timeout` and
    /// whatever arrived with it. It never waits to fill the batch, so latency stays low at any rate.
    ///
    /// Rebalance callbacks run inside this call. Throws only on a fatal error; per-partition errors come back
    /// in `errors` so one bad partition does not end the consume loop.
    public func poll(maxMessages: Int, timeout: Duration) async throws -> ConsumerBatch {
        let raw = try await pollRaw(maxMessages: maxMessages, timeout: timeout)
        var messages: [KafkaMessage] = []
        messages.reserveCapacity(raw.count)
        var lastTopic: (OpaquePointer?, String)?
        for index in 0..<raw.count {
            let rkm = raw.messages[index]!
            if lastTopic == nil || lastTopic!.0 != rkm.pointee.rkt {
                lastTopic = (rkm.pointee.rkt, rkm.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "")
            }
            messages.append(Self.copy(rkm, topic: lastTopic!.1))
        }
        return ConsumerBatch(messages: messages, errors: raw.errors)
    }

    /// Like `poll`, but the records stay in librdkafka's buffers, for forwarding them without copying
    /// (`KafkaProducer.forward`).
    public func pollRaw(maxMessages: Int, timeout: Duration) async throws -> ConsumedBatch {
        if case .refuse(let error) = lifecycle.withLock({ $0.admit() }) { throw error }
        precondition(maxMessages > 0, "poll needs room for at least one message")
        let queue = queue
        let batch = try await executor.run { () throws -> ConsumedBatch in
            let buffer = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: maxMessages)
            // librdkafka's batch call waits until the batch is full or the timeout passes; to return as soon as
            // anything is there, take what is queued, else wait for one message, then take what followed it.
            var count = rd_kafka_consume_batch_queue(queue.pointer, 0, buffer, maxMessages)
            if count == 0, timeout > .zero {
                count = rd_kafka_consume_batch_queue(queue.pointer, timeout.milliseconds, buffer, 1)
                if count == 1, maxMessages > 1 {
                    let more = rd_kafka_consume_batch_queue(queue.pointer, 0, buffer + 1, maxMessages - 1)
                    if more > 0 { count += more }
                }
            }
            if count < 0 {
                buffer.deallocate()
                throw KafkaError(code: rd_kafka_last_error(), context: "consume")
            }
            return ConsumedBatch(taking: buffer, count: count)
        }
        if let fatal = client.fatalError { throw fatal }
        return batch
    }

    /// Stops fetching from these partitions; their buffered messages stay until `resume`.
    public func pause(_ partitions: [TopicPartition]) throws {
        try changePause(partitions, pause: true)
    }

    public func resume(_ partitions: [TopicPartition]) throws {
        try changePause(partitions, pause: false)
    }

    /// The group metadata a transactional producer sends with offsets (`sendOffsetsToTransaction`).
    public func groupMetadata() throws -> ConsumerGroupMetadata {
        guard let pointer = rd_kafka_consumer_group_metadata(client.handle) else {
            throw KafkaError(kind: .invalidArgument, message: "consumer has no group metadata (no group.id)")
        }
        return ConsumerGroupMetadata(pointer: pointer)
    }

    /// Where the consumer is in its life: starting, running, closing, closed.
    public var state: ClientLifecycle.State { lifecycle.withLock { $0.state } }

    /// Leaves the group (revoking its partitions) and stops fetching. Commit before closing. Polls from the moment
    /// it begins fail with `.closed`; a close while another runs returns when that one has finished.
    public func close() async {
        switch lifecycle.withLock({ $0.beginClose() }) {
        case .drain: break
        case .none: return
        case .awaitClosed:
            while state != .closed { try? await Task.sleep(for: .milliseconds(5)) }
            return
        }
        defer { lifecycle.withLock { $0.finishClose() } }
        let client = client
        do {
            try await executor.run {
                let err = rd_kafka_consumer_close(client.handle)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    client.logger.warning("consumer close", metadata: [LogKeys.kafkaError: "\(KafkaError(code: err, context: "close"))"])
                }
            }
        } catch {
            client.logger.warning("consumer close did not run", metadata: [LogKeys.error: "\(error)"])
        }
    }

    private func changePause(_ partitions: [TopicPartition], pause: Bool) throws {
        guard !partitions.isEmpty else { return }
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = pause ? rd_kafka_pause_partitions(client.handle, list) : rd_kafka_resume_partitions(client.handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: pause ? "pause" : "resume") }
    }

    /// Copies one record out of librdkafka's buffers.
    static func copy(_ rkm: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaMessage {
        let m = rkm.pointee
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) }
        let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        var tsType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(rkm, &tsType)
        return KafkaMessage(
            topic: topic, partition: m.partition, offset: m.offset, key: key, value: value,
            headers: readHeaders(rkm), timestamp: tsType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts)
    }

    private static func readHeaders(_ rkm: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(rkm, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return [] }
        var result: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
            result.append(KafkaHeader(name.map { String(cString: $0) } ?? "", bytes))
            index += 1
        }
        return result
    }

}

/// `rd_kafka_consumer_group_metadata_t*`, destroyed with this object.
/// - Important: immutable after creation and only read by librdkafka, hence `@unchecked Sendable`.
public final class ConsumerGroupMetadata: @unchecked Sendable {
    let pointer: OpaquePointer

    init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        rd_kafka_consumer_group_metadata_destroy(pointer)
    }
}

/// An `rd_kafka_queue_t*` owned by a consumer. - Important: librdkafka queues are thread-safe.
struct QueueHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A shareable atomic flag (an `Atomic` cannot be captured by an escaping closure).
final class WakeFlag: Sendable {
    private let value = Atomic<Bool>(false)

    /// Sets the flag; false when it was already set.
    func set() -> Bool { value.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }

    func clear() { value.store(false, ordering: .releasing) }
}

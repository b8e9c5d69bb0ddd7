import LogdistBasics
import CRdKafka
import Foundation
import Logging
import Synchronization

/// A partition-set change from the group coordinator, reported before logdist code sees the new assignment's data.
public enum RebalanceEvent: Sendable, Equatable {
    case assigned([TopicPartition])
    case revoked([TopicPartition])
    case failed(String)
}

/// `isolation.level`: whether a consumer sees records of open and aborted transactions.
public enum IsolationLevel: String, Sendable {
    case readCommitted = "read_committed"
    case readUncommitted = "read_uncommitted"
}

/// A consumed batch: the messages, in partition order, and the per-partition errors met while fetching them.
public struct ConsumerBatch: Sendable {
    public var messages: [KafkaMessage]
    /// Non-fatal errors carried in place of messages (an out-of-range offset, a transport hiccup).
    public var errors: [ConsumerFetchError]
}

/// An error librdkafka delivered in place of a message.
public struct ConsumerFetchError: Sendable, Error {
    public var topicPartition: TopicPartition?
    public var offset: Int64
    public var error: KafkaError

    /// The fetch position fell outside the log and `auto.offset.reset=error` refused to move it silently.
    public var isOffsetOutOfRange: Bool {
        error.code == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET.rawValue
            || error.code == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE.rawValue
    }
}

/// A Kafka consumer: group subscription or manual assignment, batch polling, pause/resume, and offsets that are
/// stored and committed only after the caller processed the messages (auto-commit and auto-store are off).
public final class KafkaConsumer: Sendable {
    public struct Configuration: Sendable {
        public var kafka: KafkaConfig
        /// The consumer group; nil reads without a group (manual assignment, nothing committed).
        public var groupID: String?
        public var isolationLevel: IsolationLevel = .readCommitted
        /// `auto.offset.reset`: `earliest`, `latest`, or `error` to surface out-of-range positions to the caller.
        public var autoOffsetReset = "earliest"
        public var clientName = "consumer"
        /// More defaults for this client (pass-through properties still win).
        public var defaults: [String: String] = [:]

        public init(kafka: KafkaConfig, groupID: String?) {
            self.kafka = kafka
            self.groupID = groupID
        }

        /// How long a fetch may wait for data on the broker. Kafka answers a fetch as soon as data arrives, so there
        /// the wait only sets how often an idle consumer asks: measured on Apache Kafka 3.7 (one broker, e2e at
        /// 4 000 packets/s through ingest, dispatcher and analysers), 5 ms cost the broker about 1 000 empty fetches
        /// per second per consumer and gave p50 28 / p99 126 ms; 100 ms gave p50 20 / p99 86 ms with 13 % less
        /// broker CPU; 500 ms p99 91 ms. The embedded broker holds an empty fetch for the whole wait even when data
        /// arrives meanwhile, so there the wait is added to every hop: 5 ms (e2e p99 22 ms; 10 ms: 29 ms).
        public static func fetchWait(embedded: Bool) -> Duration {
            embedded ? .milliseconds(5) : .milliseconds(100)
        }

        func properties() -> [String: String] {
            // librdkafka needs a group id even for manual assignment; a private one is never joined or committed.
            let group = groupID ?? "logdist.reader.\(UUID().uuidString.lowercased())"
            return kafka.resolved(defaults: defaults.merging([
                "group.id": group,
                "client.id": "logdist-\(clientName)",
                "enable.auto.commit": "false",
                "enable.auto.offset.store": "false",
                "enable.partition.eof": "false",
                "isolation.level": isolationLevel.rawValue,
                "auto.offset.reset": autoOffsetReset,
                "fetch.wait.max.ms": "\(Self.fetchWait(embedded: kafka.embedded).milliseconds)",
            ]) { mine, _ in mine })
        }
    }

    let client: RDKafkaClient
    private let queue: QueueHandle
    private let executor: BlockingExecutor
    /// Commits wait on their own queue: a commit must not wait behind a poll that is waiting for data (librdkafka's
    /// calls are thread-safe). Measured: queued behind polls, commits added up to 10 ms to the dispatcher's hop.
    private let commitExecutor: BlockingExecutor
    public let configuration: Configuration
    private let closed = Atomic<Bool>(false)
    private let wakeInFlight = WakeFlag()

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
        if !closed.load(ordering: .acquiring) {
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
        if closed.load(ordering: .acquiring) { throw KafkaError.closed("consumer") }
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

    /// Records the next offsets to commit (last processed + 1); `commitStored` sends them.
    public func store(_ offsets: [TopicPartitionOffset]) throws {
        guard !offsets.isEmpty else { return }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_store(client.handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(code: err, context: "store offsets") }
        if let error = PartitionList.firstError(list, context: "store offset") { throw error }
    }

    /// Commits the stored offsets of the current assignment, waiting for the broker's answer.
    public func commitStored() async throws {
        try await commit(nil)
    }

    /// Commits `offsets` (next offset to read per partition), or the stored offsets when nil.
    public func commit(_ offsets: [TopicPartitionOffset]?) async throws {
        let client = client
        try await commitExecutor.run {
            let list = offsets.map { PartitionList.make($0) }
            defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
            let err = rd_kafka_commit(client.handle, list, 0)
            if err == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "commit") }
            if let list, let error = PartitionList.firstError(list, context: "commit") { throw error }
        }
    }

    /// The group's committed offsets for `partitions`; `KafkaOffset.invalid` where nothing is committed.
    public func committed(_ partitions: [TopicPartition], timeout: Duration) async throws -> [TopicPartitionOffset] {
        let client = client
        return try await executor.run {
            let list = PartitionList.make(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(client.handle, list, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "committed offsets") }
            if let error = PartitionList.firstError(list, context: "committed offset") { throw error }
            return PartitionList.read(list)
        }
    }

    /// The next offset this consumer will fetch per partition (`KafkaOffset.invalid` before the first fetch).
    public func position(_ partitions: [TopicPartition]) throws -> [TopicPartitionOffset] {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_position(client.handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "position") }
        return PartitionList.read(list)
    }

    /// Moves the fetch position of assigned partitions.
    public func seek(_ offsets: [TopicPartitionOffset], timeout: Duration) async throws {
        let client = client
        try await executor.run {
            let list = PartitionList.make(offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let error = rd_kafka_seek_partitions(client.handle, list, timeout.milliseconds) {
                throw KafkaError(consuming: error, context: "seek")
            }
            if let error = PartitionList.firstError(list, context: "seek") { throw error }
        }
    }

    /// Low and high watermarks of a partition, asked of the broker.
    public func watermarks(_ partition: TopicPartition, timeout: Duration) async throws -> (low: Int64, high: Int64) {
        let client = client
        return try await executor.query(deadline: timeout + .seconds(1)) { try client.watermarks(partition, timeout: timeout) }
    }

    /// Wakes the broker thread that fetches `partition` by asking its leader for the partition's watermarks, on a
    /// background thread; at most one such request is outstanding (further calls are dropped meanwhile).
    ///
    /// librdkafka 2.0 stops fetching a partition while the local queue holds `queued.min.messages` and looks again
    /// only when that broker thread wakes, up to a second later (2.2 added `fetch.queue.backoff.ms` for this). Any
    /// request through the thread wakes it. (Resuming a partition that is not paused would wake it too, but
    /// restarts the fetch at the application's position and delivers queued records twice.)
    public func wakeFetcher(for partition: TopicPartition) {
        guard wakeInFlight.set() else { return }
        let client = client
        let flag = wakeInFlight
        DispatchQueue.global(qos: .utility).async {
            do {
                _ = try client.watermarks(partition, timeout: .seconds(1))
            } catch {
                // Only a nudge: the fetcher wakes by itself within a second anyway.
                client.logger.debug("fetcher nudge unanswered", metadata: [LogKeys.kafkaError: "\(error)"])
            }
            flag.clear()
        }
    }

    /// Low and high watermarks as last seen in fetch responses: no request, never blocks; nil before any fetch.
    public func cachedWatermarks(_ partition: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_get_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }

    /// The group metadata a transactional producer sends with offsets (`sendOffsetsToTransaction`).
    public func groupMetadata() throws -> ConsumerGroupMetadata {
        guard let pointer = rd_kafka_consumer_group_metadata(client.handle) else {
            throw KafkaError(kind: .invalidArgument, message: "consumer has no group metadata (no group.id)")
        }
        return ConsumerGroupMetadata(pointer: pointer)
    }

    /// Leaves the group (revoking its partitions) and stops fetching. Commit before closing.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
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

    /// The rebalance callback: applies the change (eager or cooperative) and tells the handler.
    /// - Important: runs on the thread inside `poll` or `close`.
    private static func rebalance(
        rk: OpaquePointer, err: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let context = ClientContext.from(rk)
        let tps = partitions.map { PartitionList.read($0).map(\.topicPartition) } ?? []
        let cooperative = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
        // A refused assign or unassign is the handler's to count: the group will rebalance again, but until then
        // this member fetches the wrong partitions.
        func refused(_ error: KafkaError) {
            context?.logger.error("rebalance not applied", metadata: [LogKeys.kafkaError: "\(error)"])
            context?.rebalanceHandler?(.failed("\(error)"))
        }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if let error = Self.apply(rk, partitions, assign: true, cooperative: cooperative) {
                refused(error)
                return
            }
            context?.logger.info("partitions assigned", metadata: [LogKeys.count: "\(tps.count)", "kafka.partitions": "\(tps)"])
            context?.rebalanceHandler?(.assigned(tps))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            context?.rebalanceHandler?(.revoked(tps))
            if let error = Self.apply(rk, partitions, assign: false, cooperative: cooperative) {
                refused(error)
                return
            }
            context?.logger.info("partitions revoked", metadata: [LogKeys.count: "\(tps.count)", "kafka.partitions": "\(tps)"])
        default:
            let text = String(cString: rd_kafka_err2str(err))
            context?.logger.error("rebalance failed", metadata: [LogKeys.kafkaError: "\(text)"])
            if let error = Self.apply(rk, nil, assign: false, cooperative: false) { refused(error) }
            context?.rebalanceHandler?(.failed(text))
        }
    }
}

extension KafkaConsumer {
    /// Applies a rebalance's assignment (or revocation) the way the group's protocol needs it; the error, if any.
    fileprivate static func apply(
        _ rk: OpaquePointer, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, assign: Bool,
        cooperative: Bool
    ) -> KafkaError? {
        if cooperative {
            let error = assign ? rd_kafka_incremental_assign(rk, partitions) : rd_kafka_incremental_unassign(rk, partitions)
            return error.map { KafkaError(consuming: $0, context: assign ? "incremental assign" : "incremental unassign") }
        }
        let err = rd_kafka_assign(rk, assign ? partitions : nil)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(code: err, context: assign ? "assign" : "unassign")
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

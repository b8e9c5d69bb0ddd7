import LogdistBasics
import CLogdistKafka
import CRdKafka
import Foundation
import Logging
import Synchronization

/// An idempotent Kafka producer whose sends complete when the broker acknowledges them.
///
/// `send` suspends until the delivery report; `sendBatch` enqueues many messages and suspends once for all of
/// them, without a continuation per message. A full local queue is a `KafkaError` of kind `.queueFull`
/// (backpressure) after at most `enqueueTimeout`, never a silent drop or an unbounded wait.
/// Delivery reports are read by one dedicated thread from librdkafka's event queue, a batch of reports per event.
public final class KafkaProducer: Sendable {
    public struct Configuration: Sendable {
        public var kafka: KafkaConfig
        /// `enable.idempotence`; with it librdkafka forces `acks=all` and retries without duplicates.
        public var idempotent = true
        /// `compression.type`; lz4 keeps more records inside the embedded broker's 5 MiB per partition.
        public var compression = "lz4"
        /// `linger.ms`: how long librdkafka waits to fill a batch.
        public var linger: Duration = .milliseconds(5)
        /// `message.timeout.ms`: a message not acknowledged in this time fails with `.timedOut`.
        public var deliveryTimeout: Duration = .seconds(30)
        /// `queue.buffering.max.messages`: the local queue's capacity.
        public var queueCapacity = 100_000
        /// How long `sendBatch` waits for room in a full queue before failing the rest with `.queueFull`.
        public var enqueueTimeout: Duration = .seconds(1)
        /// Set for a transactional producer.
        public var transactionalID: String?
        /// A name for logs.
        public var clientName = "producer"
        /// nil: messages without a partition go where their key hashes (murmur2, as Kafka's Java producer hashes,
        /// so every producer puts a key in the same partition). Set: they all go to one partition for this long,
        /// then to the next (for topics that need spreading, not key affinity: fewer, larger batches; see
        /// `logdist_sticky_partitioner`).
        public var stickyPartitioning: Duration?

        public init(kafka: KafkaConfig) {
            self.kafka = kafka
        }

        func properties() -> [String: String] {
            var defaults: [String: String] = [
                "enable.idempotence": idempotent ? "true" : "false",
                "acks": "all",
                "compression.type": compression,
                "linger.ms": "\(linger.milliseconds)",
                "message.timeout.ms": "\(deliveryTimeout.milliseconds)",
                "queue.buffering.max.messages": "\(queueCapacity)",
                "client.id": "logdist-\(clientName)",
                "partitioner": "murmur2_random",
            ]
            if let transactionalID {
                defaults["transactional.id"] = transactionalID
                // Transactional requests answered "retry" (a coordinator still busy with the previous commit) are
                // asked again after this long, not librdkafka's 100 ms, which a batch that met one waited whole
                // (Apache Kafka 3.7, one broker, 4 000 packets/s through the pipeline: e2e p99 254 → 147 ms with 5 ms).
                defaults["retry.backoff.ms"] = "10"
                // A transaction's messages must be acknowledged before its timeout; keep them consistent.
                defaults["transaction.timeout.ms"] = "\(max(60_000, Int(deliveryTimeout.milliseconds)))"
            }
            return kafka.resolved(defaults: defaults)
        }
    }

    let client: RDKafkaClient
    private let core: ProducerCore
    private let configuration: Configuration
    private let executor: BlockingExecutor
    private let topicHandles = Mutex<[String: TopicHandle]>([:])
    private let poller: EventPoller
    /// Set when `close` begins: sends from then on fail with `.closed` instead of waiting for a poller that stops.
    private let closing = Mutex<KafkaError?>(nil)

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.client = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER, properties: configuration.properties(), logger: logger,
            name: configuration.clientName, events: Int32(RD_KAFKA_EVENT_DR))
        self.core = ProducerCore()
        self.executor = BlockingExecutor(label: "logdist.kafka.\(configuration.clientName)")
        let client = self.client
        let core = self.core
        self.poller = EventPoller(client: client, name: configuration.clientName) { event in
            core.handle(event: event)
        }
    }

    deinit {
        topicHandles.withLock { handles in
            for handle in handles.values { rd_kafka_topic_destroy(handle.pointer) }
            handles.removeAll()
        }
        poller.stop()
        core.failAll(KafkaError.closed("producer"))
    }

    /// Messages enqueued locally and not yet acknowledged or failed.
    public var queueDepth: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// The fatal error that ended this producer, if any (for example a fenced transactional id).
    public var fatalError: KafkaError? { client.fatalError }

    /// Why no send can succeed any more: the producer was closed (`.closed`), or failed fatally.
    var unusable: KafkaError? { core.closedError ?? closing.withLock { $0 } ?? client.fatalError }

    /// The last broker-connection error librdkafka reported, if any.
    public var lastError: KafkaError? { client.context.lastError.withLock { $0 } }

    /// Produces one message and suspends until the broker acknowledged it.
    public func send(_ message: OutgoingMessage) async throws -> DeliveryReport {
        if let unusable { throw unusable }
        let rkt = topicHandle(message.topic)
        return try await withCheckedThrowingContinuation { continuation in
            guard let id = core.registerSingle(continuation) else { return }
            let err = enqueue(message, rkt: rkt, opaque: OpaqueID.single(id))
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                core.failSingle(id, KafkaError(code: err, context: "enqueue to \(message.topic)"))
            }
        }
    }

    /// Produces many messages and suspends once, until every one of them is acknowledged or has failed.
    ///
    /// Results are in the order of `messages`. When the local queue stays full past `enqueueTimeout`, the
    /// messages not yet enqueued fail with `.queueFull`; the ones already enqueued still complete.
    public func sendBatch(_ messages: [OutgoingMessage]) async -> [Result<DeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        precondition(messages.count < OpaqueID.maxBatchSize, "batch of \(messages.count) exceeds \(OpaqueID.maxBatchSize)")
        if let unusable { return Array(repeating: .failure(unusable), count: messages.count) }
        let batchID = core.registerBatch(count: messages.count)
        var handles: [String: OpaquePointer] = [:]
        var deadline: ContinuousClock.Instant?
        var index = 0
        while index < messages.count {
            let message = messages[index]
            let rkt: OpaquePointer
            if let known = handles[message.topic] {
                rkt = known
            } else {
                rkt = topicHandle(message.topic)
                handles[message.topic] = rkt
            }
            let err = enqueue(message, rkt: rkt, opaque: OpaqueID.batch(batchID, index: index))
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                index += 1
                continue
            }
            if await roomAppeared(after: err, deadline: &deadline) { continue }
            let error = KafkaError(code: err, context: "enqueue to \(message.topic)")
            let failed = (index..<messages.count).map { ($0, Result<DeliveryReport, KafkaError>.failure(error)) }
            core.resolveBatch(batchID, failed)
            break
        }
        return await core.awaitBatch(batchID)
    }

    /// Where `forward` sends records: route `r` is partition `partitions[r]` with header value `headerValues[r]`.
    /// The pick of a record ``forward(_:picks:routes:)`` does not produce.
    public static let skip: Int32 = -1

    public struct Routes: Sendable {
        public var topic: String
        public var headerName: String
        public var partitions: [Int32]
        public var headerValues: [[UInt8]]

        public init(topic: String, headerName: String, partitions: [Int32], headerValues: [[UInt8]]) {
            precondition(partitions.count == headerValues.count, "one header value per route")
            self.topic = topic
            self.headerName = headerName
            self.partitions = partitions
            self.headerValues = headerValues
        }
    }

    /// Produces consumed records unchanged (key, value, headers, with `routes.headerName` set to its route's value)
    /// and suspends once, until every one is acknowledged; then throws the first failure, if any.
    ///
    /// `picks[c][i]` is the route of record `i` of `chunks[c]`, or ``skip`` for a record not to produce.
    /// librdkafka copies each record straight from the consumer's buffer: no Swift copy, no report per message.
    /// Order per route follows the order given.
    public func forward(_ chunks: [ConsumedBatch], picks: [[Int32]], routes: Routes) async throws {
        precondition(chunks.count == picks.count && zip(chunks, picks).allSatisfy { $0.count == $1.count }, "one pick per record")
        let skipped = picks.reduce(0) { sum, chunk in sum + chunk.reduce(0) { $0 + ($1 < 0 ? 1 : 0) } }
        let total = chunks.reduce(0) { $0 + $1.count } - skipped
        guard total > 0 else { return }
        precondition(chunks.allSatisfy { $0.count < OpaqueID.maxBatchSize }, "chunk exceeds \(OpaqueID.maxBatchSize)")
        if let unusable { throw unusable }
        let batchID = core.registerCounted(count: total)
        let rkt = topicHandle(routes.topic)
        let base = OpaqueID.batch(batchID, index: 0)
        var enqueued = 0
        var deadline: ContinuousClock.Instant?
        var failure: KafkaError?
        for (chunk, chunkPicks) in zip(chunks, picks) {
            let run = await enqueueAll(chunk.count, topic: routes.topic, deadline: &deadline) { start in
                var err = RD_KAFKA_RESP_ERR_NO_ERROR
                let stopped = Self.forwardChunk(
                    client.handle, rkt, chunk, chunkPicks, from: start, routes: routes, opaqueBase: base, err: &err)
                return (stopped, err)
            }
            // Skipped records before the stop are not in flight.
            enqueued += run.enqueued - chunkPicks[..<run.enqueued].reduce(0) { $0 + ($1 < 0 ? 1 : 0) }
            failure = run.failure
            if failure != nil { break }
        }
        if let failure { core.failCounted(batchID, count: total - enqueued, failure) }
        if let error = await core.awaitCounted(batchID).firstError { throw error }
    }

    /// Up to this many records, `sendSlices` enqueues on the caller's thread.
    static let inlineSliceLimit = 8

    /// One record of ``sendSlices(topic:values:keys:slices:header:timestamp:)``: where its value and its key are.
    public struct RecordSlice: Sendable, Equatable {
        public var value: Range<Int>
        public var key: Range<Int>
        /// The packet's message count, written in the `countHeader` header when positive.
        public var messages: Int32

        public init(value: Range<Int>, key: Range<Int>, messages: Int32 = 0) {
            self.value = value
            self.key = key
            self.messages = messages
        }
    }

    /// Produces records laid out in two buffers — `values[slice.value]` keyed by `keys[slice.key]` — each with
    /// `header` and the record timestamp `timestamp` (epoch ms; nil: now), to `topic` (its partitioner picks: by key,
    /// or sticky with `stickyPartitioning`), and suspends once, until every one is acknowledged or has failed.
    ///
    /// The ingest batch path: librdkafka copies each record straight from the request body, with no Swift value
    /// and no report per record. When the local queue stays full past `enqueueTimeout`, the records not yet
    /// enqueued fail with `.queueFull`; the ones enqueued still complete.
    ///
    /// - Parameter countHeader: the name of a header holding each record's `messages`, when given.
    public func sendSlices(
        topic: String, values: [UInt8], keys: [UInt8], slices: [RecordSlice], header: KafkaHeader, timestamp: Int64? = nil,
        countHeader: String? = nil
    ) async -> CountedOutcome {
        guard !slices.isEmpty else { return CountedOutcome() }
        precondition(slices.count < OpaqueID.maxBatchSize, "batch of \(slices.count) exceeds \(OpaqueID.maxBatchSize)")
        precondition(slices.allSatisfy { $0.value.upperBound <= values.count && $0.key.upperBound <= keys.count }, "slice out of bounds")
        if let unusable { return CountedOutcome(failed: slices.count, firstError: unusable) }
        let batchID = core.registerCounted(count: slices.count)
        let rkt = topicHandle(topic)
        let base = OpaqueID.batch(batchID, index: 0)
        let layout = slices.map {
            logdist_slice(
                value_offset: $0.value.lowerBound, value_size: $0.value.count, key_offset: $0.key.lowerBound, key_size: $0.key.count,
                messages: $0.messages)
        }
        let headerValue = header.value ?? []
        let handle = TopicHandle(pointer: rkt)
        let client = client
        let enqueue = { @Sendable (start: Int) -> (Int, rd_kafka_resp_err_t) in
            var err = RD_KAFKA_RESP_ERR_NO_ERROR
            let stopped = values.withUnsafeBufferPointer { values in
                keys.withUnsafeBufferPointer { keys in
                    layout.withUnsafeBufferPointer { layout in
                        headerValue.withUnsafeBytes { headerValue in
                            Self.withOptionalCString(countHeader) { countHeader in
                                logdist_produce_slices(
                                    client.handle, handle.pointer, values.baseAddress, keys.baseAddress, layout.baseAddress, start,
                                    layout.count, header.name, headerValue.baseAddress, headerValue.count, countHeader,
                                    timestamp ?? 0, base, &err)
                            }
                        }
                    }
                }
            }
            return (Int(stopped), err)
        }
        var deadline: ContinuousClock.Instant?
        let run = await enqueueAll(slices.count, topic: topic, deadline: &deadline) { start in
            // Many records: on the poller thread, which also frees them after their reports (see EventPoller).
            // A few: here, where a thread hop would cost more than the allocator saves.
            slices.count - start > Self.inlineSliceLimit ? await poller.perform { enqueue(start) } : enqueue(start)
        }
        if let failure = run.failure { core.failCounted(batchID, count: slices.count - run.enqueued, failure) }
        return await core.awaitCounted(batchID)
    }

    /// Calls `body` with `text` as a C string, or with nil.
    private static func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let text else { return body(nil) }
        return text.withCString { body($0) }
    }

    /// Calls `enqueue(start)` — which enqueues messages `start..<count` in order and returns where it stopped, with
    /// the error that stopped it — until all are enqueued, waiting for room while the local queue is full.
    /// - Returns: how many were enqueued, and the error that ended the call early, if any.
    private func enqueueAll(
        _ count: Int, topic: String, deadline: inout ContinuousClock.Instant?,
        _ enqueue: (Int) async -> (stopped: Int, err: rd_kafka_resp_err_t)
    ) async -> (enqueued: Int, failure: KafkaError?) {
        var index = 0
        while index < count {
            let (stopped, err) = await enqueue(index)
            index = stopped
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { continue }
            if await roomAppeared(after: err, deadline: &deadline) { continue }
            return (index, KafkaError(code: err, context: "enqueue to \(topic)"))
        }
        return (count, nil)
    }

    /// After a full queue (backpressure), waits a millisecond and says to retry, until `enqueueTimeout` has passed
    /// since the first full queue of this call; any other error, or past the deadline: false.
    private func roomAppeared(after err: rd_kafka_resp_err_t, deadline: inout ContinuousClock.Instant?) async -> Bool {
        guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { return false }
        let now = ContinuousClock.now
        let limit = deadline ?? now.advanced(by: configuration.enqueueTimeout)
        deadline = limit
        guard now < limit else { return false }
        try? await Task.sleep(for: .milliseconds(1))
        return true
    }

    private static func forwardChunk(
        _ rk: OpaquePointer, _ rkt: OpaquePointer, _ chunk: ConsumedBatch, _ picks: [Int32], from start: Int, routes: Routes,
        opaqueBase: UInt, err: inout rd_kafka_resp_err_t
    ) -> Int {
        // Pointers to each route's header value, valid for the duration of the call.
        let values = routes.headerValues.map { value -> UnsafeMutableRawPointer in
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, value.count), alignment: 1)
            value.withUnsafeBytes { if let base = $0.baseAddress { copy.copyMemory(from: base, byteCount: value.count) } }
            return copy
        }
        defer { values.forEach { $0.deallocate() } }
        let sizes = routes.headerValues.map(\.count)
        let stopped = picks.withUnsafeBufferPointer { picks in
            routes.partitions.withUnsafeBufferPointer { partitions in
                sizes.withUnsafeBufferPointer { sizes in
                    values.map { UnsafeRawPointer($0) as UnsafeRawPointer? }.withUnsafeBufferPointer { values in
                        chunk.messages.withMemoryRebound(to: UnsafeMutablePointer<rd_kafka_message_t>?.self, capacity: chunk.count) { messages in
                            logdist_forward(
                                rk, rkt, messages, picks.baseAddress, start, chunk.count, partitions.baseAddress,
                                routes.headerName, values.baseAddress, sizes.baseAddress, opaqueBase, &err)
                        }
                    }
                }
            }
        }
        return Int(stopped)
    }

    /// Asks the cluster for its metadata through this producer's own connections, so records can go to partitions
    /// added since it last looked (librdkafka refreshes by itself only every `topic.metadata.refresh.interval.ms`,
    /// 5 minutes); returns `topic`'s partition count as the cluster now has it.
    public func refreshMetadata(topic: String, timeout: Duration = .seconds(5)) async throws -> Int? {
        let client = client
        return try await executor.query(deadline: timeout + .seconds(1)) { try client.partitionCount(topic: topic, timeout: timeout) }
    }

    /// Produces many messages and throws the first failure, if any, after all have completed.
    public func sendAll(_ messages: [OutgoingMessage]) async throws -> [DeliveryReport] {
        let results = await sendBatch(messages)
        return try results.map { try $0.get() }
    }

    /// Waits until every enqueued message is acknowledged or failed, at most `timeout`.
    /// - Returns: the number of messages still outstanding (0 when everything was delivered).
    @discardableResult
    public func flush(timeout: Duration) async -> Int {
        let client = client
        do {
            _ = try await executor.run { rd_kafka_flush(client.handle, timeout.milliseconds).rawValue }
        } catch {
            client.logger.warning("flush did not run", metadata: [LogKeys.error: "\(error)"])
        }
        // In event mode flush waits for the queue to drain; give the poller time to hand out the last reports.
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(500))
        while core.pendingCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        return max(queueDepth, core.pendingCount)
    }

    /// Flushes for up to `timeout`, then fails whatever is left (purged) so no caller waits forever. Sends from then
    /// on fail at once with `.closed`.
    public func close(timeout: Duration) async {
        closing.withLock { $0 = KafkaError.closed("producer") }
        let left = await flush(timeout: timeout)
        if left > 0 {
            client.logger.warning(
                "producer closed with undelivered messages; they fail with a purge error",
                metadata: [LogKeys.count: "\(left)", LogKeys.client: "\(configuration.clientName)"])
            rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            _ = await flush(timeout: .milliseconds(500))
        }
        poller.stop()
        core.failAll(KafkaError.closed("producer"))
    }

    func runBlocking<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let client = client
        return try await executor.run { try body(client.handle) }
    }

    private func topicHandle(_ name: String) -> OpaquePointer {
        topicHandles.withLock { handles in
            if let known = handles[name] { return known }
            let conf: OpaquePointer? = configuration.stickyPartitioning.flatMap { logdist_sticky_topic_conf(client.handle, Int64($0 / .microseconds(1))) }
            let created = TopicHandle(pointer: rd_kafka_topic_new(client.handle, name, conf))
            handles[name] = created
            return created
        }.pointer
    }

    /// Hands one message to librdkafka, which copies key, value and headers.
    private func enqueue(_ message: OutgoingMessage, rkt: OpaquePointer, opaque: UInt) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                if let value = header.value {
                    _ = value.withUnsafeBytes { rd_kafka_header_add(headers, header.name, -1, $0.baseAddress, $0.count) }
                } else {
                    _ = rd_kafka_header_add(headers, header.name, -1, nil, 0)
                }
            }
        }
        let err: rd_kafka_resp_err_t = withOptionalBytes(message.value) { value in
            withOptionalBytes(message.key) { key in
                // On the stack: an array here was a heap allocation per message.
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { args -> rd_kafka_resp_err_t in
                    var n = 0
                    args[n].vtype = RD_KAFKA_VTYPE_RKT; args[n].u.rkt = rkt; n += 1
                    args[n].vtype = RD_KAFKA_VTYPE_PARTITION; args[n].u.i32 = message.partition ?? -1; n += 1
                    args[n].vtype = RD_KAFKA_VTYPE_VALUE
                    args[n].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    args[n].u.mem.size = value.count; n += 1
                    if let keyBase = key.baseAddress {
                        args[n].vtype = RD_KAFKA_VTYPE_KEY
                        args[n].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBase)
                        args[n].u.mem.size = key.count; n += 1
                    }
                    args[n].vtype = RD_KAFKA_VTYPE_OPAQUE; args[n].u.ptr = UnsafeMutableRawPointer(bitPattern: opaque); n += 1
                    args[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS; args[n].u.i = RD_KAFKA_MSG_F_COPY; n += 1
                    if let headers {
                        args[n].vtype = RD_KAFKA_VTYPE_HEADERS; args[n].u.headers = headers; n += 1
                    }
                    guard let error = rd_kafka_produceva(client.handle, args.baseAddress, n) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                    let code = rd_kafka_error_code(error)
                    rd_kafka_error_destroy(error)
                    return code
                }
            }
        }
        // On success the message owns the headers; on failure they are still ours.
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return err
    }
}

/// `nil` bytes become a null pointer (a Kafka null); an empty array stays an empty, non-null value.
private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    guard let bytes else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    if bytes.isEmpty {
        var zero: UInt8 = 0
        return withUnsafeBytes(of: &zero) { body(UnsafeRawBufferPointer(start: $0.baseAddress, count: 0)) }
    }
    return bytes.withUnsafeBytes(body)
}

/// A cached `rd_kafka_topic_t*`.
/// - Important: destroyed by the producer before its client; librdkafka topic handles are thread-safe.
struct TopicHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// The per-message opaque: a single send's id, or a batch id and the message's index in the batch.
enum OpaqueID {
    static let batchFlag: UInt = 1 << 63
    static let indexBits: UInt = 24
    static let maxBatchSize = 1 << 24

    static func single(_ id: UInt64) -> UInt { UInt(id) }
    static func batch(_ id: UInt64, index: Int) -> UInt { batchFlag | (UInt(id) << indexBits) | UInt(index) }

    enum Decoded {
        case single(UInt64)
        case batch(UInt64, Int)
    }

    static func decode(_ raw: UInt) -> Decoded {
        guard raw & batchFlag != 0 else { return .single(UInt64(raw)) }
        let body = raw & ~batchFlag
        return .batch(UInt64(body >> indexBits), Int(body & ((1 << indexBits) - 1)))
    }
}

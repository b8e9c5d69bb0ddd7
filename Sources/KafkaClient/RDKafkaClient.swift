import LogdistBasics
import CRdKafka
import Dispatch
import Foundation
import Logging
import Synchronization

/// State reachable from librdkafka's C callbacks through the client's opaque pointer.
///
/// - Important: callbacks run on librdkafka's threads (log) or on the thread that polls (rebalance, error),
///   so everything here is `Sendable`.
final class ClientContext: Sendable {
    let logger: Logger
    let name: String
    let rebalanceHandler: (@Sendable (RebalanceEvent) -> Void)?
    /// The last fatal error raised by librdkafka; once set, the client is unusable.
    let fatalError = Mutex<KafkaError?>(nil)
    /// The last broker-connection error (`_TRANSPORT`, `_ALL_BROKERS_DOWN`), cleared by a successful request.
    let lastError = Mutex<KafkaError?>(nil)

    init(logger: Logger, name: String, rebalanceHandler: (@Sendable (RebalanceEvent) -> Void)?) {
        self.logger = logger
        self.name = name
        self.rebalanceHandler = rebalanceHandler
    }

    static func from(_ rk: OpaquePointer?) -> ClientContext? {
        guard let rk, let raw = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<ClientContext>.fromOpaque(raw).takeUnretainedValue()
    }

    func handleError(code: rd_kafka_resp_err_t, reason: String, fatal: Bool) {
        let error = KafkaError(
            kind: fatal ? .fatal : KafkaError.kind(of: code), code: code.rawValue, message: reason, isFatal: fatal)
        if fatal {
            fatalError.withLock { $0 = error }
            logger.critical("librdkafka fatal error", metadata: [LogKeys.kafkaError: "\(error)", LogKeys.client: "\(name)"])
        } else {
            lastError.withLock { $0 = error }
            logger.warning("librdkafka error", metadata: [LogKeys.kafkaError: "\(error)", LogKeys.client: "\(name)"])
        }
    }
}

/// Owns one `rd_kafka_t*`: builds its configuration, routes its logs to swift-log, and destroys it.
///
/// All other Kafka types hold one of these; none of them exposes C to callers.
/// - Important: librdkafka handles are thread-safe, hence `@unchecked Sendable`; the handle lives until `deinit`.
final class RDKafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let context: ClientContext
    private let retainedContext: Unmanaged<ClientContext>
    let logger: Logger

    /// - Parameters:
    ///   - events: librdkafka event types to deliver on the main queue (`RD_KAFKA_EVENT_*`), 0 for none.
    ///   - configure: extra `rd_kafka_conf_t` set-up (callbacks) before the handle is created.
    init(
        type: rd_kafka_type_t, properties: [String: String], logger: Logger, name: String,
        events: Int32 = 0, rebalanceHandler: (@Sendable (RebalanceEvent) -> Void)? = nil,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        let context = ClientContext(logger: logger, name: name, rebalanceHandler: rebalanceHandler)
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let shown = KafkaConfig.isSecret(key) ? "<redacted>" : value
                throw KafkaError(
                    kind: .configuration,
                    message: "librdkafka property \(key)=\(shown): \(String(cBuffer: errstr))")
            }
        }
        let retained = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, retained.toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let context = ClientContext.from(rk) else { return }
            let text = message.map { String(cString: $0) } ?? ""
            let fac = facility.map { String(cString: $0) } ?? ""
            let meta: Logger.Metadata = [LogKeys.facility: "\(fac)", LogKeys.client: "\(context.name)"]
            switch level {
            case 0...2: context.logger.critical("\(text)", metadata: meta)
            case 3: context.logger.error("\(text)", metadata: meta)
            case 4: context.logger.warning("\(text)", metadata: meta)
            case 5, 6: context.logger.info("\(text)", metadata: meta)
            default: context.logger.debug("\(text)", metadata: meta)
            }
        }
        rd_kafka_conf_set_error_cb(conf) { rk, code, reason, _ in
            guard let context = ClientContext.from(rk) else { return }
            var realCode = rd_kafka_resp_err_t(rawValue: code)
            let fatal = realCode == RD_KAFKA_RESP_ERR__FATAL
            var text = reason.map { String(cString: $0) } ?? ""
            if fatal, let rk {
                var buffer = [CChar](repeating: 0, count: 512)
                realCode = rd_kafka_fatal_error(rk, &buffer, buffer.count)
                text = String(cBuffer: buffer)
            }
            context.handleError(code: realCode, reason: text, fatal: fatal)
        }
        if events != 0 {
            rd_kafka_conf_set_events(conf, events)
        }
        configure(conf)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            // rd_kafka_new frees conf only on success.
            rd_kafka_conf_destroy(conf)
            retained.release()
            throw KafkaError(kind: .configuration, message: "cannot create Kafka client: \(String(cBuffer: errstr))")
        }
        self.handle = rk
        self.context = context
        self.retainedContext = retained
        self.logger = logger
    }

    deinit {
        rd_kafka_destroy(handle)
        retainedContext.release()
    }

    /// The fatal error raised by librdkafka, if any: once set, the client must be recreated.
    var fatalError: KafkaError? { context.fatalError.withLock { $0 } }

    /// The cluster id from metadata, or nil if no broker answered within `timeout`.
    func clusterID(timeout: Duration) -> String? {
        guard let raw = rd_kafka_clusterid(handle, timeout.milliseconds) else { return nil }
        defer { rd_kafka_mem_free(handle, raw) }
        return String(cString: raw)
    }

    /// Partitions per topic from a metadata request; topics the broker does not know are absent.
    func partitionCounts(topics: [String]?, timeout: Duration) throws -> [String: Int] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &metadata, timeout.milliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(code: err, context: "metadata request")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int] = [:]
        let wanted = topics.map(Set.init)
        for i in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[i]
            let name = String(cString: topic.topic)
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, wanted?.contains(name) ?? true else { continue }
            result[name] = Int(topic.partition_cnt)
        }
        return result
    }

    /// Partition count of one topic without creating it, nil when the topic does not exist.
    func partitionCount(topic: String, timeout: Duration) throws -> Int? {
        // Asking for all topics never triggers broker-side auto-creation, which a request naming the topic can.
        try partitionCounts(topics: [topic], timeout: timeout)[topic]
    }

    /// Low and high watermarks of a partition, asked of the broker.
    func watermarks(_ tp: TopicPartition, timeout: Duration) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, tp.topic, tp.partition, &low, &high, timeout.milliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "watermarks of \(tp)") }
        return (low, high)
    }
}


/// Runs blocking librdkafka calls off Swift's cooperative pool, on a serial queue of their own.
struct BlockingExecutor: Sendable {
    let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Like `run`, for a query whose answer may be dropped: throws `CancellationError` as soon as the task is
    /// cancelled and a `.timedOut` error after `deadline`, even while librdkafka has not returned; a query whose
    /// caller gave up before it started is not sent.
    ///
    /// librdkafka 2.0's `rd_kafka_query_watermark_offsets` does not honour its timeout while the partition's leader
    /// is unreachable (its request waits out `socket.timeout.ms`, 60 s, and may be retried): a dispatcher whose
    /// broker had gone took minutes to stop on SIGTERM, its health loop waiting for such queries.
    func query<T: Sendable>(deadline: Duration, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let pending = PendingQuery<T>()
        let queue = queue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard pending.install(continuation) else {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                queue.async {
                    guard !pending.isFinished else { return }
                    pending.finish(Result { try body() })
                }
                let milliseconds = Int(min(deadline, .seconds(86_400)).milliseconds)
                DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
                    pending.finish(.failure(KafkaError(kind: .timedOut, message: "no answer from librdkafka within \(deadline)")))
                }
            }
        } onCancel: {
            pending.finish(.failure(CancellationError()))
        }
    }
}

/// The one outcome of a ``BlockingExecutor/query(deadline:_:)``: the first of answer, deadline and cancellation.
private final class PendingQuery<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var finished = false
    }

    private let state = Mutex(State())

    var isFinished: Bool { state.withLock { $0.finished } }

    /// False when the query already finished (cancelled before it began).
    func install(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        state.withLock { state in
            guard !state.finished else { return false }
            state.continuation = continuation
            return true
        }
    }

    func finish(_ result: Result<T, any Error>) {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}

/// Topic-partition lists cross into C here and back.
enum PartitionList {
    /// Builds an `rd_kafka_topic_partition_list_t`; the caller destroys it.
    static func make(_ items: [TopicPartitionOffset]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(items.count, 1)))!
        for item in items {
            let entry = rd_kafka_topic_partition_list_add(list, item.topic, item.partition)!
            entry.pointee.offset = item.offset
        }
        return list
    }

    static func make(_ items: [TopicPartition]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        make(items.map { TopicPartitionOffset($0.topic, $0.partition, KafkaOffset.invalid) })
    }

    static func read(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartitionOffset] {
        (0..<Int(list.pointee.cnt)).map { i in
            let entry = list.pointee.elems[i]
            return TopicPartitionOffset(String(cString: entry.topic), entry.partition, entry.offset)
        }
    }

    /// The first per-partition error in a list, if any.
    static func firstError(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>, context: String) -> KafkaError? {
        for i in 0..<Int(list.pointee.cnt) where list.pointee.elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let entry = list.pointee.elems[i]
            return KafkaError(
                code: entry.err, context: "\(context) \(String(cString: entry.topic))[\(entry.partition)]")
        }
        return nil
    }
}

extension String {
    /// A string from a NUL-terminated C buffer that librdkafka filled.
    init(cBuffer: [CChar]) {
        let bytes = cBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

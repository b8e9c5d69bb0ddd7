import CRdKafka

/// An error from Kafka or from librdkafka, with the librdkafka code where there is one.
///
/// `isRetriable`, `isFatal` and `requiresAbort` follow librdkafka's classification
/// (`rd_kafka_error_is_retriable`, `rd_kafka_error_is_fatal`, `rd_kafka_error_txn_requires_abort`),
/// so callers decide between retrying, aborting a transaction and giving up without parsing text.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The local produce queue is full: back off and retry later (backpressure).
        case queueFull
        /// The message or request timed out before the broker acknowledged it.
        case timedOut
        /// A configuration property was rejected.
        case configuration
        /// A request to the broker failed; see `code`.
        case broker
        /// The client hit a fatal error (for example a fenced or out-of-sequence idempotent producer).
        case fatal
        /// The client is closed.
        case closed
        /// The broker or the request is not supported (for example CreateTopics on the embedded broker).
        case unsupported
        /// A topic or partition does not exist.
        case unknownTopicOrPartition
        /// A value could not be handled (bad argument, message too large, …).
        case invalidArgument
    }

    public let kind: Kind
    /// The librdkafka error code (`rd_kafka_resp_err_t`), or 0 when the error did not come from librdkafka.
    public let code: Int32
    public let message: String
    public let isRetriable: Bool
    public let isFatal: Bool
    /// For transactions: the current transaction must be aborted before a new one can begin.
    public let requiresAbort: Bool

    public init(
        kind: Kind, code: Int32 = 0, message: String,
        isRetriable: Bool = false, isFatal: Bool = false, requiresAbort: Bool = false
    ) {
        self.kind = kind
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal || kind == .fatal
        self.requiresAbort = requiresAbort
    }

    /// The librdkafka name of `code`, such as `_QUEUE_FULL` or `NOT_LEADER_FOR_PARTITION`.
    public var codeName: String {
        String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(code)))
    }

    public var description: String {
        var flags: [String] = []
        if isRetriable { flags.append("retriable") }
        if isFatal { flags.append("fatal") }
        if requiresAbort { flags.append("abort-required") }
        let suffix = flags.isEmpty ? "" : " [\(flags.joined(separator: ", "))]"
        return code == 0 ? "\(kind.rawValue): \(message)\(suffix)" : "\(kind.rawValue) \(codeName): \(message)\(suffix)"
    }

    static func kind(of code: rd_kafka_resp_err_t) -> Kind {
        switch code {
        case RD_KAFKA_RESP_ERR__QUEUE_FULL: return .queueFull
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
            return .timedOut
        case RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR__FENCED, RD_KAFKA_RESP_ERR_PRODUCER_FENCED,
            RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
            return .fatal
        case RD_KAFKA_RESP_ERR__DESTROY: return .closed
        case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION: return .unsupported
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            return .unknownTopicOrPartition
        case RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
            return .invalidArgument
        default: return .broker
        }
    }

    /// An error from a bare response code; retriable for the transient codes librdkafka itself retries.
    init(code: rd_kafka_resp_err_t, context: String) {
        let text = String(cString: rd_kafka_err2str(code))
        let kind = Self.kind(of: code)
        let retriable: Bool
        switch code {
        case RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR__WAIT_COORD,
            RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
            retriable = true
        default:
            retriable = false
        }
        self.init(
            kind: kind, code: code.rawValue, message: context.isEmpty ? text : "\(context): \(text)",
            isRetriable: retriable)
    }

    /// Reads and destroys an `rd_kafka_error_t`.
    ///
    /// - Important: takes ownership of `error` and destroys it.
    init(consuming error: OpaquePointer, context: String) {
        let code = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        let fatal = rd_kafka_error_is_fatal(error) != 0
        let retriable = rd_kafka_error_is_retriable(error) != 0
        let abort = rd_kafka_error_txn_requires_abort(error) != 0
        rd_kafka_error_destroy(error)
        self.init(
            kind: fatal ? .fatal : Self.kind(of: code), code: code.rawValue,
            message: context.isEmpty ? text : "\(context): \(text)",
            isRetriable: retriable, isFatal: fatal, requiresAbort: abort)
    }

    public static func closed(_ what: String) -> KafkaError {
        KafkaError(kind: .closed, message: "\(what) is closed")
    }

    public static func == (lhs: KafkaError, rhs: KafkaError) -> Bool {
        lhs.kind == rhs.kind && lhs.code == rhs.code && lhs.message == rhs.message
    }
}

import LogdistBasics
import Logging
import Synchronization

/// Says a recurring condition once: when it starts or changes, and once more when it clears.
///
/// A heartbeat that cannot be delivered while a partition fails over would otherwise log every 500 ms for as long
/// as the failover lasts.
public final class ConditionLog: Sendable {
    private let logger: Logger
    private let what: String
    /// The condition last reported, nil while all is well.
    private let current = Mutex<String?>(nil)

    /// - Parameter what: the operation, as the log lines say it ("heartbeat", "commit").
    public init(_ what: String, logger: Logger) {
        self.what = what
        self.logger = logger
    }

    /// Reports a failure; logs only when the condition (the error's kind and code) differs from the last one.
    public func failed(_ error: any Error, action: String) {
        let condition = (error as? KafkaError).map { "\($0.kind)/\($0.code)" } ?? "\(type(of: error))"
        let isNew = current.withLock { last in
            defer { last = condition }
            return last != condition
        }
        if isNew {
            logger.warning("\(what) failed; \(action)", metadata: [LogKeys.kafkaError: "\(error)"])
        }
    }

    /// Reports success; logs once if a failure had been reported.
    public func succeeded() {
        let wasFailing = current.withLock { last in
            defer { last = nil }
            return last != nil
        }
        if wasFailing { logger.info("\(what) works again") }
    }
}

import KafkaClient

/// How one routed batch becomes durable, step by step, and what every outcome librdkafka documents leads to.
///
/// Exactly-once: begin → produce and send offsets together → commit, one Kafka transaction; at-least-once: produce →
/// commit the input offsets. In a transaction the offsets are sent while the records are still on their way
/// (Kafka's AddOffsetsToTxn and TxnOffsetCommit do not wait for the produce, and the commit is only asked for once
/// every record is acknowledged), so a transaction pays the longer of the two round trips instead of their sum. The rules, from librdkafka's transactional API (`rd_kafka_error_is_retriable`,
/// `rd_kafka_error_txn_requires_abort`, `rd_kafka_error_is_fatal`):
/// - a retriable error: call the same step again (bounded, then treat the batch as failed) — except a produce, whose
///   records may be partly delivered: the transaction is aborted and the batch redone;
/// - an abortable error, or a produce that failed: abort the transaction, then redo the batch from its first offsets;
/// - a fatal error (fenced by a newer instance with the same transactional id, or a broken idempotent producer):
///   give up; the service ends and says why;
/// - a committed batch is done, whatever rebalance happened around it: its offsets went into the transaction (or
///   the group accepted the commit), so redoing it would duplicate it.
///
/// A rebalance does not enter the decision: when it moved partitions before the commit, the commit fails (the
/// transaction's group generation is stale) and the batch is aborted and redone where this instance still owns it.
public struct CommitDecider: Sendable {
    public enum Step: Sendable, Hashable {
        case begin, produce, sendOffsets, commit, abort
        /// `produce` and `sendOffsets` at once, inside the transaction; answered by ``next(afterProduce:offsets:)``.
        case produceAndSendOffsets
    }

    /// What a step answered.
    public enum Outcome: Sendable, Equatable {
        case success
        /// `rd_kafka_error_is_retriable`: the same call may succeed if made again.
        case retriable
        /// `rd_kafka_error_txn_requires_abort`: the transaction must be aborted.
        case abortable
        /// `rd_kafka_error_is_fatal` (includes fenced): the producer cannot continue.
        case fatal
        /// Any other failure (a delivery error, a state error).
        case failed

        public init(_ error: (any Error)?) {
            guard let error else {
                self = .success
                return
            }
            guard let kafka = error as? KafkaError else {
                self = .failed
                return
            }
            if kafka.isFatal {
                self = .fatal
            } else if kafka.requiresAbort {
                self = .abortable
            } else if kafka.isRetriable {
                self = .retriable
            } else {
                self = .failed
            }
        }
    }

    public enum Action: Sendable, Equatable {
        case run(Step)
        case retry(Step, after: Duration)
        /// Durable: the batch is done and must never be redone.
        case done
        /// Not durable and nothing left open: redo the batch from its first offsets.
        case redo
        /// The producer cannot continue.
        case giveUp
    }

    public let mode: DeliveryMode
    public let maxRetries: Int
    private var retries: [Step: Int] = [:]

    public init(mode: DeliveryMode, maxRetries: Int = 8) {
        self.mode = mode
        self.maxRetries = maxRetries
    }

    /// The first step.
    public var first: Step { mode == .exactlyOnce ? .begin : .produce }

    /// The next action after `step` answered `outcome`. For ``Step/produceAndSendOffsets`` it is the answer of both.
    public mutating func next(after step: Step, _ outcome: Outcome) -> Action {
        if step == .produceAndSendOffsets { return next(afterProduce: outcome, offsets: outcome) }
        if outcome == .fatal { return .giveUp }
        switch mode {
        case .exactlyOnce: return transactional(step, outcome)
        case .atLeastOnce: return plain(step, outcome)
        }
    }

    /// The next action after ``Step/produceAndSendOffsets``: the produce answered `produced`, the offsets `offsets`.
    ///
    /// Fatal in either gives up. A produce that did not succeed aborts, whatever the offsets answered (the aborted
    /// transaction takes its offsets with it). A produce that succeeded leaves the offsets' answer to decide, as if
    /// they had been sent after it: a retriable one sends them again, alone.
    public mutating func next(afterProduce produced: Outcome, offsets: Outcome) -> Action {
        if produced == .fatal || offsets == .fatal { return .giveUp }
        guard mode == .exactlyOnce else { return plain(.produce, produced) }
        if produced != .success { return .run(.abort) }
        return transactional(.sendOffsets, offsets)
    }

    private mutating func transactional(_ step: Step, _ outcome: Outcome) -> Action {
        if outcome == .success {
            switch step {
            case .begin: return .run(.produceAndSendOffsets)
            case .produceAndSendOffsets: return .run(.commit)
            case .produce: return .run(.sendOffsets)
            case .sendOffsets: return .run(.commit)
            case .commit: return .done
            case .abort: return .redo
            }
        }
        // A produce is never retried inside the transaction: records delivered before the failure would be sent twice.
        if outcome == .retriable, step != .produce, step != .produceAndSendOffsets, let retry = retry(step) { return retry }
        switch step {
        case .abort:
            // An abort that keeps failing leaves a transaction open that no new one can follow; a non-retriable,
            // non-fatal answer (no transaction in progress) means there is nothing left to abort.
            return outcome == .retriable ? .giveUp : .redo
        case .begin, .produce, .sendOffsets, .produceAndSendOffsets, .commit:
            return .run(.abort)
        }
    }

    private mutating func plain(_ step: Step, _ outcome: Outcome) -> Action {
        switch (step, outcome) {
        case (.produce, .success): return .run(.commit)
        case (.commit, .success): return .done
        case (.commit, .retriable):
            return retry(.commit) ?? .redo
        default:
            // Outputs may be in Kafka and the input not committed: redo (at-least-once; analysers dedupe).
            return .redo
        }
    }

    private mutating func retry(_ step: Step) -> Action? {
        let count = retries[step, default: 0]
        guard count < maxRetries else { return nil }
        retries[step] = count + 1
        return .retry(step, after: KafkaRetry.backoff(attempt: count, cap: .seconds(1)))
    }
}

/// Which of the dispatcher's transactional producers runs the next transaction. Pure, so its rule is tested
/// without Kafka.
///
/// Why more than one: when a transaction commits, the coordinator answers EndTxn once the commit is decided and
/// writes the commit markers afterwards; until they are written, the same producer's next transaction is refused
/// with CONCURRENT_TRANSACTIONS (AddPartitionsToTxn, which librdkafka 2.0.2 retries after a fixed 20 ms, and
/// AddOffsetsToTxn, after `retry.backoff.ms`). A second producer, with its own transactional id, has no such wait:
/// it begins as soon as the first one's commit returned, and by the time its own commit is done the first one's
/// markers are long written. Transactions still run one at a time — the next begins only once the previous one is
/// committed or aborted — so the output's order and the offsets' order are those of one producer.
struct TransactionTurns: Equatable {
    let producers: Int
    /// The producer of the next transaction.
    private(set) var current = 0

    init(producers: Int) {
        precondition(producers >= 1, "at least one producer")
        self.producers = producers
    }

    /// Takes the producer for a transaction about to begin; the one after it goes next, whether this transaction
    /// commits or aborts (an abort writes markers too).
    mutating func take() -> Int {
        defer { current = (current + 1) % producers }
        return current
    }
}

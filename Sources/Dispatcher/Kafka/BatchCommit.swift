import KafkaClient

/// Makes one routed batch durable — produce, offsets, commit — in the steps `CommitDecider` chooses: the dispatcher's
/// batches and a drain's.
enum BatchCommit {
    /// Runs the steps `CommitDecider` chooses until the batch is durable (returns), must be redone (throws the
    /// error that made it so), or the producer cannot continue (throws a fatal error).
    /// - Parameter generation: the consumer group metadata of the poll the batch came from. Offsets are committed
    ///   under that generation, so a batch polled before a rebalance is refused by the group coordinator
    ///   (ILLEGAL_GENERATION: aborted, redone by whoever owns its partitions now) instead of committing offsets of
    ///   partitions that may already belong to another member. nil: the consumer's current metadata (a drain,
    ///   which assigns its partition itself).
    static func run(
        _ chunks: [ConsumedBatch], picks: [[Int32]], routes: KafkaProducer.Routes, offsets: [TopicPartitionOffset],
        sink: BatchSink, consumer: KafkaConsumer, generation: ConsumerGroupMetadata? = nil
    ) async throws {
        var decider = CommitDecider(mode: sink.mode)
        var step = decider.first
        var cause: (any Error)?
        while true {
            var failure: (any Error)?
            let action: CommitDecider.Action
            if step == .produceAndSendOffsets {
                let (produced, sent) = await produceAndSendOffsets(
                    chunks, picks: picks, routes: routes, offsets: offsets, sink: sink, consumer: consumer,
                    generation: generation)
                failure = produced ?? sent
                if let failure { cause = failure }
                action = decider.next(afterProduce: CommitDecider.Outcome(produced), offsets: CommitDecider.Outcome(sent))
            } else {
                do {
                    try await perform(
                        step, chunks: chunks, picks: picks, routes: routes, offsets: offsets, sink: sink, consumer: consumer,
                        generation: generation)
                } catch {
                    failure = error
                    if step != .abort { cause = error }
                }
                action = decider.next(after: step, CommitDecider.Outcome(failure))
            }
            switch action {
            case .run(let next):
                step = next
            case .retry(let again, let pause):
                try await Task.sleep(for: pause)
                step = again
            case .done:
                return
            case .redo:
                throw cause ?? failure ?? KafkaError(kind: .broker, message: "batch not committed")
            case .giveUp:
                let error = failure ?? cause
                if let kafka = error as? KafkaError, kafka.isFatal { throw kafka }
                throw KafkaError(
                    kind: .fatal, message: "the transaction could not be aborted: \(error.map { "\($0)" } ?? "unknown")")
            }
        }
    }

    /// Produces the batch and sends its offsets into the open transaction at the same time (the `.produce` and
    /// `.sendOffsets` steps of ``perform``); answers each one's error. The commit that follows is only asked for once
    /// both answered, so every output is acknowledged before it.
    private static func produceAndSendOffsets(
        _ chunks: [ConsumedBatch], picks: [[Int32]], routes: KafkaProducer.Routes, offsets: [TopicPartitionOffset],
        sink: BatchSink, consumer: KafkaConsumer, generation: ConsumerGroupMetadata?
    ) async -> (produced: (any Error)?, offsets: (any Error)?) {
        func attempt(_ step: CommitDecider.Step) async -> (any Error)? {
            do {
                try await perform(
                    step, chunks: chunks, picks: picks, routes: routes, offsets: offsets, sink: sink, consumer: consumer,
                    generation: generation)
                return nil
            } catch {
                return error
            }
        }
        async let sent = attempt(.sendOffsets)
        let produced = await attempt(.produce)
        return (produced, await sent)
    }

    private static func perform(
        _ step: CommitDecider.Step, chunks: [ConsumedBatch], picks: [[Int32]], routes: KafkaProducer.Routes,
        offsets: [TopicPartitionOffset], sink: BatchSink, consumer: KafkaConsumer, generation: ConsumerGroupMetadata?
    ) async throws {
        switch (step, sink) {
        case (.begin, .transactional(let txn)):
            try await txn.beginTransaction()
        case (.produce, _):
            // Every output acknowledged before anything is committed.
            try await sink.producer.forward(chunks, picks: picks, routes: routes)
        case (.sendOffsets, .transactional(let txn)):
            try await txn.sendOffsetsToTransaction(offsets, groupMetadata: try generation ?? consumer.groupMetadata(), timeout: .seconds(30))
        case (.commit, .transactional(let txn)):
            try await txn.commitTransaction(timeout: .seconds(60))
        case (.commit, .plain):
            try await consumer.commit(offsets)
        case (.abort, .transactional(let txn)):
            try await txn.abortTransaction(timeout: .seconds(60))
        case (.produceAndSendOffsets, _):
            preconditionFailure("produceAndSendOffsets is run by produceAndSendOffsets(_:…), not perform")
        case (.begin, .plain), (.sendOffsets, .plain), (.abort, .plain):
            preconditionFailure("CommitDecider chose \(step) for a non-transactional producer")
        }
    }
}

import KafkaClient
import LogdistBasics
import Logging

/// The routing loop's input: collecting batches from the consumer, nudging its fetcher through a backlog, rewinding
/// a batch to redo it, and holding the input while no analyser is healthy.
extension BatchRouter {
    /// Collects a batch with nothing else in flight: it ships as soon as it has something (see `BatchWindow`).
    /// The records stay in librdkafka's buffers: the dispatcher never copies or decodes a packet.
    mutating func collectBatch() async throws -> InputBatch {
        try await collectBatch(behind: nil).batch
    }

    /// - Parameter previous: the batch still being committed, if any. The new batch ships once it is durable (or
    ///   when full, or after `commitInterval`); revocations that arrive meanwhile concern it too, so they are
    ///   reported, not forgotten.
    mutating func collectBatch(behind previous: CommitSignal?) async throws -> (batch: InputBatch, revoked: Bool) {
        var batch = InputBatch()
        // Nothing is in hand between batches, so earlier revocations no longer matter, but for the windows.
        if previous == nil { forgetWindows(of: revocations.take()) }
        let window = BatchWindow(
            start: .now, linger: config.linger(for: sinks.mode), maxWindow: config.commitInterval, capacity: config.batchSize)
        var lastPollEmpty = false
        while !Task.isCancelled {
            let step = window.next(
                count: batch.count, previousDurable: previous?.isDone ?? true, lastPollEmpty: lastPollEmpty, now: .now)
            guard case .poll(let slice) = step else { break }
            let polled = try await consumer.pollRaw(maxMessages: config.batchSize - batch.count, timeout: slice)
            for error in polled.errors {
                logger.warning("fetch error", metadata: [LogKeys.kafkaError: "\(error.error)"])
            }
            if !polled.isEmpty {
                if batch.isEmpty, sinks.mode == .exactlyOnce { batch.generation = try consumer.groupMetadata() }
                batch.append(polled)
            }
            let revoked = revocations.take()
            forgetWindows(of: revoked)
            if !revoked.isEmpty {
                // A rebalance happened mid-batch: drop what is in hand. Partitions we lost restart at their
                // committed offsets with the new owner; partitions we kept are rewound to the same place.
                await rewind(to: batch.firstOffsets)
                return (InputBatch(), true)
            }
            lastPollEmpty = polled.isEmpty
        }
        let full = batch.count >= config.batchSize
        if full || previousWasFull { nudgeFetcher() }
        previousWasFull = full
        return (batch, false)
    }

    /// librdkafka 2.0 stops fetching while the local queue holds `queued.min.messages` and looks again up to a second
    /// later; a dispatcher working through a backlog drains the queue far faster (measured: a 0.7 s stall per
    /// 100 000 packets, half the throughput). While batches come full, wake the fetcher, one partition's leader per
    /// batch in turn (see `KafkaConsumer.wakeFetcher`).
    mutating func nudgeFetcher() {
        guard !paused else { return }
        let partitions = service.runtime.withLock { $0.inputPartitions }
        guard !partitions.isEmpty else { return }
        nudges &+= 1
        consumer.wakeFetcher(for: TopicPartition(config.topics.packets, partitions[nudges % partitions.count]))
    }

    /// Seeks the batch's partitions back to where the batch began (partitions since revoked are skipped).
    func rewind(to firstOffsets: [TopicPartition: Int64]) async {
        let owned = Set(currentAssignment())
        let targets = firstOffsets.filter { owned.contains($0.key) }.map { TopicPartitionOffset($0.key.topic, $0.key.partition, $0.value) }
        guard !targets.isEmpty else { return }
        do {
            try await consumer.seek(targets, timeout: .seconds(10))
        } catch {
            logger.error("rewind failed; the group will redo the batch after the next rebalance", metadata: [LogKeys.kafkaError: "\(error)"])
        }
    }

    /// The consumer's partitions; none (logged) if librdkafka cannot say, which happens only once it is closing.
    func currentAssignment() -> [TopicPartition] {
        do {
            return try consumer.assignment()
        } catch {
            logger.warning("the consumer cannot tell its assignment", metadata: [LogKeys.kafkaError: "\(error)"])
            return []
        }
    }

    /// No healthy analyser: pause every input partition (the backlog waits in Kafka) and keep serving rebalances.
    mutating func holdInput() async throws {
        let assignment = currentAssignment()
        try consumer.pause(assignment)
        if !paused {
            paused = true
            service.setPaused(true)
            logger.warning("no healthy analyser: input paused", metadata: ["kafka.partitions": "\(assignment.count)"])
        }
        let polled = try await consumer.pollRaw(maxMessages: 1000, timeout: .milliseconds(100))
        if !polled.isEmpty {
            // Fetched before the pause took effect: put them back.
            await rewind(to: InputBatch(chunks: [polled]).firstOffsets)
            try consumer.pause(assignment)
        }
    }

    mutating func resumeInput() throws {
        let assignment = currentAssignment()
        try consumer.resume(assignment)
        // Resuming does not wake a broker thread that had nothing to fetch: nudge every leader (see wakeFetchers).
        consumer.wakeFetchers(for: assignment)
        paused = false
        service.setPaused(false)
        logger.info("a healthy analyser is back: input resumed", metadata: ["kafka.partitions": "\(assignment.count)"])
    }
}

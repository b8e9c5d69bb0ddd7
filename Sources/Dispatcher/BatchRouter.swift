import Common
import Logging

/// The routing loop's state and steps; owned by one task.
struct BatchRouter {
    let service: DispatcherService
    let consumer: KafkaConsumer
    let sink: BatchSink
    let revocations: Revocations
    private var selector = WeightedSelector()
    private var paused = false
    private var logger: Logger { service.logger }
    private var config: DispatcherConfig { service.config }

    init(service: DispatcherService, consumer: KafkaConsumer, sink: BatchSink, revocations: Revocations) {
        self.service = service
        self.consumer = consumer
        self.sink = sink
        self.revocations = revocations
    }

    mutating func loop() async throws {
        while !Task.isCancelled {
            if healthyMembers().isEmpty {
                try await holdInput()
                continue
            }
            if paused { try resumeInput() }
            let batch = try await collectBatch()
            guard !batch.isEmpty else { continue }
            // Health is read again once the batch is in hand: collecting can take a while, and an analyser that
            // went stale meanwhile must not get this batch.
            let members = healthyMembers()
            if members != selector.members { selector.update(members) }
            guard !members.isEmpty else {
                await rewind(to: Self.firstOffsets(of: batch))
                continue
            }
            try await dispatch(batch)
        }
    }

    private func healthyMembers() -> [SelectorMember] {
        service.runtime.withLock { r in
            r.table.healthyMembers(nowMs: epochMilliseconds()).filter { $0.partition < r.assignedSlots }
        }
    }

    /// Up to `batchSize` packets or `commitInterval`, whichever first; ships early when input goes quiet.
    private mutating func collectBatch() async throws -> [KafkaMessage] {
        var batch: [KafkaMessage] = []
        // Nothing is in hand between batches, so earlier revocations no longer matter.
        _ = revocations.take()
        let deadline = ContinuousClock.now.advanced(by: config.commitInterval)
        while batch.count < config.batchSize, !Task.isCancelled {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            let slice = batch.isEmpty ? min(remaining, .milliseconds(100)) : min(remaining, .milliseconds(2))
            let polled = try await consumer.poll(maxMessages: config.batchSize - batch.count, timeout: slice)
            for error in polled.errors {
                logger.warning("fetch error", metadata: [LogKeys.kafkaError: "\(error.error)"])
            }
            batch += polled.messages
            if !revocations.take().isEmpty {
                // A rebalance happened mid-batch: drop what is in hand. Partitions we lost restart at their
                // committed offsets with the new owner; partitions we kept are rewound to the same place.
                await rewind(to: Self.firstOffsets(of: batch))
                return []
            }
            if polled.messages.isEmpty { break }
        }
        return batch
    }

    /// Routes a batch and makes it durable; on failure rewinds the input so the batch is redone.
    private mutating func dispatch(_ batch: [KafkaMessage]) async throws {
        let assigned = config.topics.assigned
        var outgoing: [OutgoingMessage] = []
        outgoing.reserveCapacity(batch.count)
        var counts: [String: Int64] = [:]
        var headerFor: [String: KafkaHeader] = [:]
        for message in batch {
            guard let member = selector.next() else { break }
            counts[member.id, default: 0] += 1
            let analyserHeader: KafkaHeader
            if let known = headerFor[member.id] {
                analyserHeader = known
            } else {
                analyserHeader = KafkaHeader(HeaderNames.analyser, string: member.id)
                headerFor[member.id] = analyserHeader
            }
            var headers = [analyserHeader]
            if let ingest = message.headers.first(where: { $0.name == HeaderNames.ingestTime }) { headers.append(ingest) }
            outgoing.append(OutgoingMessage(topic: assigned, partition: member.partition, key: message.key, value: message.value, headers: headers))
        }
        var nextOffsets: [TopicPartition: Int64] = [:]
        for message in batch {
            let tp = TopicPartition(message.topic, message.partition)
            nextOffsets[tp] = max(nextOffsets[tp] ?? 0, message.offset + 1)
        }
        let firstOffsets = Self.firstOffsets(of: batch)
        let offsets = nextOffsets.map { TopicPartitionOffset($0.key.topic, $0.key.partition, $0.value) }
        let started = ContinuousClock.now
        do {
            try await commit(outgoing, offsets: offsets)
        } catch let error as KafkaError where error.isFatal {
            logger.critical("dispatcher cannot continue (another instance with the same transactional id?)", metadata: [LogKeys.kafkaError: "\(error)"])
            throw error
        } catch {
            service.metrics.aborts.increment()
            logger.warning("batch not committed; rewinding to redo it", metadata: [LogKeys.kafkaError: "\(error)", LogKeys.count: "\(batch.count)"])
            await rewind(to: firstOffsets)
            try? await Task.sleep(for: .milliseconds(100))
            return
        }
        service.metrics.commitLatency.record(ContinuousClock.now - started)
        service.metrics.batches.increment()
        service.recordDispatched(counts, members: selector.members)
    }

    private func commit(_ outgoing: [OutgoingMessage], offsets: [TopicPartitionOffset]) async throws {
        switch sink {
        case .transactional(let txn):
            try await txn.beginTransaction()
            do {
                _ = try await txn.sendAll(outgoing)
                try await txn.sendOffsetsToTransaction(offsets, groupMetadata: try consumer.groupMetadata(), timeout: .seconds(30))
                try await txn.commitTransaction(timeout: .seconds(60))
            } catch let error as KafkaError where error.isFatal {
                throw error
            } catch {
                do {
                    try await txn.abortTransaction(timeout: .seconds(60))
                } catch let abortError as KafkaError where abortError.isFatal {
                    throw abortError
                }
                throw error
            }
        case .plain(let producer):
            // At-least-once: every output acknowledged before the input offsets are committed.
            _ = try await producer.sendAll(outgoing)
            try await consumer.commit(offsets)
        }
    }

    /// Seeks the batch's partitions back to where the batch began (partitions since revoked are skipped).
    private func rewind(to firstOffsets: [TopicPartition: Int64]) async {
        let owned = Set((try? consumer.assignment()) ?? [])
        let targets = firstOffsets.filter { owned.contains($0.key) }.map { TopicPartitionOffset($0.key.topic, $0.key.partition, $0.value) }
        guard !targets.isEmpty else { return }
        do {
            try await consumer.seek(targets, timeout: .seconds(10))
        } catch {
            logger.error("rewind failed; the group will redo the batch after the next rebalance", metadata: [LogKeys.kafkaError: "\(error)"])
        }
    }

    /// No healthy analyser: pause every input partition (the backlog waits in Kafka) and keep serving rebalances.
    private mutating func holdInput() async throws {
        let assignment = (try? consumer.assignment()) ?? []
        try consumer.pause(assignment)
        if !paused {
            paused = true
            service.setPaused(true)
            logger.warning("no healthy analyser: input paused", metadata: ["kafka.partitions": "\(assignment.count)"])
        }
        let polled = try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
        if !polled.messages.isEmpty {
            // Fetched before the pause took effect: put them back.
            await rewind(to: Self.firstOffsets(of: polled.messages))
            try consumer.pause(assignment)
        }
    }

    static func firstOffsets(of messages: [KafkaMessage]) -> [TopicPartition: Int64] {
        var first: [TopicPartition: Int64] = [:]
        for message in messages {
            let tp = TopicPartition(message.topic, message.partition)
            first[tp] = min(first[tp] ?? .max, message.offset)
        }
        return first
    }

    private mutating func resumeInput() throws {
        let assignment = (try? consumer.assignment()) ?? []
        try consumer.resume(assignment)
        paused = false
        service.setPaused(false)
        logger.info("a healthy analyser is back: input resumed", metadata: ["kafka.partitions": "\(assignment.count)"])
    }
}

import LogdistBasics
import KafkaClient
import PacketModel
import Logging
import Synchronization

/// The routing loop's state and steps; owned by one task.
struct BatchRouter {
    let service: DispatcherService
    let consumer: KafkaConsumer
    let sink: BatchSink
    let revocations: Revocations
    private var selector = WeightedSelector()
    /// For `--weight-by messages|bytes`: picks by each packet's cost.
    private var costSelector = CostSelector()
    private var retries: RetryFilter
    private let retryLog: ConditionLog
    private var paused = false
    /// Partitions of the assigned topic the producer is known to see; more appear when an analyser grows the topic.
    private var producerSlots: Int32 = 0
    private var nextMetadataRefresh = ContinuousClock.now
    private var previousWasFull = false
    private var nudges = 0
    private var logger: Logger { service.logger }
    private var config: DispatcherConfig { service.config }

    init(service: DispatcherService, consumer: KafkaConsumer, sink: BatchSink, revocations: Revocations) {
        self.service = service
        self.consumer = consumer
        self.sink = sink
        self.revocations = revocations
        self.retries = RetryFilter(span: service.config.retryWindow, maxAgeMs: Int64(service.config.retryWindowAge.milliseconds))
        self.retryLog = ConditionLog("reading the retry window back", logger: service.logger)
    }

    mutating func loop() async throws {
        // A batch collected while the previous one was being made durable.
        var carried = InputBatch()
        while !Task.isCancelled {
            if await healthyMembers().isEmpty {
                if !carried.isEmpty {
                    await rewind(to: carried.firstOffsets)
                    carried = InputBatch()
                }
                try await holdInput()
                continue
            }
            if paused { try resumeInput() }
            let batch: InputBatch
            if carried.isEmpty {
                batch = try await collectBatch()
            } else {
                batch = carried
                carried = InputBatch()
            }
            guard !batch.isEmpty else { continue }
            // Health is read again once the batch is in hand: collecting can take a while, and an analyser that
            // went stale meanwhile must not get this batch.
            let members = await healthyMembers()
            if members != selector.members {
                selector.update(members)
                costSelector.update(members)
            }
            guard selector.totalWeight > 0 else {
                await rewind(to: batch.firstOffsets)
                continue
            }
            carried = try await dispatch(batch)
        }
        if !carried.isEmpty { await rewind(to: carried.firstOffsets) }
    }

    /// Healthy analysers whose partitions the topic has and the producer knows of: a partition added since is
    /// routed to once the producer's metadata shows it (refreshed here, at most once a second while it lags).
    private mutating func healthyMembers() async -> [SelectorMember] {
        let (members, slots) = service.runtime.withLock { r in
            (r.table.healthyMembers(nowMs: epochMilliseconds()).filter { $0.partition < r.assignedSlots }, r.assignedSlots)
        }
        if slots > producerSlots, ContinuousClock.now >= nextMetadataRefresh {
            nextMetadataRefresh = ContinuousClock.now + .seconds(1)
            do {
                if let count = try await sink.producer.refreshMetadata(topic: config.topics.assigned) {
                    producerSlots = Int32(count)
                    logger.info("routing to \(count) analyser partitions", metadata: [LogKeys.topic: "\(config.topics.assigned)"])
                }
            } catch {
                logger.warning("the producer's metadata could not be refreshed", metadata: [LogKeys.kafkaError: "\(error)"])
            }
        }
        return members.filter { $0.partition < producerSlots }
    }

    /// Collects a batch with nothing else in flight: it ships as soon as it has something (see `BatchWindow`).
    /// The records stay in librdkafka's buffers: the dispatcher never copies or decodes a packet.
    private mutating func collectBatch() async throws -> InputBatch {
        try await collectBatch(behind: nil).batch
    }

    /// - Parameter previous: the batch still being committed, if any. The new batch ships once it is durable (or
    ///   when full, or after `commitInterval`); revocations that arrive meanwhile concern it too, so they are
    ///   reported, not forgotten.
    private mutating func collectBatch(behind previous: CommitSignal?) async throws -> (batch: InputBatch, revoked: Bool) {
        var batch = InputBatch()
        // Nothing is in hand between batches, so earlier revocations no longer matter, but for the windows.
        if previous == nil { forgetWindows(of: revocations.take()) }
        let window = BatchWindow(
            start: .now, linger: config.linger(for: sink.mode), maxWindow: config.commitInterval, capacity: config.batchSize)
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
                if batch.isEmpty, sink.mode == .exactlyOnce { batch.generation = try consumer.groupMetadata() }
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
    private mutating func nudgeFetcher() {
        guard !paused else { return }
        let partitions = service.runtime.withLock { $0.inputPartitions }
        guard !partitions.isEmpty else { return }
        nudges &+= 1
        consumer.wakeFetcher(for: TopicPartition(config.topics.packets, partitions[nudges % partitions.count]))
    }

    /// Routes a batch and makes it durable, collecting the next batch meanwhile (returned, not yet routed).
    ///
    /// Outputs of one batch at most are unacknowledged or uncommitted at any time: the next batch is only polled,
    /// not produced, until this one is committed. On failure the input is rewound so the batch is redone, and the
    /// next batch is dropped (rewound too).
    private mutating func dispatch(_ batch: InputBatch) async throws -> InputBatch {
        guard await prepareRetryWindows(for: batch) else {
            await rewind(to: batch.firstOffsets)
            try? await Task.sleep(for: .milliseconds(500))
            return InputBatch()
        }
        let members = selector.pickable
        let weightBy = config.weightBy
        var counts = [Int64](repeating: 0, count: members.count)
        var costs = [Int64](repeating: 0, count: members.count)
        var repeats = 0
        var picks: [[Int32]] = []
        picks.reserveCapacity(batch.chunks.count)
        for chunk in batch.chunks {
            var chunkPicks = [Int32](repeating: 0, count: chunk.count)
            for i in 0..<chunk.count {
                if retries.isEnabled, !admit(chunk, i) {
                    chunkPicks[i] = KafkaProducer.skip
                    repeats += 1
                    continue
                }
                // totalWeight > 0 was checked by the caller; both selectors have the same pickable members.
                let cost = Self.cost(of: chunk, i, by: weightBy)
                let pick = weightBy == .packets ? selector.nextIndex()! : costSelector.next(cost: cost)!
                chunkPicks[i] = Int32(truncatingIfNeeded: pick)
                counts[pick] += 1
                costs[pick] += cost
            }
            picks.append(chunkPicks)
        }
        let routes = KafkaProducer.Routes(
            topic: config.topics.assigned, headerName: HeaderNames.analyser, partitions: members.map(\.partition),
            headerValues: members.map { Array($0.id.utf8) })
        let offsets = batch.nextOffsets.map { TopicPartitionOffset($0.key.topic, $0.key.partition, $0.value) }
        let (sink, consumer) = (sink, consumer)
        let signal = CommitSignal()
        // Answers how long the commit took (produce, acknowledgements, offsets), not counting the wait for the
        // next batch.
        async let durable: Result<Duration, any Error> = {
            defer { signal.finish() }
            let started = ContinuousClock.now
            do {
                try await BatchCommit.run(
                    batch.chunks, picks: picks, routes: routes, offsets: offsets, sink: sink, consumer: consumer,
                    generation: batch.generation)
                return .success(ContinuousClock.now - started)
            } catch {
                return .failure(error)
            }
        }()
        var next = InputBatch()
        var collectError: (any Error)?
        var revoked = false
        do {
            (next, revoked) = try await collectBatch(behind: signal)
        } catch {
            collectError = error
        }
        let outcome = await durable
        if let collectError { throw collectError }
        let commitTime: Duration
        do {
            // Committed is final, even when a rebalance came meanwhile: the offsets were committed with the batch
            // (a stale group generation makes the commit fail instead), so the new owner starts after it. Only the
            // next batch, collected under the old assignment, was dropped and rewound by `collectBatch`.
            commitTime = try outcome.get()
            if revoked { service.metrics.rebalancedBatches.increment() }
        } catch let error as KafkaError where error.isFatal {
            logger.critical("dispatcher cannot continue (another instance with the same transactional id?)", metadata: [LogKeys.kafkaError: "\(error)"])
            throw error
        } catch {
            service.metrics.aborts.increment()
            logger.warning("batch not committed; rewinding to redo it", metadata: [LogKeys.kafkaError: "\(error)", LogKeys.count: "\(batch.count)"])
            // The windows took in records that are not committed: read them back from the log before the redo.
            retries.forget(batch.firstOffsets.keys.map(\.partition))
            var first = batch.firstOffsets
            first.merge(next.firstOffsets) { min($0, $1) }
            await rewind(to: first)
            try? await Task.sleep(for: .milliseconds(100))
            return InputBatch()
        }
        service.metrics.commitLatency.record(commitTime)
        service.metrics.batches.increment()
        if repeats > 0 { service.metrics.repeatsDropped.increment(by: Int64(repeats)) }
        var byID: [String: Int64] = [:]
        var costByID: [String: Int64] = [:]
        for (index, member) in members.enumerated() where counts[index] > 0 {
            byID[member.id, default: 0] += counts[index]
            costByID[member.id, default: 0] += costs[index]
        }
        service.recordDispatched(byID, cost: costByID, members: selector.members)
        return next
    }

    /// What record `index` costs its analyser: 1, its message count (ingest's header; 1 without one), or its bytes.
    private static func cost(of chunk: ConsumedBatch, _ index: Int, by weightBy: WeightBy) -> Int64 {
        switch weightBy {
        case .packets: return 1
        case .messages: return max(1, chunk.integerHeader(HeaderNames.messages, at: index) ?? 1)
        case .bytes: return Int64(max(1, chunk.valueSize(at: index)))
        }
    }

    /// Whether record `index` of `chunk` is routed: not a repeat of an id in its partition's retry window.
    private mutating func admit(_ chunk: ConsumedBatch, _ index: Int) -> Bool {
        let digest = chunk.withKey(at: index) { $0.map(PacketDigest.init) }
        return retries.admit(
            partition: chunk.partition(at: index), offset: chunk.offset(at: index), digest: digest,
            timestampMs: chunk.timestamp(at: index) ?? 0)
    }

    /// Reads back the retry windows of the batch's partitions that do not end where the batch begins (first batch
    /// after an assignment, a seek or a batch not committed). False when Kafka could not answer: redo later.
    private mutating func prepareRetryWindows(for batch: InputBatch) async -> Bool {
        var firsts: [Int32: Int64] = [:]
        for (tp, first) in batch.firstOffsets { firsts[tp.partition] = first }
        let stale = retries.stale(firsts)
        guard !stale.isEmpty else { return true }
        let loader = RetryWindowLoader(
            kafka: config.kafka, topic: config.topics.packets, span: retries.span, maxAgeMs: retries.maxAgeMs,
            budget: config.retryWindowLoadBudget, logger: logger)
        let started = ContinuousClock.now
        do {
            let loaded = try await loader.load(stale)
            for (partition, window) in loaded.windows { retries.install(window, for: partition) }
            retryLog.succeeded()
            service.metrics.retryWindowLoads.increment()
            service.metrics.retryWindowPackets.set(Double(retries.remembered))
            let metadata: Logger.Metadata = [
                "kafka.partitions": "\(stale.keys.sorted())", LogKeys.count: "\(loaded.records)",
                "duration_ms": "\((ContinuousClock.now - started).milliseconds)",
            ]
            if loaded.complete {
                logger.info("retry window read back", metadata: metadata)
            } else {
                logger.warning(
                    "retry window read back only in part within --retry-window-load-ms: repeats of older ids may be routed again",
                    metadata: metadata)
            }
            return true
        } catch {
            retryLog.failed(error, action: "the batch waits and is tried again")
            return false
        }
    }

    private mutating func forgetWindows(of revoked: Set<TopicPartition>) {
        guard !revoked.isEmpty else { return }
        retries.forget(revoked.filter { $0.topic == config.topics.packets }.map(\.partition))
    }

    /// Seeks the batch's partitions back to where the batch began (partitions since revoked are skipped).
    private func rewind(to firstOffsets: [TopicPartition: Int64]) async {
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
    private func currentAssignment() -> [TopicPartition] {
        do {
            return try consumer.assignment()
        } catch {
            logger.warning("the consumer cannot tell its assignment", metadata: [LogKeys.kafkaError: "\(error)"])
            return []
        }
    }

    /// No healthy analyser: pause every input partition (the backlog waits in Kafka) and keep serving rebalances.
    private mutating func holdInput() async throws {
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

    private mutating func resumeInput() throws {
        let assignment = currentAssignment()
        try consumer.resume(assignment)
        paused = false
        service.setPaused(false)
        logger.info("a healthy analyser is back: input resumed", metadata: ["kafka.partitions": "\(assignment.count)"])
    }
}

/// Set once a batch's commit has finished (either way); read by the task collecting the next batch.
final class CommitSignal: Sendable {
    private let done = Atomic<Bool>(false)

    var isDone: Bool { done.load(ordering: .acquiring) }

    func finish() { done.store(true, ordering: .releasing) }
}

/// The records of one batch, as polled (several polls make one batch).
struct InputBatch {
    var chunks: [ConsumedBatch] = []
    private(set) var count = 0
    /// Exactly-once: the group generation the batch was polled in (see `BatchCommit.run`).
    var generation: ConsumerGroupMetadata?

    init(chunks: [ConsumedBatch] = []) {
        for chunk in chunks { append(chunk) }
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ chunk: ConsumedBatch) {
        chunks.append(chunk)
        count += chunk.count
    }

    /// Where each partition of the batch begins: rewinding there redoes the batch.
    var firstOffsets: [TopicPartition: Int64] {
        var first: [TopicPartition: Int64] = [:]
        for chunk in chunks {
            for (tp, span) in chunk.spans { first[tp] = min(first[tp] ?? .max, span.first) }
        }
        return first
    }

    /// The offsets to commit once the whole batch is durable.
    var nextOffsets: [TopicPartition: Int64] {
        var next: [TopicPartition: Int64] = [:]
        for chunk in chunks {
            for (tp, span) in chunk.spans { next[tp] = max(next[tp] ?? 0, span.next) }
        }
        return next
    }
}

import LogdistBasics
import KafkaClient
import PacketModel
import Logging
import Synchronization

/// The routing loop's state and steps; owned by one task.
struct BatchRouter {
    let service: DispatcherService
    let consumer: KafkaConsumer
    /// The producers; exactly-once, they take turns by transaction.
    var sinks: BatchSinks
    let revocations: Revocations
    private var selector = WeightedSelector()
    /// For `--weight-by messages|bytes`: picks by each packet's cost.
    private var costSelector = CostSelector()
    private var retries: RetryFilter
    private let retryLog: ConditionLog
    var paused = false
    /// Partitions of the assigned topic the producer is known to see; more appear when an analyser grows the topic.
    private var producerSlots: Int32 = 0
    private var nextMetadataRefresh = ContinuousClock.now
    var previousWasFull = false
    var nudges = 0
    var logger: Logger { service.logger }
    var config: DispatcherConfig { service.config }

    init(service: DispatcherService, consumer: KafkaConsumer, sinks: BatchSinks, revocations: Revocations) {
        self.service = service
        self.consumer = consumer
        self.sinks = sinks
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

    /// Healthy analysers whose partitions the topic has and every producer knows of: a partition added since is
    /// routed to once the producers' metadata shows it (refreshed here, at most once a second while it lags).
    private mutating func healthyMembers() async -> [SelectorMember] {
        let (members, slots) = service.runtime.withLock { r in
            (r.table.healthyMembers(nowMs: epochMilliseconds()).filter { $0.partition < r.assignedSlots }, r.assignedSlots)
        }
        if slots > producerSlots, ContinuousClock.now >= nextMetadataRefresh {
            nextMetadataRefresh = ContinuousClock.now + .seconds(1)
            do {
                var counts: [Int] = []
                for sink in sinks.all {
                    guard let count = try await sink.producer.refreshMetadata(topic: config.topics.assigned) else { break }
                    counts.append(count)
                }
                if counts.count == sinks.all.count, let count = counts.min(), Int32(count) != producerSlots {
                    producerSlots = Int32(count)
                    logger.info("routing to \(count) analyser partitions", metadata: [LogKeys.topic: "\(config.topics.assigned)"])
                }
            } catch {
                logger.warning("the producer's metadata could not be refreshed", metadata: [LogKeys.kafkaError: "\(error)"])
            }
        }
        return members.filter { $0.partition < producerSlots }
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
        let (sink, consumer) = (sinks.take(), consumer)
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

    mutating func forgetWindows(of revoked: Set<TopicPartition>) {
        guard !revoked.isEmpty else { return }
        retries.forget(revoked.filter { $0.topic == config.topics.packets }.map(\.partition))
    }
}

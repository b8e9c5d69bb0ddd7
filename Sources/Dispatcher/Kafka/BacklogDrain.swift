import LogdistBasics
import KafkaClient
import PacketModel
import Operations
import Foundation
import Logging

/// Moves a retired analyser's unprocessed backlog — its partition of the assigned topic, from its group's committed
/// offset to the end — to the remaining analysers, then removes it from the fleet (`logdist drain`).
///
/// On a real cluster each batch is one transaction that consumes the partition, produces to the others and commits
/// the retired analyser's group offsets, under a transactional id of the drain's own: a drain killed midway and
/// started again fences its predecessor and resumes where the last commit left, with no loss and no duplicate. On
/// the embedded broker (no transactions) it is at-least-once, and records are routed by rendezvous hashing of their
/// key, so a batch redone after a crash reaches the analysers that already have it and their dedupe drops it.
public struct BacklogDrain: Sendable {
    public struct Options: Sendable {
        /// An analyser whose last heartbeat is younger than this is still running: the drain refuses.
        public var heartbeatTimeout: Duration = .milliseconds(1500)
        /// The partition's end must stay put this long, after the drain reached it, before it counts as drained
        /// (dispatchers stop routing to a retired analyser within a heartbeat interval; an open transaction commits
        /// within its batch time).
        public var quietPeriod: Duration = .seconds(5)
        public var batchSize = 5000
        /// nil: exactly-once on a real cluster, at-least-once on the embedded broker.
        public var delivery: DeliveryMode?

        public init() {}
    }

    /// Where a drain stands, for progress lines.
    public struct Progress: Sendable, Equatable {
        public var moved: Int64 = 0
        public var position: Int64 = 0
        public var end: Int64 = 0
        public var perTarget: [String: Int64] = [:]
        public var done = false
    }

    let kafka: KafkaConfig
    let topics: Topics
    let analyser: String
    let options: Options
    let logger: Logger

    public init(kafka: KafkaConfig, topics: Topics, analyser: String, options: Options = Options(), logger: Logger) {
        self.kafka = kafka
        self.topics = topics
        self.analyser = analyser
        self.options = options
        self.logger = logger
    }

    /// Retires the analyser, drains its partition, records the drained slot and removes the analyser; `report` is
    /// called after every batch and once at the end.
    public func run(report: @Sendable (Progress) -> Void) async throws -> Progress {
        try await FleetControl.with(kafka: kafka, topics: topics, logger: logger) { control in
            let partition = try await retire(control)
            let admin = try KafkaAdmin(kafka: kafka, logger: logger)
            let embedded = try await admin.isEmbeddedBroker()
            await admin.close()
            var mode = options.delivery ?? (embedded ? .atLeastOnce : .exactlyOnce)
            if embedded { mode = .atLeastOnce }
            let progress = try await drain(partition: partition, mode: mode, control: control, report: report)
            try await control.publish(
                .drainedSlot(partition: partition, drainedTo: progress.end, from: analyser, setAtMs: epochMilliseconds()))
            try await control.forget(analyser: analyser)
            try await control.withdraw(key: FleetDirective.retiredKey(analyser))
            report(progress)
            return progress
        }
    }

    /// Checks the analyser is known and stopped, and retires it; returns its partition.
    private func retire(_ control: FleetControl) async throws -> Int32 {
        let state = try await control.state()
        guard let heartbeat = state.heartbeats.first(where: { $0.id == analyser }) else {
            if let (partition, slot) = state.directives.drainedSlots.first(where: { $0.value.from == analyser }) {
                throw DrainError.alreadyDrained(analyser, partition: partition, to: slot.drainedTo)
            }
            throw DrainError("no analyser \(analyser) in namespace \(topics.namespace): nothing to drain")
        }
        let age = epochMilliseconds() - heartbeat.sentAt
        if heartbeat.state == .up, age < Int64(options.heartbeatTimeout.milliseconds) {
            throw DrainError(
                "analyser \(analyser) is still running (last heartbeat \(age) ms ago): stop it first, then drain; "
                    + "a backlog is drained only when nothing else reads it")
        }
        if !state.directives.retired.contains(analyser) {
            try await control.publish(.retired(id: analyser, setAtMs: epochMilliseconds()))
            logger.info("analyser retired: dispatchers route it nothing from now", metadata: [LogKeys.analyser: "\(analyser)"])
        }
        return heartbeat.partition
    }

    private func drain(
        partition: Int32, mode: DeliveryMode, control: FleetControl, report: @Sendable (Progress) -> Void
    ) async throws -> Progress {
        let tp = TopicPartition(topics.assigned, partition)
        var consumerConfig = KafkaConsumer.Configuration(kafka: kafka, groupID: topics.analyserGroup(analyser))
        consumerConfig.clientName = "drain-\(analyser)"
        consumerConfig.isolationLevel = .readCommitted
        let consumer = try KafkaConsumer(configuration: consumerConfig, logger: logger)
        let sink = try await makeSink(mode)
        do {
            let progress = try await move(tp, consumer: consumer, sink: sink, control: control, report: report)
            await consumer.close()
            await sink.close()
            return progress
        } catch {
            await consumer.close()
            await sink.close()
            throw error
        }
    }

    private func makeSink(_ mode: DeliveryMode) async throws -> BatchSink {
        var config = KafkaProducer.Configuration(kafka: kafka)
        config.clientName = "drain-\(analyser)"
        config.linger = .milliseconds(1)
        config.queueCapacity = max(100_000, options.batchSize * 4)
        config.enqueueTimeout = .seconds(10)
        guard mode == .exactlyOnce else { return .plain(try KafkaProducer(configuration: config, logger: logger)) }
        let txn = try TransactionalProducer(
            configuration: config, transactionalID: "\(topics.namespace).drain.\(analyser)", logger: logger)
        try await KafkaRetry.run("transaction coordinator for the drain of \(analyser)", logger: logger) {
            try await txn.initTransactions(timeout: .seconds(30))
        }
        return .transactional(txn)
    }

    /// The drain loop: batches from the committed offset until the end has stayed put for the quiet period.
    private func move(
        _ tp: TopicPartition, consumer: KafkaConsumer, sink: BatchSink, control: FleetControl,
        report: @Sendable (Progress) -> Void
    ) async throws -> Progress {
        let committed = try await consumer.committed([tp], timeout: .seconds(10)).first?.offset ?? KafkaOffset.invalid
        let marks = try await consumer.watermarks(tp, timeout: .seconds(10))
        let start = committed >= 0 ? max(committed, marks.low) : marks.low
        try consumer.assign([TopicPartitionOffset(tp.topic, tp.partition, start)])
        var progress = Progress(position: start, end: marks.high)
        var targets = DrainTargets(retired: analyser)
        var endSince = (offset: marks.high, at: ContinuousClock.now)
        while true {
            try Task.checkCancellation()
            try await targets.refresh(control, timeout: options.heartbeatTimeout, logger: logger)
            guard !targets.selector.members.isEmpty else {
                try await Task.sleep(for: .seconds(1))
                continue
            }
            let batch = try await consumer.pollRaw(maxMessages: options.batchSize, timeout: .milliseconds(200))
            if !batch.isEmpty {
                try await commit(batch, tp: tp, targets: targets, sink: sink, consumer: consumer, progress: &progress)
                report(progress)
                continue
            }
            // Nothing to read: past the end (markers included), and the end quiet for long enough?
            let position = try consumer.position([tp]).first?.offset ?? progress.position
            progress.position = max(progress.position, position)
            let end = try await consumer.watermarks(tp, timeout: .seconds(10)).high
            if end != endSince.offset { endSince = (end, ContinuousClock.now) }
            progress.end = end
            if progress.position >= end, ContinuousClock.now - endSince.at >= options.quietPeriod {
                progress.done = true
                if case .plain = sink { try await consumer.commit([TopicPartitionOffset(tp.topic, tp.partition, progress.position)]) }
                return progress
            }
        }
    }

    private func commit(
        _ batch: ConsumedBatch, tp: TopicPartition, targets: DrainTargets, sink: BatchSink, consumer: KafkaConsumer,
        progress: inout Progress
    ) async throws {
        let members = targets.selector.members
        var picks = [Int32](repeating: 0, count: batch.count)
        var counts = [Int64](repeating: 0, count: members.count)
        for index in 0..<batch.count {
            let pick = batch.withKey(at: index) { targets.selector.pick($0) } ?? 0
            picks[index] = Int32(pick)
            counts[pick] += 1
        }
        let routes = KafkaProducer.Routes(
            topic: topics.assigned, headerName: HeaderNames.analyser, partitions: members.map(\.partition),
            headerValues: members.map { Array($0.id.utf8) })
        let next = batch.spans[tp]?.next ?? progress.position
        let offsets = [TopicPartitionOffset(tp.topic, tp.partition, next)]
        do {
            try await BatchCommit.run([batch], picks: [picks], routes: routes, offsets: offsets, sink: sink, consumer: consumer)
        } catch let error as KafkaError where error.isFatal {
            throw error
        } catch {
            // Not committed: read the batch again from the last commit.
            logger.warning("drain batch not committed; redoing it", metadata: [LogKeys.kafkaError: "\(error)"])
            let first = batch.spans[tp]?.first ?? progress.position
            try await consumer.seek([TopicPartitionOffset(tp.topic, tp.partition, first)], timeout: .seconds(10))
            try await Task.sleep(for: .milliseconds(200))
            return
        }
        progress.position = next
        progress.moved += Int64(batch.count)
        for (member, count) in zip(members, counts) where count > 0 { progress.perTarget[member.id, default: 0] += count }
    }
}

/// The analysers a drain may route to: fresh, up, not retired, weight above 0, not the drained one.
struct DrainTargets {
    let retired: String
    var selector = RendezvousSelector(members: [])
    private var nextRefresh = ContinuousClock.now
    private var saidNone = false

    init(retired: String) {
        self.retired = retired
    }

    mutating func refresh(_ control: FleetControl, timeout: Duration, logger: Logger) async throws {
        guard ContinuousClock.now >= nextRefresh else { return }
        nextRefresh = ContinuousClock.now + .seconds(2)
        let state = try await control.state()
        let now = epochMilliseconds()
        let members = state.heartbeats.compactMap { heartbeat -> SelectorMember? in
            let weight = state.directives.weight(of: heartbeat.id, heartbeat: heartbeat.weight)
            guard heartbeat.id != retired, heartbeat.state == .up, weight > 0,
                !state.directives.retired.contains(heartbeat.id),
                now - heartbeat.sentAt < Int64(timeout.milliseconds)
            else { return nil }
            return SelectorMember(id: heartbeat.id, partition: heartbeat.partition, weight: weight)
        }
        if members != selector.members {
            selector = RendezvousSelector(members: members)
            logger.info("drain targets", metadata: ["analysers": "\(selector.members.map { "\($0.id):\($0.weight)" })"])
        }
        if selector.members.isEmpty, !saidNone {
            logger.warning("no healthy analyser to drain to: waiting for one")
        }
        saidNone = selector.members.isEmpty
    }
}

/// Why a drain cannot start, or that it has nothing left to do.
public struct DrainError: Error, CustomStringConvertible {
    public let description: String
    /// The analyser was drained before (by a drain that finished): not a failure.
    public let isAlreadyDone: Bool

    init(_ description: String, isAlreadyDone: Bool = false) {
        self.description = description
        self.isAlreadyDone = isAlreadyDone
    }

    static func alreadyDrained(_ id: String, partition: Int32, to offset: Int64) -> DrainError {
        DrainError("\(id) was already drained (partition \(partition) to offset \(offset)) and removed from the fleet", isAlreadyDone: true)
    }
}

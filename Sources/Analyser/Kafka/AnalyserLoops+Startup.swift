import LogdistBasics
import KafkaClient
import PacketModel
import Operations
import Foundation
import Logging
import ServiceLifecycle

/// Start-up: the partition's drain record, growing the assigned topic for a new slot, and assigning the partition
/// from its committed offset (retention loss reported).
extension AnalyserLoops {
    /// The drain recorded for `partition`, if its previous analyser was drained (`logdist drain`).
    func drainedSlot(_ partition: Int32, waiting: @escaping @Sendable (String?) -> Void) async throws -> FleetDirectives.DrainedSlot? {
        let service = service
        let state = try await KafkaRetry.run("the heartbeats topic", logger: service.logger, waiting: waiting) {
            let inspector = try LagInspector(kafka: service.config.kafka, topics: service.config.topics, logger: service.logger)
            do {
                let state = try await inspector.fleetState()
                await inspector.close()
                return state
            } catch {
                await inspector.close()
                throw error
            }
        }
        return state.directives.drainedSlots[partition]
    }

    /// A new analyser on a partition the assigned topic does not have yet grows the topic to hold it (Admin
    /// CreatePartitions), so a fleet grows without stopping anything: dispatchers see the new partition within a
    /// second and route to it once this analyser heartbeats. The embedded broker cannot add partitions.
    func growSlots(from slots: Int, waiting: @escaping @Sendable (String?) -> Void) async throws {
        let (service, logger) = (service, service.logger)
        let tp = service.topicPartition
        let needed = Int(tp.partition) + 1
        if try await service.admin.isEmbeddedBroker() {
            throw KafkaError(
                kind: .invalidArgument,
                message: "\(tp.topic) has \(slots) partitions, so there is no partition \(tp.partition) for analyser "
                    + "\(service.config.id), and the embedded broker cannot add partitions: start it with "
                    + "--analyser-slots \(needed) or more (logdist broker, logdist up), or pick a partition below \(slots)")
        }
        try await KafkaRetry.run("\(tp.topic) grown to \(needed) partitions", logger: logger, waiting: waiting) {
            try await service.admin.createPartitions(topic: tp.topic, count: needed)
            let count = try await service.admin.partitionCount(topic: tp.topic) ?? 0
            guard count >= needed else {
                throw KafkaError(kind: .unknownTopicOrPartition, message: "\(tp.topic) has \(count) partitions in the metadata yet")
            }
        }
        logger.info(
            "assigned topic grown for this analyser",
            metadata: [LogKeys.topic: "\(tp.topic)", "partitions": "\(needed)", "previously": "\(slots)"])
    }

    /// Assigns its partition from the committed offset; a committed offset below the log start is retention loss,
    /// reported loudly, then reading continues from the log start.
    ///
    /// A cluster that is still starting (no topics yet, leaders being elected, coordinators loading) is waited for,
    /// with `/health/ready` saying what for; only a partition the assigned topic does not have is a start-up error.
    func start() async throws {
        let tp = service.topicPartition
        let (service, logger) = (service, service.logger)
        let waiting: @Sendable (String?) -> Void = { reason in service.state.withLock { $0.waitingFor = reason } }
        var layout = service.config.layout
        layout.analyserSlots = max(layout.analyserSlots, Int(tp.partition) + 1)
        let counts = try await TopicProvisioner.ensureWaiting(
            service.config.topics.specs(layout), admin: service.admin, embedded: nil, logger: logger, waiting: waiting)
        guard tp.partition >= 0 else {
            throw KafkaError(kind: .invalidArgument, message: "partition \(tp.partition): a partition number is 0 or more")
        }
        let slots = counts[tp.topic] ?? 0
        if Int(tp.partition) >= slots {
            try await growSlots(from: slots, waiting: waiting)
        }
        let committed = try await KafkaRetry.run("committed offset of \(service.config.topics.analyserGroup(service.config.id))", logger: logger, waiting: waiting) {
            try await service.consumer.committed([tp], timeout: .seconds(10)).first?.offset ?? KafkaOffset.invalid
        }
        let marks = try await KafkaRetry.run("watermarks of \(tp.topic)[\(tp.partition)]", logger: logger, waiting: waiting) {
            try await service.consumer.watermarks(tp, timeout: .seconds(10))
        }
        var startAt = committed
        if committed < 0, let drained = try await drainedSlot(tp.partition, waiting: waiting), drained.drainedTo > marks.low {
            // The slot's previous analyser was drained: what lies before its end went to the others.
            startAt = drained.drainedTo
            service.logger.info(
                "no committed offset, on a drained slot: starting where the drain ended",
                metadata: [LogKeys.offset: "\(drained.drainedTo)", "drained_from": "\(drained.from)"])
        } else if committed < 0 {
            startAt = marks.low
            service.logger.info("no committed offset: starting at the log start", metadata: [LogKeys.offset: "\(marks.low)"])
        } else if committed < marks.low {
            recordRetentionLoss(from: committed, to: marks.low)
            startAt = marks.low
        }
        if let path = service.config.auditFile {
            let log = try AuditLog(path: path, committed: startAt)
            service.audit.withLock { $0 = log }
        }
        try service.consumer.assign([TopicPartitionOffset(tp.topic, tp.partition, startAt)])
        let now = epochMilliseconds()
        service.state.withLock { s in
            s.position = startAt
            s.committed = max(committed, startAt)
            s.endOffset = marks.high
            s.logStart = marks.low
            s.started = true
            s.replay.begin(at: startAt, target: marks.high, nowMs: now)
        }
        service.metrics.up.set(1.0)
        service.logger.info(
            "analyser started",
            metadata: [
                LogKeys.topic: "\(tp.topic)", LogKeys.partition: "\(tp.partition)", LogKeys.offset: "\(startAt)",
                "backlog": "\(max(0, marks.high - startAt))", "weight": "\(service.config.weight)",
            ])
    }
}

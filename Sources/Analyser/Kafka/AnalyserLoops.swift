import LogdistBasics
import KafkaClient
import PacketModel
import Operations
import Foundation
import Logging
import ServiceLifecycle

/// The analyser's two loops — consume and heartbeat — run as one service; on shutdown they commit what was
/// processed and publish a final `down` heartbeat.
struct AnalyserLoops: Service {
    let service: AnalyserService

    func run() async throws {
        let loops = self
        guard try await untilGracefulShutdown({ try await loops.start() }) != nil else {
            await service.consumer.close()
            return
        }
        try await runUntilGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumeLoop() }
                group.addTask { try await heartbeatLoop() }
                group.addTask { try await commitLoop() }
                try await group.next()
                group.cancelAll()
            }
        }
        await finish()
    }

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

    func consumeLoop() async throws {
        let tp = service.topicPartition
        var lastReplayLog = ContinuousClock.now
        while !Task.isCancelled {
            if service.isFailed {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let batch = try await service.consumer.poll(maxMessages: service.config.batchSize, timeout: .milliseconds(100))
            for error in batch.errors {
                if error.isOffsetOutOfRange {
                    try await recoverOutOfRange()
                } else {
                    service.logger.warning("fetch error", metadata: [LogKeys.kafkaError: "\(error.error)"])
                }
            }
            let marks = service.consumer.cachedWatermarks(tp)
            if !batch.messages.isEmpty {
                process(batch.messages, marks: marks)
            } else {
                advancePastControlRecords(marks: marks)
            }
            if ContinuousClock.now - lastReplayLog > .seconds(2) {
                lastReplayLog = ContinuousClock.now
                logReplayProgress()
            }
        }
    }

    /// A transaction's commit or abort marker takes an offset but never reaches the application: once nothing is left
    /// to poll, librdkafka's position is past the markers it read, and so is this analyser's. Without this, an
    /// analyser that has processed everything stays one marker behind the end: lag 1, replay never finished.
    func advancePastControlRecords(marks: (low: Int64, high: Int64)?) {
        let tp = service.topicPartition
        let position: Int64
        do {
            position = try service.consumer.position([tp]).first?.offset ?? KafkaOffset.invalid
            service.positionCondition.succeeded()
        } catch {
            service.positionCondition.failed(error, action: "lag stays at the last processed offset until it answers")
            position = KafkaOffset.invalid
        }
        let nowMs = epochMilliseconds()
        service.state.withLock { s in
            if let marks { s.endOffset = max(s.endOffset, marks.high) }
            guard position > s.position else { return }
            s.position = position
            s.replay.advance(to: position, nowMs: nowMs)
        }
    }

    /// Decodes outside the lock, then records the whole batch under one lock.
    func process(_ messages: [KafkaMessage], marks: (low: Int64, high: Int64)?) {
        let limits = service.config.limits
        let decoded: [(id: String?, packet: Packet?)] = messages.map { message in
            let packet = message.value.flatMap { try? PacketValidator.decode($0, limits: limits) }
            let id = message.key.map { String(decoding: $0, as: UTF8.self) } ?? packet?.id
            return (id, packet)
        }
        let nowMs = epochMilliseconds()
        var analysed = 0
        var duplicates = 0
        var malformed = 0
        var levelCounts = [Int](repeating: 0, count: LogLevel.allCases.count)
        var audited: [(offset: Int64, id: String)] = []
        // Position and audit records change together, under the audit lock (see `commitProgress`).
        service.audit.withLock { audit in
            service.state.withLock { s in
                for (message, item) in zip(messages, decoded) {
                    s.position = message.offset + 1
                    guard let packet = item.packet, let id = item.id else {
                        malformed += 1
                        continue
                    }
                    guard s.dedupe.insert(id) else {
                        duplicates += 1
                        s.stats.recordDuplicate()
                        continue
                    }
                    analysed += 1
                    s.stats.record(
                        packetID: id, source: packet.source, messages: packet.messages.map { ($0.level.rawValue, $0.message) },
                        nowMs: nowMs)
                    for entry in packet.messages { levelCounts[LogLevel.allCases.firstIndex(of: entry.level)!] += 1 }
                    if let ingested = HeaderNames.integer(message.header(HeaderNames.ingestTime)), nowMs >= ingested {
                        _ = s.latency.record(UInt64(nowMs - ingested) * 1000)
                        if let dispatched = message.timestamp, dispatched >= ingested, dispatched <= nowMs {
                            _ = s.toDispatch.record(UInt64(dispatched - ingested) * 1000)
                            _ = s.fromDispatch.record(UInt64(nowMs - dispatched) * 1000)
                        }
                    }
                    s.analysedIDs?[id, default: 0] += 1
                    audited.append((message.offset, id))
                }
                s.malformed += Int64(malformed)
                if let marks {
                    s.endOffset = max(s.endOffset, marks.high)
                    s.logStart = marks.low
                }
                s.replay.advance(to: s.position, nowMs: nowMs)
            }
            audit?.append(audited)
        }
        service.metrics.packets.increment(by: Int64(analysed))
        if duplicates > 0 { service.metrics.duplicates.increment(by: Int64(duplicates)) }
        if malformed > 0 {
            service.metrics.malformed.increment(by: Int64(malformed))
            service.logger.warning("skipped records that are not valid packets", metadata: [LogKeys.count: "\(malformed)"])
        }
        for (index, level) in LogLevel.allCases.enumerated() where levelCounts[index] > 0 {
            service.metrics.messages[level.rawValue]?.increment(by: Int64(levelCounts[index]))
        }
    }

    /// Tells the dispatcher it is alive every heartbeat interval (unless failed).
    ///
    /// Separate from committing: a group coordinator that is failing over delays commits for seconds, and must not
    /// make a live analyser look dead.
    /// Never waits for the previous heartbeat's delivery: while the heartbeats partition fails over they queue in the
    /// producer, and the newest lands as soon as it has a leader again.
    func heartbeatLoop() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            while !Task.isCancelled {
                if !service.isFailed { group.addTask { await sendHeartbeat(state: .up) } }
                try await Task.sleep(for: service.config.heartbeatInterval)
            }
        }
    }

    /// Commits what was processed every heartbeat interval, failed or not.
    func commitLoop() async throws {
        while !Task.isCancelled {
            await commitProgress()
            try await Task.sleep(for: service.config.heartbeatInterval)
        }
    }

    func commitProgress() async {
        // Under the audit lock: a position is only committed once the audit records it covers are written.
        let (position, committed) = service.audit.withLock { _ in service.state.withLock { ($0.position, $0.committed) } }
        guard position > committed else { return }
        let tp = service.topicPartition
        do {
            try await service.consumer.commit([TopicPartitionOffset(tp.topic, tp.partition, position)])
            service.state.withLock { $0.committed = max($0.committed, position) }
            service.metrics.committedOffset.set(Double(position))
            service.commitCondition.succeeded()
        } catch {
            service.commitCondition.failed(error, action: "retrying every heartbeat interval")
        }
    }

    func sendHeartbeat(state: AnalyserState) async {
        let (committed, lag, remaining, totals) = service.state.withLock {
            ($0.committed, $0.lag, $0.replay.remaining(position: $0.position), $0.stats.totals)
        }
        service.metrics.lag.set(Double(lag))
        service.metrics.replayRemaining.set(Double(remaining))
        let config = service.config
        let heartbeat = Heartbeat(
            id: config.id, partition: config.partition, weight: config.weight, state: state, sentAt: epochMilliseconds(),
            committedOffset: committed, url: config.advertisedURL, analysedPackets: totals.packets,
            analysedMessages: totals.messages)
        do {
            _ = try await service.heartbeats.send(
                OutgoingMessage(topic: config.topics.heartbeats, partition: 0, key: Array(config.id.utf8), value: heartbeat.encoded()))
            service.heartbeatCondition.succeeded()
        } catch {
            service.heartbeatCondition.failed(error, action: "the next one follows in one heartbeat interval")
        }
    }

    /// Graceful shutdown: commit what was processed, say `down`, flush.
    func finish() async {
        await commitProgress()
        await sendHeartbeat(state: .down)
        service.metrics.up.set(0.0)
        await service.heartbeats.close(timeout: .seconds(5))
        await service.consumer.close()
        service.logger.info("analyser stopped", metadata: [LogKeys.offset: "\(service.state.withLock { $0.committed })"])
    }

    func recoverOutOfRange() async throws {
        let tp = service.topicPartition
        let consumer = service.consumer
        let marks = try await KafkaRetry.run("watermarks of \(tp.topic)[\(tp.partition)]", logger: service.logger) {
            try await consumer.watermarks(tp, timeout: .seconds(10))
        }
        let position = service.state.withLock { $0.position }
        if position < marks.low { recordRetentionLoss(from: position, to: marks.low) }
        let restart = min(max(position, marks.low), marks.high)
        try service.consumer.assign([TopicPartitionOffset(tp.topic, tp.partition, restart)])
        service.state.withLock {
            $0.position = restart
            $0.logStart = marks.low
        }
    }

    func recordRetentionLoss(from offset: Int64, to logStart: Int64) {
        let lost = logStart - offset
        service.state.withLock { $0.retentionLost += lost }
        service.metrics.retentionLost.increment(by: lost)
        service.logger.error(
            "backlog outlived retention: packets were deleted before this analyser read them; continuing from the log start",
            metadata: [LogKeys.offset: "\(offset)", "log_start": "\(logStart)", "lost_packets": "\(lost)"])
    }

    func logReplayProgress() {
        let (remaining, position, replay) = service.state.withLock { ($0.replay.remaining(position: $0.position), $0.position, $0.replay) }
        service.metrics.replayRemaining.set(Double(remaining))
        if remaining > 0 {
            service.logger.info(
                "replaying backlog", metadata: [LogKeys.offset: "\(position)", "remaining": "\(remaining)", "target": "\(replay.targetOffset)"])
        }
    }
}


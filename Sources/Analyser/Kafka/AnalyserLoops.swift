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


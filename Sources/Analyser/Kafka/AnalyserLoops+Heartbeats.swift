import LogdistBasics
import KafkaClient
import PacketModel
import Operations
import Foundation
import Logging
import ServiceLifecycle

/// Liveness and progress: heartbeats to the dispatcher, offset commits, and the last of both at shutdown.
extension AnalyserLoops {
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
}

import Foundation
import LogdistBasics
import KafkaClient
import PacketModel
import Logging
import ServiceLifecycle

/// Reads the compacted heartbeats topic from the beginning, without a consumer group, into the live table;
/// every `endOffsetInterval` reads the assigned partitions' end offsets so lag is known; and writes a probe to the
/// heartbeats partition every `probeInterval`, whose return proves the feed current (so a partition without a leader
/// is not mistaken for every analyser dying).
struct HeartbeatReader: Service {
    let service: DispatcherService
    /// Tells this process's probes from other dispatchers' and from earlier runs'.
    private let writer = "\(DispatcherConfig.processInstanceID())-\(UUID().uuidString.prefix(8))"

    init(service: DispatcherService) {
        self.service = service
    }

    func run() async throws {
        var config = KafkaConsumer.Configuration(kafka: service.config.kafka, groupID: nil)
        config.clientName = "dispatcher-heartbeats"
        config.isolationLevel = .readUncommitted
        let consumer = try KafkaConsumer(configuration: config, logger: service.logger)
        try consumer.assign([TopicPartitionOffset(service.config.topics.heartbeats, 0, KafkaOffset.beginning)])
        var probeConfig = KafkaProducer.Configuration(kafka: service.config.kafka)
        probeConfig.clientName = "dispatcher-probe"
        probeConfig.linger = .zero
        // A probe that cannot be delivered within the blindness limit proves nothing any more.
        probeConfig.deliveryTimeout = service.config.policy.maxFeedBlindness
        let prober = try KafkaProducer(configuration: probeConfig, logger: service.logger)
        try await runUntilGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await readLoop(consumer) }
                group.addTask { try await evaluateLoop() }
                group.addTask { try await probeLoop(prober) }
                try await group.next()
                group.cancelAll()
            }
        }
        await consumer.close()
        await prober.close(timeout: .seconds(1))
    }

    /// One probe per interval, never waiting for the previous one: during a failover they queue in the producer and
    /// land together once the partition has a leader again.
    private func probeLoop(_ prober: KafkaProducer) async throws {
        let topic = service.config.topics.heartbeats
        let failures = ConditionLog("feed probe", logger: service.logger)
        try await withThrowingDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let probe = FeedProbe(writer: writer, sentAt: epochMilliseconds())
                group.addTask {
                    do {
                        _ = try await prober.send(OutgoingMessage(topic: topic, partition: 0, key: FeedProbe.key, value: probe.encoded()))
                        failures.succeeded()
                    } catch {
                        failures.failed(error, action: "the heartbeats feed counts as blind until probes return")
                    }
                }
                try await Task.sleep(for: service.config.probeInterval)
            }
        }
    }

    private func readLoop(_ consumer: KafkaConsumer) async throws {
        while !Task.isCancelled {
            let batch = try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
            guard !batch.messages.isEmpty else { continue }
            let now = epochMilliseconds()
            var heartbeats: [Heartbeat] = []
            var directives: [FleetDirective.Parsed] = []
            var removed: [String] = []
            var probeSeen = false
            for message in batch.messages {
                if FeedProbe.isProbe(key: message.key) {
                    if let value = message.value, let probe = FeedProbe.decode(value), probe.writer == writer { probeSeen = true }
                    continue
                }
                if let key = message.key, let directive = FleetDirective.parse(key: String(decoding: key, as: UTF8.self), value: message.value) {
                    directives.append(directive)
                    continue
                }
                guard let value = message.value else {
                    // A tombstone: the analyser was removed from the fleet.
                    if let key = message.key { removed.append(String(decoding: key, as: UTF8.self)) }
                    continue
                }
                do {
                    heartbeats.append(try Heartbeat.decode(value))
                } catch {
                    service.logger.warning("skipped a malformed heartbeat", metadata: [LogKeys.offset: "\(message.offset)"])
                }
            }
            let events = service.runtime.withLock { runtime in
                if probeSeen { runtime.table.feedConfirmed(observedAtMs: now) }
                for directive in directives { runtime.table.apply(directive) }
                for id in removed { runtime.table.forget(id, nowMs: now) }
                return heartbeats.flatMap { runtime.table.apply($0, observedAtMs: now) }
            }
            for directive in directives { service.log(directive) }
            service.log(events)
        }
    }

    /// Says once when the feed goes blind and once when it sees again; the gauge shows how long.
    private func reportBlindness(_ blindMs: Int64, wasBlind: Bool) {
        service.metrics.feedBlind.set(Double(blindMs) / 1000)
        if blindMs > 0, !wasBlind {
            service.logger.warning(
                "heartbeats feed blind: its partition answers no probe; analysers keep their health until it returns",
                metadata: ["max_blind_ms": "\(service.config.policy.maxFeedBlindness.milliseconds)"])
        } else if blindMs == 0, wasBlind {
            service.logger.info("heartbeats feed current again")
        }
    }

    private func evaluateLoop() async throws {
        let assigned = service.config.topics.assigned
        var lastSlotCheck = ContinuousClock.now.advanced(by: .seconds(-60))
        var feedWasBlind = false
        // A failing query keeps the last known values (lag judged on the last end offsets); said once, counted always.
        let slotQuery = ConditionLog("reading the partition count of \(assigned)", logger: service.logger)
        let endQuery = ConditionLog("reading end offsets of \(assigned)", logger: service.logger)
        while !Task.isCancelled {
            // An analyser claiming a partition beyond the known count has just grown the topic: look again at once
            // (at most once a second) rather than at the next 10-second check.
            let claimsBeyond = service.runtime.withLock { r in r.table.partitions.contains { $0 >= r.assignedSlots } }
            let sinceCheck = ContinuousClock.now - lastSlotCheck
            if sinceCheck > .seconds(10) || (claimsBeyond && sinceCheck > .seconds(1)) {
                lastSlotCheck = ContinuousClock.now
                // The assigned topic may have grown (a new analyser slot); claims beyond it are never routed to.
                let counted: Int?
                do {
                    counted = try await service.admin.partitionCount(topic: assigned, timeout: .seconds(5))
                    slotQuery.succeeded()
                } catch {
                    counted = nil
                    service.metrics.queryErrors.increment()
                    slotQuery.failed(error, action: "keeping the last count, trying again in 10 s")
                }
                if let count = counted {
                    let beyond = service.runtime.withLock { r in
                        r.assignedSlots = Int32(count)
                        return r.table.snapshot(nowMs: epochMilliseconds()).filter { $0.partition >= Int32(count) }.map(\.id)
                    }
                    if !beyond.isEmpty {
                        service.logger.error(
                            "analysers claim partitions the assigned topic does not have; they get no packets",
                            metadata: ["analysers": "\(beyond)", "partitions": "\(count)"])
                    }
                }
            }
            let partitions = service.runtime.withLock { $0.table.partitions }
            for partition in partitions {
                do {
                    let marks = try await service.admin.watermarks(TopicPartition(assigned, partition), timeout: .seconds(2))
                    service.runtime.withLock { $0.table.updateEndOffset(partition: partition, endOffset: marks.high) }
                    endQuery.succeeded()
                } catch {
                    service.metrics.queryErrors.increment()
                    endQuery.failed(error, action: "lag is judged on the last end offsets read")
                }
            }
            let now = epochMilliseconds()
            let (events, rows, healthy, blindMs) = service.runtime.withLock { runtime in
                (
                    runtime.table.evaluate(nowMs: now), runtime.table.snapshot(nowMs: now),
                    runtime.table.healthyMembers(nowMs: now).count, runtime.table.feedBlindMs(nowMs: now)
                )
            }
            reportBlindness(blindMs, wasBlind: feedWasBlind)
            feedWasBlind = blindMs > 0
            service.log(events)
            for row in rows {
                let series = service.metrics.series(row.id)
                series.up.set(row.healthy ? 1.0 : 0.0)
                series.lag.set(Double(row.lag ?? 0))
                series.weight.set(Double(row.weight))
            }
            service.metrics.healthyAnalysers.set(Double(healthy))
            try await Task.sleep(for: service.config.endOffsetInterval)
        }
    }
}

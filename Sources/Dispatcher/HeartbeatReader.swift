import Common
import Logging
import ServiceLifecycle

/// Reads the compacted heartbeats topic from the beginning, without a consumer group, into the live table;
/// and every `endOffsetInterval` reads the assigned partitions' end offsets so lag is known.
struct HeartbeatReader: Service {
    let service: DispatcherService

    func run() async throws {
        var config = KafkaConsumer.Configuration(kafka: service.config.kafka, groupID: nil)
        config.clientName = "dispatcher-heartbeats"
        config.isolationLevel = .readUncommitted
        let consumer = try KafkaConsumer(configuration: config, logger: service.logger)
        try consumer.assign([TopicPartitionOffset(service.config.topics.heartbeats, 0, KafkaOffset.beginning)])
        try await runUntilGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await readLoop(consumer) }
                group.addTask { try await evaluateLoop() }
                try await group.next()
                group.cancelAll()
            }
        }
        await consumer.close()
    }

    private func readLoop(_ consumer: KafkaConsumer) async throws {
        while !Task.isCancelled {
            let batch = try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
            guard !batch.messages.isEmpty else { continue }
            let now = epochMilliseconds()
            var heartbeats: [Heartbeat] = []
            for message in batch.messages {
                guard let value = message.value else { continue }  // a tombstone: an analyser was retired
                do {
                    heartbeats.append(try Heartbeat.decode(value))
                } catch {
                    service.logger.warning("skipped a malformed heartbeat", metadata: [LogKeys.offset: "\(message.offset)"])
                }
            }
            let events = service.runtime.withLock { runtime in
                heartbeats.flatMap { runtime.table.apply($0, observedAtMs: now) }
            }
            service.log(events)
        }
    }

    private func evaluateLoop() async throws {
        let assigned = service.config.topics.assigned
        var lastSlotCheck = ContinuousClock.now.advanced(by: .seconds(-60))
        while !Task.isCancelled {
            if ContinuousClock.now - lastSlotCheck > .seconds(10) {
                lastSlotCheck = ContinuousClock.now
                // The assigned topic may have grown (a new analyser slot); claims beyond it are never routed to.
                if let count = try? await service.admin.partitionCount(topic: assigned, timeout: .seconds(5)) {
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
                if let marks = try? await service.admin.watermarks(TopicPartition(assigned, partition), timeout: .seconds(2)) {
                    service.runtime.withLock { $0.table.updateEndOffset(partition: partition, endOffset: marks.high) }
                }
            }
            let now = epochMilliseconds()
            let (events, rows, healthy) = service.runtime.withLock { runtime in
                (runtime.table.evaluate(nowMs: now), runtime.table.snapshot(nowMs: now), runtime.table.healthyMembers(nowMs: now).count)
            }
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

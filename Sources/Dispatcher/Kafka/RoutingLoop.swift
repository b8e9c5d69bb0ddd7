import LogdistBasics
import KafkaClient
import Logging
import ServiceLifecycle
import Synchronization

/// Consume → route → produce → commit, one batch at a time, in the dispatcher's consumer group.
///
/// One task owns the selector and the consumer, so the hot path takes no lock per packet: the healthy set is read
/// once per batch and the counts are published once per batch.
struct RoutingLoop: Service {
    let service: DispatcherService

    func run() async throws {
        let service = service
        guard let sinks = try await untilGracefulShutdown({ () async throws -> BatchSinks in
            try await service.prepare()
            return try await makeSinks()
        }) else { return }
        let revocations = Revocations()
        var consumerConfig = KafkaConsumer.Configuration(kafka: service.config.kafka, groupID: service.config.topics.dispatcherGroup)
        consumerConfig.clientName = "dispatcher-\(service.config.instanceID)"
        consumerConfig.isolationLevel = .readCommitted
        // A dead instance's partitions move to the others within the session timeout (librdkafka's default is 45 s).
        let session = service.config.sessionTimeout.milliseconds
        consumerConfig.defaults = ["session.timeout.ms": "\(session)", "heartbeat.interval.ms": "\(max(100, session / 10))"]
        if let member = service.config.staticMemberID {
            // Static membership: a restarted instance with the same id gets its partitions back at once instead of
            // the group waiting out the dead member's session.
            consumerConfig.defaults["group.instance.id"] = member
        }
        let metrics = service.metrics
        let owner = service
        let logger = service.logger
        let consumer = try KafkaConsumer(configuration: consumerConfig, logger: logger) { event in
            metrics.rebalances.increment()
            switch event {
            case .assigned(let partitions):
                owner.runtime.withLock { $0.inputPartitions = partitions.map(\.partition).sorted() }
            case .revoked(let partitions):
                revocations.add(partitions)
                owner.runtime.withLock { $0.inputPartitions = [] }
            case .failed:
                // Logged by the consumer; the group rebalances again.
                metrics.rebalanceErrors.increment()
            }
        }
        try consumer.subscribe([service.config.topics.packets])
        try await runUntilGracefulShutdown {
            var router = BatchRouter(service: service, consumer: consumer, sinks: sinks, revocations: revocations)
            try await router.loop()
        }
        // The loop only stops between batches: nothing is in flight. Leave the group so others take over at once.
        await consumer.close()
        await sinks.close()
        logger.info("dispatcher stopped")
    }

    /// The routing loop's producers: one for at-least-once; exactly-once, `transactionalProducers` transactional
    /// ones taken in turn (`TransactionTurns`). Every id the instance may have used is initialised before the first
    /// batch — which fences a previous instance with that id and aborts whatever it left open — and those beyond the
    /// producer count are closed again.
    private func makeSinks() async throws -> BatchSinks {
        var producerConfig = KafkaProducer.Configuration(kafka: service.config.kafka)
        producerConfig.clientName = "dispatcher-\(service.config.instanceID)"
        producerConfig.linger = .milliseconds(1)
        producerConfig.queueCapacity = max(100_000, service.config.batchSize * 4)
        producerConfig.enqueueTimeout = .seconds(10)
        switch service.mode {
        case .exactlyOnce:
            let ids = service.config.fencedTransactionalIDs
            let producers = try ids.map {
                try TransactionalProducer(configuration: producerConfig, transactionalID: $0, logger: service.logger)
            }
            let logger = service.logger
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for txn in producers {
                        // A coordinator that is still loading answers with retriable errors: wait for it.
                        group.addTask {
                            try await KafkaRetry.run("transaction coordinator for \(txn.transactionalID)", logger: logger) {
                                try await txn.initTransactions(timeout: .seconds(30))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            } catch {
                for txn in producers { await txn.close(timeout: .seconds(5)) }
                throw error
            }
            let used = service.config.transactionalIDs.count
            for txn in producers.dropFirst(used) { await txn.close(timeout: .seconds(5)) }
            return BatchSinks(producers.prefix(used).map { .transactional($0) })
        case .atLeastOnce:
            return BatchSinks([.plain(try KafkaProducer(configuration: producerConfig, logger: service.logger))])
        }
    }
}

/// The routing loop's sinks and whose turn it is; owned by the routing task.
struct BatchSinks: Sendable {
    let all: [BatchSink]
    private var turns: TransactionTurns

    init(_ sinks: [BatchSink]) {
        precondition(!sinks.isEmpty, "a dispatcher needs a producer")
        all = sinks
        turns = TransactionTurns(producers: sinks.count)
    }

    var mode: DeliveryMode { all[0].mode }

    /// The sink of the next batch; the one after it goes next.
    mutating func take() -> BatchSink { all[turns.take()] }

    func close() async {
        await withTaskGroup(of: Void.self) { group in
            for sink in all { group.addTask { await sink.close() } }
        }
    }
}

/// Where routed batches go, and how they become durable.
enum BatchSink: Sendable {
    case transactional(TransactionalProducer)
    case plain(KafkaProducer)

    var mode: DeliveryMode {
        switch self {
        case .transactional: return .exactlyOnce
        case .plain: return .atLeastOnce
        }
    }

    var producer: KafkaProducer {
        switch self {
        case .transactional(let txn): return txn.producer
        case .plain(let producer): return producer
        }
    }

    func close() async {
        await producer.close(timeout: .seconds(10))
    }
}

/// Partitions revoked by a rebalance since the loop last looked; their in-hand messages belong to the new owner.
final class Revocations: Sendable {
    private let revoked = Mutex<Set<TopicPartition>>([])

    func add(_ partitions: [TopicPartition]) { revoked.withLock { $0.formUnion(partitions) } }

    func take() -> Set<TopicPartition> {
        revoked.withLock { set in
            defer { set.removeAll() }
            return set
        }
    }
}

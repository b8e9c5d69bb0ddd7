import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Consumes its own partition of the assigned topic, analyses every packet once, commits progress to its own
/// group, and heartbeats its health to the dispatcher.
public final class AnalyserService: Sendable {
    public let config: AnalyserConfig
    public let registry = PrometheusCollectorRegistry()
    public let boundPort = BoundPort()
    let consumer: KafkaConsumer
    let heartbeats: KafkaProducer
    let admin: KafkaAdmin
    let metrics: AnalyserMetrics
    let logger: Logger
    let state: Mutex<AnalyserRuntime>
    /// Taken before `state` when both are: a batch's audit records are written before its position can be committed.
    let audit = Locked<AuditLog?>(nil)
    let heartbeatCondition: ConditionLog
    let commitCondition: ConditionLog
    let positionCondition: ConditionLog
    var topicPartition: TopicPartition { TopicPartition(config.topics.assigned, config.partition) }

    public init(config: AnalyserConfig, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: LogKeys.analyser] = "\(config.id)"
        self.config = config
        self.logger = logger
        var consumerConfig = KafkaConsumer.Configuration(kafka: config.kafka, groupID: config.topics.analyserGroup(config.id))
        consumerConfig.isolationLevel = .readCommitted
        // Never skip data silently: an out-of-range position comes back as an error we count and report.
        consumerConfig.autoOffsetReset = "error"
        consumerConfig.clientName = "analyser-\(config.id)"
        self.consumer = try KafkaConsumer(configuration: consumerConfig, logger: logger)
        var producerConfig = KafkaProducer.Configuration(kafka: config.kafka)
        producerConfig.clientName = "analyser-\(config.id)-heartbeat"
        producerConfig.linger = .zero
        producerConfig.deliveryTimeout = .seconds(5)
        self.heartbeats = try KafkaProducer(configuration: producerConfig, logger: logger)
        self.admin = try KafkaAdmin(kafka: config.kafka, logger: logger)
        self.metrics = AnalyserMetrics(registry: registry, id: config.id)
        self.heartbeatCondition = ConditionLog("heartbeat", logger: logger)
        self.commitCondition = ConditionLog("commit of analysed offsets", logger: logger)
        self.positionCondition = ConditionLog("reading the consumer position", logger: logger)
        self.state = Mutex(AnalyserRuntime(config: config))
    }

    /// The consume loop, the heartbeat loop, and HTTP.
    public func services() -> [any Service] {
        let app = config.http.application(router: makeRouter().buildCheckedResponder(), service: "analyser", boundPort: boundPort, logger: logger)
        return [AnalyserLoops(service: self), app]
    }

    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: services(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Simulated failure: stop consuming and heartbeating; the backlog accumulates in Kafka.
    public func simulateFailure() {
        let changed = state.withLock { state in
            defer { state.failed = true }
            return !state.failed
        }
        metrics.up.set(0.0)
        if changed { logger.warning("simulated failure: consuming and heartbeats stopped") }
    }

    /// Resume after a simulated failure and replay the backlog.
    public func simulateBegin() {
        let (changed, position, end) = state.withLock { state in
            let changed = state.failed
            state.failed = false
            if changed {
                let end = consumer.cachedWatermarks(topicPartition)?.high ?? state.endOffset
                state.endOffset = max(state.endOffset, end)
                state.replay.begin(at: state.position, target: state.endOffset, nowMs: epochMilliseconds())
            }
            return (changed, state.position, state.endOffset)
        }
        metrics.up.set(1.0)
        if changed {
            logger.info("resumed: replaying backlog", metadata: [LogKeys.offset: "\(position)", "backlog": "\(max(0, end - position))"])
        }
    }

    public var isFailed: Bool { state.withLock { $0.failed } }

    /// End-to-end latencies so far, in microseconds, to merge across analysers.
    public func latencyHistogram() -> LatencyHistogram { state.withLock { $0.latency } }

    /// Every packet id analysed and how often (when `recordIDs` is on).
    public func analysedIDs() -> [String: Int] { state.withLock { $0.analysedIDs ?? [:] } }

    public func stats() -> AnalyserStats {
        let now = epochMilliseconds()
        // While failed nothing is polled, but librdkafka keeps fetching: its cached end offset shows the backlog.
        if let marks = consumer.cachedWatermarks(topicPartition) {
            state.withLock { $0.endOffset = max($0.endOffset, marks.high) }
        }
        let s = state.withLock { $0 }
        do {
            let replayDuration = s.replay.finishedAtMs.map { $0 - s.replay.startedAtMs }
            let latencyMs = { (p: Double) in Double(s.latency.valueAtPercentile(p)) / 1000 }
            return AnalyserStats(
                id: config.id, partition: config.partition, weight: config.weight,
                state: s.failed ? "failed" : (s.started ? "up" : "starting"),
                offsets: .init(position: s.position, committed: s.committed, end: s.endOffset, logStart: s.logStart, lag: s.lag),
                replay: .init(
                    startOffset: s.replay.startOffset, targetOffset: s.replay.targetOffset, packets: s.replay.packets,
                    remaining: s.replay.remaining(position: s.position), startedAtMs: s.replay.startedAtMs,
                    finishedAtMs: s.replay.finishedAtMs, durationMs: replayDuration,
                    packetsPerSecond: replayDuration.flatMap { $0 > 0 ? Double(s.replay.packets) * 1000 / Double($0) : nil }),
                retentionLostPackets: s.retentionLost, malformed: s.malformed,
                latency: .init(
                    count: s.latency.totalCount, p50Ms: latencyMs(50), p90Ms: latencyMs(90), p99Ms: latencyMs(99),
                    p999Ms: latencyMs(99.9), maxMs: Double(s.latency.maxRecorded) / 1000,
                    hops: s.toDispatch.totalCount == 0
                        ? nil : .init(ingestToDispatch: .init(s.toDispatch), dispatchToAnalysed: .init(s.fromDispatch))),
                dedupe: .init(entries: s.dedupe.count, approximateBytes: s.dedupe.approximateBytes, evictions: s.dedupe.evictions),
                analysis: s.stats.snapshot(nowMs: now))
        }
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(counters: metrics.requests))
        router.addHealthRoutes { [self] in
            state.withLock { s in s.started ? (s.failed ? "simulated failure" : nil) : (s.waitingFor ?? "starting: not yet assigned") }
        }
        router.addMetricsRoute(registry: registry) { [self] in
            let (lag, bytes) = state.withLock { ($0.lag, $0.dedupe.approximateBytes) }
            metrics.lag.set(Double(lag))
            metrics.dedupeBytes.set(Double(bytes))
        }
        router.addRoutes(AnalyserRoutes(service: self).collection())
        return router
    }
}

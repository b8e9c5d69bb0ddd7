import Operations
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The HTTP → Kafka ingest service: validates packets once, forwards the exact bytes received, and answers 202
/// only after Kafka acknowledged every packet of the request.
public final class IngestService: Sendable {
    public let config: IngestConfig
    public let registry = PrometheusCollectorRegistry()
    /// The port the server bound, once it runs.
    public let boundPort = BoundPort()
    /// The port the OTLP/gRPC server bound, once it runs (when `config.otlp.grpcPort` is set).
    public let otlpGRPCPort = OTLPBoundPort()
    let producer: KafkaProducer
    let admin: KafkaAdmin
    let metrics: IngestMetrics
    let otlpMetrics: OTLPMetrics
    let logger: Logger
    private let embedded: EmbeddedBroker?
    /// Why the service is not ready, or nil when it is.
    private let notReadyReason = Mutex<String?>("not checked yet")

    public init(config: IngestConfig, logger: Logger, embedded: EmbeddedBroker? = nil) throws {
        self.config = config
        self.logger = logger
        self.embedded = embedded
        var producerConfig = KafkaProducer.Configuration(kafka: config.kafka)
        producerConfig.clientName = "ingest"
        producerConfig.linger = config.linger
        producerConfig.stickyPartitioning = config.partitionStick
        producerConfig.deliveryTimeout = config.ackTimeout
        producerConfig.queueCapacity = config.queueCapacity
        producerConfig.enqueueTimeout = .zero
        self.producer = try KafkaProducer(configuration: producerConfig, logger: logger)
        self.admin = try KafkaAdmin(kafka: config.kafka, logger: logger)
        self.metrics = IngestMetrics(registry: registry)
        self.otlpMetrics = OTLPMetrics(registry: registry)
    }

    /// Creates the topics if the cluster lets us (idempotent), so a fresh cluster works out of the box; waits out a
    /// cluster that is still starting, with `/health/ready` saying what for.
    public func prepare() async throws {
        let specs = config.topics.specs(config.layout)
        try await TopicProvisioner.ensureWaiting(specs, admin: admin, embedded: embedded, logger: logger) { [self] waiting in
            if let waiting { notReadyReason.withLock { $0 = waiting } }
        }
        await checkReadiness()
    }

    /// The router with every route; exposed for in-process tests.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(counters: metrics.requests))
        router.addHealthRoutes { [self] in notReadyReason.withLock { $0 } }
        router.addMetricsRoute(registry: registry) { [self] in
            metrics.queueDepth.set(Double(producer.queueDepth))
        }
        router.addRoutes(IngestRoutes(service: self).collection())
        return router
    }

    /// Producer first, HTTP last: shutdown stops HTTP (finishing in-flight requests), then flushes the producer.
    public func services() -> [any Service] {
        let app = config.http.application(router: makeRouter().buildCheckedResponder(), service: "ingest", boundPort: boundPort, logger: logger)
        let monitor = BackgroundService(name: "ingest-readiness") { [self] in
            try await prepare()
            while !Task.isCancelled {
                await checkReadiness()
                try await Task.sleep(for: .seconds(2))
            }
        }
        var services: [any Service] = [ProducerService(producer: producer, logger: logger), monitor]
        if let port = config.otlp.grpcPort {
            services.append(
                OTLPGRPCServer(export: OTLPExport(service: self), port: port, host: config.otlp.grpcHost, boundPort: otlpGRPCPort, logger: logger))
        }
        services.append(app)
        return services
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    /// Topics are created by the readiness monitor, so HTTP serves `/health/ready` while the cluster comes up.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: services(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await admin.close()
    }

    func checkReadiness() async {
        let reason: String?
        if let fatal = producer.fatalError {
            reason = "producer failed fatally: \(fatal); restart the service"
        } else {
            do {
                if try await admin.partitionCount(topic: config.topics.packets, timeout: .seconds(2)) == nil {
                    reason = "topic \(config.topics.packets) does not exist"
                } else {
                    reason = nil
                }
            } catch {
                reason = "broker unreachable: \(error)"
            }
        }
        let changed = notReadyReason.withLock { current in
            defer { current = reason }
            return current != reason
        }
        metrics.ready.set(reason == nil ? 1.0 : 0.0)
        if changed {
            if let reason {
                logger.warning("ingest not ready", metadata: ["reason": "\(reason)"])
            } else {
                logger.info("ingest ready")
            }
        }
    }
}

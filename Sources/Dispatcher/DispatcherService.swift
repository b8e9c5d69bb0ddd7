import Operations
import AsyncHTTPClient
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The weighted, health-aware router between the packets topic and the analysers' partitions.
public final class DispatcherService: Sendable {
    public let config: DispatcherConfig
    public let registry = PrometheusCollectorRegistry()
    public let boundPort = BoundPort()
    let admin: KafkaAdmin
    let metrics: DispatcherMetrics
    let logger: Logger
    let runtime: Mutex<DispatcherRuntime>
    let load: LoadControl
    private let embedded: EmbeddedBroker?
    private let resolvedMode = Mutex<DeliveryMode?>(nil)
    /// What start-up waits for, for `/health/ready`.
    private let startup = Locked<String?>("starting")

    public init(config: DispatcherConfig, logger: Logger, embedded: EmbeddedBroker? = nil) throws {
        self.config = config
        self.logger = logger
        self.embedded = embedded
        self.admin = try KafkaAdmin(kafka: config.kafka, logger: logger)
        self.metrics = DispatcherMetrics(registry: registry)
        self.runtime = Mutex(DispatcherRuntime(policy: config.policy))
        self.load = LoadControl(config: config, metrics: metrics.load, logger: logger)
    }

    /// The delivery mode in force (resolved by `prepare()`).
    public var mode: DeliveryMode { resolvedMode.withLock { $0 } ?? .atLeastOnce }

    /// Picks the delivery mode (exactly-once unless the cluster is the embedded broker) and creates the topics if
    /// they are missing, waiting out a cluster that is still starting. Done once; later calls return at once.
    public func prepare() async throws {
        if resolvedMode.withLock({ $0 }) != nil { return }
        let waiting: @Sendable (String?) -> Void = { [startup] reason in startup.withLock { $0 = reason } }
        let isEmbedded: Bool
        if let embedded {
            isEmbedded = embedded.isEmbedded
        } else {
            let admin = admin
            isEmbedded = try await KafkaRetry.run("the cluster id", logger: logger, waiting: waiting) {
                try await admin.isEmbeddedBroker()
            }
        }
        let counts = try await TopicProvisioner.ensureWaiting(
            config.topics.specs(config.layout), admin: admin, embedded: embedded, logger: logger, waiting: waiting)
        var mode = config.delivery ?? (isEmbedded ? .atLeastOnce : .exactlyOnce)
        if isEmbedded, config.delivery == .exactlyOnce {
            logger.warning("exactly-once requested on the embedded broker, which does not honour transactions: running at-least-once")
            mode = .atLeastOnce
        }
        let slots = counts[config.topics.assigned] ?? 0
        runtime.withLock { $0.mode = mode }
        resolvedMode.withLock { $0 = mode }
        startup.withLock { $0 = nil }
        logger.info(
            "dispatcher starting",
            metadata: [
                LogKeys.mode: "\(mode.rawValue)", "embedded_broker": "\(isEmbedded)", "analyser_slots": "\(slots)",
                "instance": "\(config.instanceID)", LogKeys.group: "\(config.topics.dispatcherGroup)",
            ])
    }

    public func services() -> [any Service] {
        let app = config.http.application(router: makeRouter().buildCheckedResponder(), service: "dispatcher", boundPort: boundPort, logger: logger)
        // Load last: shutdown stops it first.
        return [HeartbeatReader(service: self), RoutingLoop(service: self), app, load]
    }

    /// Runs until SIGTERM or SIGINT; start-up (`prepare`) happens inside, so HTTP and `/health/ready` serve meanwhile.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: services(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await admin.close()
    }

    /// The live table with dispatch counts and shares.
    public func view() -> AnalysersView {
        let now = epochMilliseconds()
        return runtime.withLock { r in
            let rows = r.table.snapshot(nowMs: now)
            let total = r.dispatched.values.reduce(0, +)
            let recent = r.recent.totals(nowMs: now)
            let recentTotal = recent.values.reduce(0, +)
            let rates = r.recent.rates(nowMs: now)
            let healthyWeight = rows.filter(\.healthy).reduce(0) { $0 + $1.weight }
            return AnalysersView(
                instance: config.instanceID, delivery: r.mode, weightBy: config.weightBy, paused: r.paused,
                inputPartitions: r.inputPartitions,
                dispatchedTotal: total, 
                analysers: rows.map { row in
                    let count = r.dispatched[row.id] ?? 0
                    return AnalysersView.Row(
                        status: row, dispatched: count, dispatchedCost: r.dispatchedCost[row.id] ?? 0,
                        share: total > 0 ? Double(count) / Double(total) : 0,
                        recentShare: recentTotal > 0 ? Double(recent[row.id] ?? 0) / Double(recentTotal) : 0,
                        recentRate: rates[row.id] ?? 0,
                        expectedShare: row.healthy && healthyWeight > 0 ? Double(row.weight) / Double(healthyWeight) : 0)
                }, epochs: r.epochs)
        }
    }

    /// The dashboard's fail/begin buttons: the dispatcher checks the admin token itself, then calls the analyser's
    /// admin endpoint at the address the operator configured for it (`--analyser-url`), never at one advertised in
    /// a heartbeat: a record on the heartbeats topic must not be able to collect the token.
    func forwardAdmin(id: String, action: String, request incoming: Request) async throws -> Response {
        guard action == "fail" || action == "begin" else {
            throw APIError(status: .notFound, error: "not_found", field: "action", detail: "use /v1/analysers/{id}/fail or /begin")
        }
        try authorizeAdmin(incoming)
        guard let token = config.adminToken else { throw APIError.unauthorized() }
        guard let url = config.analyserURLs[id] else {
            throw APIError(
                status: .notFound, error: "unknown_analyser", field: "id",
                detail: "no admin address configured for analyser \(id): start the dispatcher with --analyser-url \(id)=http://host:port "
                    + "(addresses advertised in heartbeats are never sent the admin token)")
        }
        var request = HTTPClientRequest(url: "\(url)/internal/simulate/\(action)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token.revealed)")
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 64 * 1024)
            return Response(
                status: .init(code: Int(response.status.code)), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: body))
        } catch {
            throw APIError(status: .badGateway, error: "analyser_unreachable", detail: "\(id) at \(url) did not answer: \(error)")
        }
    }

    /// - Parameter cost: per analyser, what the batch cost it (packets, messages or bytes: `--weight-by`).
    func recordDispatched(_ counts: [String: Int64], cost: [String: Int64], members: [SelectorMember]) {
        let now = epochMilliseconds()
        runtime.withLock { r in
            r.dispatched.merge(counts, uniquingKeysWith: +)
            r.dispatchedCost.merge(cost, uniquingKeysWith: +)
            r.record(counts, members: members, nowMs: now)
            r.recent.add(counts, nowMs: now)
        }
        for (id, count) in counts { metrics.series(id).dispatched.increment(by: count) }
    }

    func setPaused(_ paused: Bool) {
        runtime.withLock { $0.paused = paused }
        metrics.paused.set(paused ? 1.0 : 0.0)
    }

    func log(_ events: [HealthEvent]) {
        for event in events {
            switch event {
            case .joined(let id):
                logger.info("analyser joined", metadata: [LogKeys.analyser: "\(id)"])
            case .healthChanged(let id, let healthy, let reason):
                if healthy {
                    logger.info("analyser healthy", metadata: [LogKeys.analyser: "\(id)"])
                } else {
                    logger.warning("analyser unhealthy", metadata: [LogKeys.analyser: "\(id)", "reason": "\(reason.rawValue)"])
                }
            case .conflictingClaim(let partition, let kept, let rejected):
                logger.error(
                    "two analysers claim one partition: keeping the first claim",
                    metadata: [LogKeys.partition: "\(partition)", "kept": "\(kept)", "rejected": "\(rejected)"])
            }
        }
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(counters: metrics.requests))
        router.addHealthRoutes { [self] in resolvedMode.withLock { $0 } == nil ? (startup.value ?? "starting") : nil }
        router.addMetricsRoute(registry: registry)
        router.addRoutes(DispatcherRoutes(service: self).collection())
        return router
    }
}

import ArgumentParser
import Foundation
import LogdistBasics
import PacketModel
import ServiceSupport
import Dispatcher

extension DeliveryMode: ExpressibleByArgument {}
extension WeightBy: ExpressibleByArgument {}

struct Dispatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Assign every packet to one healthy analyser, in proportion to the weights.",
        discussion: """
            Member of the consumer group <namespace>.dispatcher on <namespace>.packets; run as many as you like.
            Reads <namespace>.heartbeats from the beginning for the live table. GET /v1/analysers, /metrics, /health/*.
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var http: HTTPOptions
    @OptionGroup var log: LogOptions
    @Option(help: "Port (env LOGDIST_DISPATCHER_PORT; default 8090).") var port: Int?
    @Option(help: "exactly-once or at-least-once (env LOGDIST_DELIVERY; default: exactly-once on a real cluster, at-least-once on the embedded broker).")
    var delivery: DeliveryMode?
    @Option(help: "An analyser is down when its last heartbeat is older than this (env LOGDIST_HEARTBEAT_TIMEOUT_MS; default 1500).")
    var heartbeatTimeoutMs: Int?
    @Option(help: "An analyser lagging by this many packets or more gets none until it catches up (env LOGDIST_MAX_LAG; default 100000).")
    var maxLag: Int64?
    @Option(help: "A batch ships as soon as the previous one is committed, or after this many milliseconds of collecting while it is not (env LOGDIST_COMMIT_INTERVAL_MS; default 10).") var commitIntervalMs: Int?
    @Option(help: "A batch collects at least this many milliseconds even when the previous one is committed: under load, at most one transaction per this interval (env LOGDIST_BATCH_LINGER_MS; default 10 exactly-once, 0 at-least-once).") var batchLingerMs: Int?
    @Option(help: "… or after this many packets (env LOGDIST_BATCH_SIZE; default 5000).") var batchSize: Int?
    @Option(help: "Exactly-once: transactional producers that take turns, 1 or 2; with 2 a transaction begins while the previous one's commit markers are still being written instead of waiting for them (env LOGDIST_TRANSACTIONAL_PRODUCERS; default 2). Transactional ids <namespace>.dispatcher.<instance-id> and …/2.")
    var transactionalProducers: Int?
    @OptionGroup var topicLayout: TopicLayoutOptions
    @Option(help: "Stable id of this instance: its transactional id and static group membership derive from it, so a restarted instance resumes at once. Unique per instance (env LOGDIST_INSTANCE_ID; default <host>-<pid>, new at every start).")
    var instanceId: String?
    @Option(help: "Group session timeout in milliseconds: how soon a dead instance's partitions move (env LOGDIST_SESSION_TIMEOUT_MS; default 10000).")
    var sessionTimeoutMs: Int?
    @Option(help: "What weights share out: packets, messages (the count ingest writes in a header) or bytes (env LOGDIST_WEIGHT_BY; default packets).")
    var weightBy: WeightBy?
    @Option(help: "A packet whose id is among the previous N packets of its partition of <namespace>.packets is a retry and is not routed again; 0 turns this off, at most 10000000 (env LOGDIST_RETRY_WINDOW; default 100000).")
    var retryWindow: Int64?
    @Option(help: "… and at most this many milliseconds older, by record timestamp (env LOGDIST_RETRY_WINDOW_MS; default 600000).")
    var retryWindowMs: Int64?
    @Option(help: "The longest a newly assigned partition waits while its retry window is read back from Kafka (env LOGDIST_RETRY_WINDOW_LOAD_MS; default 30000).")
    var retryWindowLoadMs: Int?
    @Option(help: "Admin token the dashboard's fail/begin actions require; the dispatcher checks it and sends it to the analyser (env LOGDIST_ADMIN_TOKEN).") var adminToken: String?
    @Option(help: ArgumentHelp("Where the dispatcher reaches an analyser's admin endpoints, id=url, repeatable (env LOGDIST_ANALYSER_URLS, comma-separated). Addresses advertised in heartbeats are shown, never sent the admin token.", valueName: "id=url"))
    var analyserUrl: [String] = []
    @Option(help: "Ingest address the dashboard's load control sends packets to, http://host:port or its /v1/packets URL (env LOGDIST_INGEST_URL). Load control is on only with this and --admin-token.")
    var ingestUrl: String?
    @Option(help: "File holding the bearer token ingest requires, if it requires one (env LOGDIST_INGEST_TOKEN).") var ingestTokenFile: String?
    @Option(help: "Most requests/s the dashboard may start (env LOGDIST_LOAD_MAX_RATE; default 2000).") var loadMaxRate: Double?
    @Option(help: "Most packets/s (rate × packets per request) the dashboard may start (env LOGDIST_LOAD_MAX_PACKETS_PER_SECOND; default 20000).")
    var loadMaxPacketsPerSecond: Double?
    @Option(help: "Longest load run the dashboard may start, in seconds (env LOGDIST_LOAD_MAX_DURATION_SECONDS; default 600).")
    var loadMaxDurationSeconds: Double?

    func run() async throws {
        let logger = try log.bootstrap(label: "logdist.dispatcher")
        var config = DispatcherConfig(
            kafka: try await kafka.probedKafkaConfig(logger: logger), topics: kafka.topics,
            http: try http.settings(port: try setting(port, "LOGDIST_DISPATCHER_PORT", default: 8090)),
            instanceID: instanceId ?? env("LOGDIST_INSTANCE_ID"))
        config.layout = try topicLayout.layout()
        if let delivery {
            config.delivery = delivery
        } else if let text = env("LOGDIST_DELIVERY") {
            guard let mode = DeliveryMode(rawValue: text) else { throw ValidationError("LOGDIST_DELIVERY=\(text): use exactly-once or at-least-once") }
            config.delivery = mode
        }
        config.policy = HealthPolicy(
            heartbeatTimeout: .milliseconds(try setting(heartbeatTimeoutMs, "LOGDIST_HEARTBEAT_TIMEOUT_MS", default: 1500)),
            maxLag: try setting(maxLag, "LOGDIST_MAX_LAG", default: 100_000))
        let commitMs = try setting(commitIntervalMs, "LOGDIST_COMMIT_INTERVAL_MS", default: 10)
        let lingerMs = try setting(batchLingerMs, "LOGDIST_BATCH_LINGER_MS")
        let size = try setting(batchSize, "LOGDIST_BATCH_SIZE", default: 5000)
        guard commitMs > 0, (lingerMs ?? 0) >= 0, size > 0 else {
            throw ValidationError("commit interval (\(commitMs) ms) and batch size (\(size)) must be positive, batch linger (\(lingerMs ?? 0) ms) zero or more")
        }
        config.commitInterval = .milliseconds(commitMs)
        config.batchLinger = lingerMs.map { .milliseconds($0) }
        config.batchSize = size
        let producers = try setting(transactionalProducers, "LOGDIST_TRANSACTIONAL_PRODUCERS", default: 2)
        guard (1...DispatcherConfig.maxTransactionalProducers).contains(producers) else {
            throw ValidationError("--transactional-producers \(producers): use 1 or \(DispatcherConfig.maxTransactionalProducers)")
        }
        config.transactionalProducers = producers
        config.sessionTimeout = .milliseconds(try setting(sessionTimeoutMs, "LOGDIST_SESSION_TIMEOUT_MS", default: 10_000))
        let window = try setting(retryWindow, "LOGDIST_RETRY_WINDOW", default: 100_000)
        let windowMs = try setting(retryWindowMs, "LOGDIST_RETRY_WINDOW_MS", default: 600_000)
        let loadMs = try setting(retryWindowLoadMs, "LOGDIST_RETRY_WINDOW_LOAD_MS", default: 30_000)
        guard (0...DispatcherConfig.maxRetryWindow).contains(window), windowMs >= 0, loadMs > 0 else {
            throw ValidationError("--retry-window (\(window)) must be 0 to \(DispatcherConfig.maxRetryWindow), --retry-window-ms (\(windowMs)) 0 or more, --retry-window-load-ms (\(loadMs)) positive")
        }
        if let weightBy {
            config.weightBy = weightBy
        } else if let text = env("LOGDIST_WEIGHT_BY") {
            guard let value = WeightBy(rawValue: text) else { throw ValidationError("LOGDIST_WEIGHT_BY=\(text): use packets, messages or bytes") }
            config.weightBy = value
        }
        config.retryWindow = window
        config.retryWindowAge = .milliseconds(windowMs)
        config.retryWindowLoadBudget = .milliseconds(loadMs)
        config.adminToken = try BearerToken.option(value: adminToken, file: nil, env: "LOGDIST_ADMIN_TOKEN")
        let urls = analyserUrl + (env("LOGDIST_ANALYSER_URLS").map { $0.split(separator: ",").map(String.init) } ?? [])
        for entry in urls {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex,
                let url = URL(string: String(entry[entry.index(after: equals)...])), let scheme = url.scheme,
                scheme == "http" || scheme == "https", url.host != nil
            else {
                throw ValidationError("--analyser-url \(entry): use id=http://host:port")
            }
            config.analyserURLs[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        if let text = ingestUrl ?? env("LOGDIST_INGEST_URL") {
            guard let url = DispatcherConfig.ingestPacketsURL(text) else {
                throw ValidationError("--ingest-url \(text): use http://host:port (or its /v1/packets URL)")
            }
            config.ingestURL = url
        }
        config.ingestToken = try BearerToken.option(value: nil, file: ingestTokenFile, env: "LOGDIST_INGEST_TOKEN")
        config.loadLimits.maxRate = try setting(loadMaxRate, "LOGDIST_LOAD_MAX_RATE", default: config.loadLimits.maxRate)
        config.loadLimits.maxPacketsPerSecond = try setting(
            loadMaxPacketsPerSecond, "LOGDIST_LOAD_MAX_PACKETS_PER_SECOND", default: config.loadLimits.maxPacketsPerSecond)
        config.loadLimits.maxDurationSeconds = try setting(
            loadMaxDurationSeconds, "LOGDIST_LOAD_MAX_DURATION_SECONDS", default: config.loadLimits.maxDurationSeconds)
        guard config.loadLimits.maxRate > 0, config.loadLimits.maxPacketsPerSecond > 0, config.loadLimits.maxDurationSeconds >= 1 else {
            throw ValidationError("load limits must be positive (and the longest run at least 1 s)")
        }
        try await DispatcherService(config: config, logger: logger).run()
    }
}

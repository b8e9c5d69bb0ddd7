import Analyser
import ArgumentParser
import LogdistBasics
import PacketModel
import ServiceSupport

struct Analyse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse one partition of <namespace>.assigned, replaying its backlog from the committed offset.",
        discussion: """
            Commits to the group <namespace>.analyser.<id> (kafka-consumer-groups, Burrow and kcat show its lag) and heartbeats
            to <namespace>.heartbeats. GET /v1/stats, /metrics, /health/*; POST /internal/simulate/fail|begin (admin token).
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var http: HTTPOptions
    @OptionGroup var log: LogOptions
    @OptionGroup var topicLayout: TopicLayoutOptions
    @Option(help: "Analyser id (env LOGDIST_ANALYSER_ID).") var id: String?
    @Option(help: "Its partition of <namespace>.assigned (env LOGDIST_PARTITION).") var partition: Int32?
    @Option(help: "Its weight; 0 takes no new packets (env LOGDIST_WEIGHT; default 1).") var weight: Int?
    @Option(help: "Port (env LOGDIST_ANALYSER_PORT; default 8101).") var port: Int?
    @Option(help: "Heartbeat every this many milliseconds (env LOGDIST_HEARTBEAT_INTERVAL_MS; default 500).") var heartbeatIntervalMs: Int?
    @Option(help: "Token for /internal/simulate/* (env LOGDIST_ADMIN_TOKEN). Prefer --admin-token-file.") var adminToken: String?
    @Option(help: "File holding the admin token.") var adminTokenFile: String?
    @Option(help: "Packets per poll (default 5000).") var batchSize = 5000
    @Option(help: "Dedupe window: most recent packet ids remembered (default 200000).") var dedupeCapacity = 200_000
    @Option(help: "Dedupe window: memory cap in bytes (default 33554432).") var dedupeMaxBytes = 32 << 20
    @Option(help: "URL at which the dashboard can reach this analyser (env LOGDIST_ADVERTISED_URL).") var advertisedUrl: String?
    @Option(help: "Append 'offset id' of every analysed packet to this file, kept consistent with commits (audits, chaos tests).")
    var auditFile: String?

    func run() async throws {
        let logger = try log.bootstrap(label: "logdist.analyser")
        guard let id = id ?? env("LOGDIST_ANALYSER_ID") else { throw ValidationError("--id is required (or LOGDIST_ANALYSER_ID)") }
        if let problem = AnalyserID.problem(with: id) { throw ValidationError(problem) }
        guard let partition = try partition ?? env("LOGDIST_PARTITION").map({ text -> Int32 in
            guard let value = Int32(text) else { throw ValidationError("LOGDIST_PARTITION=\(text) is not a partition number") }
            return value
        }) else { throw ValidationError("--partition is required (or LOGDIST_PARTITION)") }
        let port = try setting(port, "LOGDIST_ANALYSER_PORT", default: 8101)
        var config = AnalyserConfig(
            kafka: try await kafka.probedKafkaConfig(logger: logger), topics: kafka.topics, id: id, partition: partition,
            weight: try setting(weight, "LOGDIST_WEIGHT", default: 1), http: try http.settings(port: port))
        config.heartbeatInterval = .milliseconds(try setting(heartbeatIntervalMs, "LOGDIST_HEARTBEAT_INTERVAL_MS", default: 500))
        config.adminToken = try BearerToken.option(value: adminToken, file: adminTokenFile, env: "LOGDIST_ADMIN_TOKEN")
        config.batchSize = batchSize
        config.dedupeCapacity = dedupeCapacity
        config.dedupeMaxBytes = dedupeMaxBytes
        config.auditFile = auditFile
        config.layout = try topicLayout.layout()
        config.advertisedURL = advertisedUrl ?? env("LOGDIST_ADVERTISED_URL") ?? "http://\(config.http.host):\(port)"
        try await AnalyserService(config: config, logger: logger).run()
    }
}

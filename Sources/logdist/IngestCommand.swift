import ArgumentParser
import LogdistBasics
import PacketModel
import ServiceSupport
import Ingest

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Accept packets over HTTP and write them durably to <namespace>.packets.",
        discussion: """
            Routes: POST /v1/packets, POST /v1/packets:batch (NDJSON or a JSON array; ?partial=true for per-item results),
            POST /distributor/packet (logdistributor's route), POST /v1/logs (OTLP/HTTP logs, protobuf or JSON),
            GET /health/live, GET /health/ready, GET /metrics; OTLP/gRPC LogsService/Export on --otlp-grpc-port.
            202 only after Kafka acknowledged every packet of the request (acks=all, idempotent producer).
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var http: HTTPOptions
    @OptionGroup var log: LogOptions
    @Option(help: "Port (env LOGDIST_INGEST_PORT; default 8080).") var port: Int?
    @Option(help: "Bearer token required on ingest routes (env LOGDIST_INGEST_TOKEN). Prefer --token-file.") var token: String?
    @Option(help: "File holding the bearer token.") var tokenFile: String?
    @Option(help: "Milliseconds to wait for Kafka's acknowledgement before answering 503 (env LOGDIST_ACK_TIMEOUT_MS; default 5000).")
    var ackTimeoutMs: Int?
    @Option(help: "Milliseconds a request body may take to arrive before 408 (env LOGDIST_BODY_TIMEOUT_MS; default 10000).")
    var bodyTimeoutMs: Int?
    @Option(help: "Largest request body in bytes (env LOGDIST_MAX_BODY_BYTES; default 1048576).") var maxBodyBytes: Int?
    @Option(help: "Most messages per packet (env LOGDIST_MAX_MESSAGES; default 10000).") var maxMessages: Int?
    @Option(help: "Longest message text in characters (Unicode scalars) (env LOGDIST_MAX_MESSAGE_LENGTH; default 65536).") var maxMessageLength: Int?
    @Option(help: "Longest packet id in characters (Unicode scalars) (env LOGDIST_MAX_ID_LENGTH; default 128).") var maxIdLength: Int?
    @Option(help: "Producer linger.ms (env LOGDIST_LINGER_MS; default 1).") var lingerMs: Int?
    @Option(help: "0 (the default): each packet goes to the partition its id hashes to, so a client's retry is routed once. N: send to one partition for N milliseconds, then the next (fewer, larger batches; a retry landing elsewhere is routed twice) (env LOGDIST_PARTITION_STICK_MS).")
    var partitionStickMs: Int?
    @Option(help: "OTLP/gRPC port for OTLP logs (env LOGDIST_OTLP_GRPC_PORT; default 4317; 0: off).") var otlpGrpcPort: Int?
    @Option(help: "Most OTLP log records per packet (env LOGDIST_OTLP_RECORDS_PER_PACKET; default 1000).") var otlpRecordsPerPacket: Int?
    @OptionGroup var topicLayout: TopicLayoutOptions

    func run() async throws {
        let logger = try log.bootstrap(label: "logdist.ingest")
        var config = IngestConfig(
            kafka: try await kafka.probedKafkaConfig(logger: logger), topics: kafka.topics,
            http: try http.settings(port: try setting(port, "LOGDIST_INGEST_PORT", default: 8080)))
        config.token = try BearerToken.option(value: token, file: tokenFile, env: "LOGDIST_INGEST_TOKEN")
        config.ackTimeout = .milliseconds(try setting(ackTimeoutMs, "LOGDIST_ACK_TIMEOUT_MS", default: 5000))
        config.bodyTimeout = .milliseconds(try setting(bodyTimeoutMs, "LOGDIST_BODY_TIMEOUT_MS", default: 10_000))
        config.limits.maxBodyBytes = try setting(maxBodyBytes, "LOGDIST_MAX_BODY_BYTES", default: config.limits.maxBodyBytes)
        config.limits.maxMessages = try setting(maxMessages, "LOGDIST_MAX_MESSAGES", default: config.limits.maxMessages)
        config.limits.maxMessageLength = try setting(maxMessageLength, "LOGDIST_MAX_MESSAGE_LENGTH", default: config.limits.maxMessageLength)
        config.limits.maxIDLength = try setting(maxIdLength, "LOGDIST_MAX_ID_LENGTH", default: config.limits.maxIDLength)
        config.linger = .milliseconds(try setting(lingerMs, "LOGDIST_LINGER_MS", default: 1))
        let stickMs = try setting(partitionStickMs, "LOGDIST_PARTITION_STICK_MS", default: 0)
        guard stickMs >= 0 else { throw ValidationError("--partition-stick-ms \(stickMs): use 0 (partition by id) or more") }
        config.partitionStick = stickMs == 0 ? nil : .milliseconds(stickMs)
        config.layout = try topicLayout.layout()
        let grpcPort = try setting(otlpGrpcPort, "LOGDIST_OTLP_GRPC_PORT", default: 4317)
        config.otlp.grpcPort = grpcPort == 0 ? nil : grpcPort
        config.otlp.grpcHost = config.http.host
        config.otlp.recordsPerPacket = try setting(otlpRecordsPerPacket, "LOGDIST_OTLP_RECORDS_PER_PACKET", default: 1000)
        logger.info("ingest starting", metadata: [LogKeys.bootstrap: "\(config.kafka.bootstrapServers)", "auth": "\(config.token != nil)"])
        try await IngestService(config: config, logger: logger).run()
    }
}

import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport

/// Everything `logdist ingest` is told, in one value.
public struct IngestConfig: Sendable {
    public var kafka: KafkaConfig
    public var topics: Topics
    public var http: HTTPSettings
    public var limits = PacketLimits()
    /// When set, every ingest route requires `Authorization: Bearer <token>`.
    public var token: BearerToken?
    /// A request gets 503 if the broker has not acknowledged its packets within this time.
    public var ackTimeout: Duration = .seconds(5)
    /// A request body must arrive within this time (slow-body clients get 408).
    public var bodyTimeout: Duration = .seconds(10)
    /// `Retry-After` seconds on 503.
    public var retryAfterSeconds = 1
    /// Producer `linger.ms`: low, because each request waits for its acknowledgement.
    public var linger: Duration = .milliseconds(1)
    /// nil (the default): packets go to the partition their id hashes to, so every copy of an id (a client's
    /// retry, through any ingest instance) reaches the same partition and the dispatcher routes it once (see the
    /// dispatcher's `RetryWindow`). Set: to one partition for this long, then the next — fewer, larger batches
    /// (measured e2e p99 ~47 → ~19 ms at 7 200 packets/s on the embedded broker), but a retry that lands in
    /// another partition than its first copy is routed twice.
    public var partitionStick: Duration?
    /// Local producer queue capacity; a full queue answers 503.
    public var queueCapacity = 200_000
    /// How the topics are created if they are missing.
    public var layout = TopicLayout()
    /// OTLP logs in: `POST /v1/logs` and the gRPC LogsService.
    public var otlp = OTLPSettings()

    public init(kafka: KafkaConfig, topics: Topics, http: HTTPSettings) {
        self.kafka = kafka
        self.topics = topics
        self.http = http
    }
}

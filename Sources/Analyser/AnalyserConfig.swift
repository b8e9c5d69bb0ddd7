import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport

/// Everything `logdist analyse` is told.
public struct AnalyserConfig: Sendable {
    public var kafka: KafkaConfig
    public var topics: Topics
    public var id: String
    /// Its partition of the assigned topic.
    public var partition: Int32
    public var weight: Int
    public var http: HTTPSettings
    /// Required by `/internal/simulate/*`; without one those endpoints always answer 401.
    public var adminToken: BearerToken?
    public var heartbeatInterval: Duration = .milliseconds(500)
    /// Packets per poll.
    public var batchSize = 5000
    /// Dedupe window: how many recent packet ids, and how much memory at most.
    public var dedupeCapacity = 200_000
    public var dedupeMaxBytes = 32 << 20
    public var limits = PacketLimits()
    /// The URL other components (the dashboard) use to reach this analyser; optional.
    public var advertisedURL: String?
    /// Keep every analysed packet id in memory (for the demo's exactly-once check); off in production.
    public var recordIDs = false
    /// Append `offset id` of every analysed packet to this file, consistent with commits across crashes.
    public var auditFile: String?
    /// How the topics are created if the analyser is the first service on an empty cluster; its slot count is raised
    /// to hold its own partition.
    public var layout = TopicLayout()

    public init(kafka: KafkaConfig, topics: Topics, id: String, partition: Int32, weight: Int, http: HTTPSettings) {
        self.kafka = kafka
        self.topics = topics
        self.id = id
        self.partition = partition
        self.weight = weight
        self.http = http
    }
}

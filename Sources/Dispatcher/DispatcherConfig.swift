import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation

/// How the dispatcher makes consume → produce → commit atomic.
public enum DeliveryMode: String, Sendable, Codable, CaseIterable {
    /// One Kafka transaction per batch: no loss, no duplicates for `read_committed` readers (real clusters).
    case exactlyOnce = "exactly-once"
    /// Input offsets are committed only after every output of the batch is acknowledged: no loss, duplicates
    /// bounded by one batch. The embedded broker's mode, since it does not honour transactions.
    case atLeastOnce = "at-least-once"
}

/// Everything `logdist dispatch` is told.
public struct DispatcherConfig: Sendable {
    public var kafka: KafkaConfig
    public var topics: Topics
    public var http: HTTPSettings
    public var policy = HealthPolicy()
    /// nil: exactly-once on a real cluster, at-least-once on the embedded broker.
    public var delivery: DeliveryMode?
    /// A batch ships as soon as the one before it is durable (adaptive batching, see `BatchWindow`), when it holds
    /// `batchSize` packets, or after this long collecting, whichever first: the bound on the latency batching adds
    /// while commits are slow. A backlog still moves in full batches.
    public var commitInterval: Duration = .milliseconds(10)
    /// The least time a batch collects even when the previous one is already durable; nil: by delivery mode (see
    /// `linger(for:)`).
    public var batchLinger: Duration?

    /// Exactly-once: a batch is a transaction, and each costs the broker a commit marker per partition and a round of
    /// coordinator requests, so transactions begin at most every 10 ms under load (measured on Apache Kafka 3.7: back to
    /// back they came every 3–5 ms and cost the broker about twice the CPU per packet, for a p99 that was no better).
    /// The linger counts from when collection began, not from the first packet: a packet that arrives into a quiet
    /// input waits only what is left of it (nothing when it came 10 ms or more after the window opened, see
    /// `BatchWindow.next`). At-least-once: 0.
    public func linger(for mode: DeliveryMode) -> Duration {
        batchLinger ?? (mode == .exactlyOnce ? .milliseconds(10) : .zero)
    }
    public var batchSize = 5000
    /// This instance's id. Given by the operator, it is stable across restarts: the transactional id and the static
    /// group membership derive from it, so a restarted instance fences its killed predecessor's open transaction and
    /// takes its partitions back at once. By default it is unique per process (host name and process id), so two
    /// dispatchers on one host never fence each other.
    public var instanceID: String
    /// Whether `instanceID` was given (stable across restarts) rather than made up for this process.
    public var isStableInstance: Bool
    /// How often a probe is written to the heartbeats partition, to know the feed is current.
    public var probeInterval: Duration = .milliseconds(500)
    /// How often end offsets of the assigned partitions are read, for analysers' lag.
    public var endOffsetInterval: Duration = .milliseconds(500)
    /// The group session timeout: how soon a dead instance's partitions move to the others.
    public var sessionTimeout: Duration = .seconds(10)
    /// Required by the dashboard's fail/begin actions (checked here), and sent to the analysers' admin endpoints.
    public var adminToken: BearerToken?
    /// Where the dispatcher reaches each analyser's admin endpoints: given by the operator, never learned from
    /// heartbeats (anyone who can write to the heartbeats topic could otherwise collect the admin token).
    public var analyserURLs: [String: String] = [:]
    /// What a packet costs the analyser that gets it: each analyser's share of packets, messages or bytes follows
    /// its weight (see `CostSelector`).
    public var weightBy: WeightBy = .packets
    /// A packet whose id occurs among the previous `retryWindow` records of its input partition (and at most
    /// `retryWindowAge` earlier, by record timestamp) is a client's retry and is not routed again; 0 turns it off.
    /// See `RetryWindow`.
    public var retryWindow: Int64 = 100_000
    /// The longest retry window: 10 million records, about 400 MB per input partition (a record takes 32 bytes
    /// of ring and 8 of index).
    public static let maxRetryWindow: Int64 = 10_000_000
    public var retryWindowAge: Duration = .seconds(600)
    /// The longest a newly assigned partition waits while its retry window is read back.
    public var retryWindowLoadBudget: Duration = .seconds(30)
    /// Where the dashboard's load generator sends packets (ingest's `/v1/packets`): given by the operator, never learned
    /// from Kafka data. nil, or no admin token, turns load control off.
    public var ingestURL: String?
    /// The bearer token ingest requires, if it requires one (`LOGDIST_INGEST_TOKEN`).
    public var ingestToken: BearerToken?
    /// Bounds on the load the dashboard can start.
    public var loadLimits = LoadLimits()
    /// How the topics are created if the dispatcher is the first service on an empty cluster.
    public var layout = TopicLayout()

    public init(kafka: KafkaConfig, topics: Topics, http: HTTPSettings, instanceID: String? = nil) {
        self.kafka = kafka
        self.topics = topics
        self.http = http
        self.instanceID = instanceID ?? Self.processInstanceID()
        self.isStableInstance = instanceID != nil
    }

    /// `group.instance.id` for static membership, when the instance id is stable; nil keeps dynamic membership (a
    /// made-up id would leave a departed member's partitions idle until its session expires).
    public var staticMemberID: String? { isStableInstance ? instanceID : nil }

    /// `<host>-<pid>`: unique among the processes of one host, and across hosts.
    public static func processInstanceID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Ingest's packets URL from `http://host:port` (the path `/v1/packets` added) or from that URL itself; nil for
    /// anything else (another scheme, no host, another path).
    public static func ingestPacketsURL(_ text: String) -> String? {
        guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty, url.query == nil
        else { return nil }
        var base = url.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        switch url.path {
        case "", "/": return base + "/v1/packets"
        case "/v1/packets": return base
        default: return nil
        }
    }

    /// Exactly-once: how many transactional producers take turns (`TransactionTurns`); 2 keeps a transaction from
    /// waiting for the previous one's commit markers. 1: one producer, one transactional id.
    public var transactionalProducers = 2

    /// The transactional id of this instance (its first producer's).
    public var transactionalID: String { "\(topics.namespace).dispatcher.\(instanceID)" }

    /// The transactional ids of this instance's producers: the first is `transactionalID` (so a dispatcher that ran
    /// with one producer is fenced by its restart), the others add `/2`, `/3`, … — a `/` is in no instance id that
    /// can also be a static group member id (Kafka allows letters, digits, `.`, `_` and `-` there), so the ids of two
    /// instances never meet.
    public var transactionalIDs: [String] { Array(fencedTransactionalIDs.prefix(max(1, transactionalProducers))) }

    /// The most producers an instance runs (`--transactional-producers`).
    public static let maxTransactionalProducers = 2

    /// Every transactional id this instance may have used, whatever its producer count was: all are fenced at start,
    /// so an instance restarted with fewer producers still aborts what the others left open at once (instead of
    /// `read_committed` readers waiting out `transaction.timeout.ms`).
    public var fencedTransactionalIDs: [String] {
        (0..<Self.maxTransactionalProducers).map { $0 == 0 ? transactionalID : "\(transactionalID)/\($0 + 1)" }
    }
}

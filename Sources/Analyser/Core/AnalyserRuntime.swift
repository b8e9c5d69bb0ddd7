import Histogram

/// Everything the analyser knows, owned by one `Mutex`: the consume loop writes a whole batch under one lock,
/// HTTP reads snapshots.
struct AnalyserRuntime: Sendable {
    var stats: AnalysisStats
    var dedupe: DedupeWindow
    /// End-to-end latency in microseconds (ingest-time header → analysed).
    var latency = LatencyHistogram.make()
    /// The two hops of it, split at the assigned record's timestamp (set when the dispatcher produced it):
    /// ingest → dispatched, and dispatched → analysed. Microseconds.
    var toDispatch = LatencyHistogram.make()
    var fromDispatch = LatencyHistogram.make()
    /// Next offset to process in its partition.
    var position: Int64 = -1
    /// Last offset committed to its group.
    var committed: Int64 = -1
    var endOffset: Int64 = -1
    var logStart: Int64 = -1
    var failed = false
    var started = false
    /// What start-up is waiting for (a cluster still electing leaders or loading coordinators), for `/health/ready`.
    var waitingFor: String?
    var malformed: Int64 = 0
    var retentionLost: Int64 = 0
    var replay = ReplayProgress()
    /// Every analysed id with its count, when `recordIDs` is on.
    var analysedIDs: [String: Int]?

    init(config: AnalyserConfig) {
        stats = AnalysisStats()
        dedupe = DedupeWindow(capacity: config.dedupeCapacity, maxBytes: config.dedupeMaxBytes)
        analysedIDs = config.recordIDs ? [:] : nil
    }

    var lag: Int64 { endOffset >= 0 && position >= 0 ? max(0, endOffset - position) : 0 }
}

/// A backlog replay: from where it started to the end offset seen when it started.
struct ReplayProgress: Sendable, Codable, Equatable {
    var startOffset: Int64 = -1
    var targetOffset: Int64 = -1
    var startedAtMs: Int64 = 0
    var finishedAtMs: Int64?
    var packets: Int64 { max(0, targetOffset - startOffset) }

    mutating func begin(at offset: Int64, target: Int64, nowMs: Int64) {
        startOffset = offset
        targetOffset = target
        startedAtMs = nowMs
        finishedAtMs = target <= offset ? nowMs : nil
    }

    mutating func advance(to position: Int64, nowMs: Int64) {
        if finishedAtMs == nil, position >= targetOffset { finishedAtMs = nowMs }
    }

    func remaining(position: Int64) -> Int64 { finishedAtMs == nil ? max(0, targetOffset - position) : 0 }
}

/// `GET /v1/stats`.
public struct AnalyserStats: Codable, Sendable {
    public struct Offsets: Codable, Sendable {
        public var position: Int64
        public var committed: Int64
        public var end: Int64
        public var logStart: Int64
        public var lag: Int64
    }

    public struct Replay: Codable, Sendable {
        public var startOffset: Int64
        public var targetOffset: Int64
        public var packets: Int64
        public var remaining: Int64
        public var startedAtMs: Int64
        public var finishedAtMs: Int64?
        public var durationMs: Int64?
        public var packetsPerSecond: Double?
    }

    public struct Latency: Codable, Sendable {
        public var count: UInt64
        public var p50Ms: Double
        public var p90Ms: Double
        public var p99Ms: Double
        public var p999Ms: Double
        public var maxMs: Double
        /// Where the time goes: ingest → dispatcher produced the assigned record, and from then → analysed.
        public var hops: Hops?
    }

    public struct Hops: Codable, Sendable {
        public var ingestToDispatch: Percentiles
        public var dispatchToAnalysed: Percentiles
    }

    public struct Percentiles: Codable, Sendable {
        public var p50Ms: Double
        public var p99Ms: Double
        public var p999Ms: Double

        init(_ h: LatencyHistogram) {
            p50Ms = Double(h.valueAtPercentile(50)) / 1000
            p99Ms = Double(h.valueAtPercentile(99)) / 1000
            p999Ms = Double(h.valueAtPercentile(99.9)) / 1000
        }
    }

    public struct Dedupe: Codable, Sendable {
        public var entries: Int
        public var approximateBytes: Int
        public var evictions: Int
    }

    public var id: String
    public var partition: Int32
    public var weight: Int
    public var state: String
    public var offsets: Offsets
    public var replay: Replay
    public var retentionLostPackets: Int64
    public var malformed: Int64
    public var latency: Latency
    public var dedupe: Dedupe
    public var analysis: StatsSnapshot
}

/// Latencies in microseconds (HdrHistogram, three significant digits).
public typealias LatencyHistogram = Histogram<UInt64>

extension LatencyHistogram {
    /// Microseconds up to an hour, three significant digits.
    public static func make() -> LatencyHistogram {
        LatencyHistogram(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }
}

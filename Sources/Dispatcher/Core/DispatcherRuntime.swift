
/// The dispatcher's shared state under one lock: the live table, what was dispatched, pause state.
struct DispatcherRuntime: Sendable {
    var table: HealthTable
    var dispatched: [String: Int64] = [:]
    /// What was dispatched, per analyser, in the units of `--weight-by`.
    var dispatchedCost: [String: Int64] = [:]
    var recent = RecentCounts(seconds: 10)
    var paused = false
    var mode: DeliveryMode = .atLeastOnce
    var inputPartitions: [Int32] = []
    /// Partitions of the assigned topic; an analyser claiming one beyond it gets nothing.
    var assignedSlots: Int32 = .max
    /// Dispatch counts per period of an unchanged healthy set, newest last (at most 100 kept).
    var epochs: [DispatchEpoch] = []

    mutating func record(_ counts: [String: Int64], members: [SelectorMember], nowMs: Int64) {
        if epochs.last?.members != members {
            epochs.append(DispatchEpoch(startedAtMs: nowMs, members: members))
            if epochs.count > 100 { epochs.removeFirst(epochs.count - 100) }
        }
        epochs[epochs.count - 1].counts.merge(counts, uniquingKeysWith: +)
        epochs[epochs.count - 1].lastAtMs = nowMs
    }

    init(policy: HealthPolicy) {
        table = HealthTable(policy: policy)
    }
}

/// Per-analyser counts over the last few seconds, in one-second buckets, for "share of recent traffic".
struct RecentCounts: Sendable {
    private let seconds: Int
    private var buckets: [Int64: [String: Int64]] = [:]

    init(seconds: Int) {
        self.seconds = seconds
    }

    mutating func add(_ counts: [String: Int64], nowMs: Int64) {
        let second = nowMs / 1000
        buckets[second, default: [:]].merge(counts, uniquingKeysWith: +)
        buckets = buckets.filter { $0.key > second - Int64(seconds) }
    }

    /// Totals per analyser over the window ending at `nowMs`.
    func totals(nowMs: Int64) -> [String: Int64] {
        let second = nowMs / 1000
        var totals: [String: Int64] = [:]
        for (bucket, counts) in buckets where bucket > second - Int64(seconds) {
            totals.merge(counts, uniquingKeysWith: +)
        }
        return totals
    }

    /// Packets per second per analyser over the window.
    func rates(nowMs: Int64) -> [String: Double] {
        totals(nowMs: nowMs).mapValues { Double($0) / Double(seconds) }
    }
}

/// A period during which the healthy set and weights did not change, and what each member got in it.
/// Smooth weighted round-robin makes each member's count its exact share, give or take a couple of packets.
public struct DispatchEpoch: Codable, Sendable, Equatable {
    public var startedAtMs: Int64
    public var lastAtMs: Int64
    public var members: [SelectorMember]
    public var counts: [String: Int64] = [:]

    init(startedAtMs: Int64, members: [SelectorMember]) {
        self.startedAtMs = startedAtMs
        self.lastAtMs = startedAtMs
        self.members = members
    }

    /// Largest |count − total × weight / Σweights| over the members.
    public var maxDeviation: Double {
        let total = Double(counts.values.reduce(0, +))
        let weights = Double(members.reduce(0) { $0 + $1.weight })
        guard weights > 0 else { return 0 }
        return members.map { abs(Double(counts[$0.id] ?? 0) - total * Double($0.weight) / weights) }.max() ?? 0
    }
}

/// `GET /v1/analysers`.
public struct AnalysersView: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var status: AnalyserStatus
        public var dispatched: Int64
        /// What was dispatched in the units of `weightBy` (packets, messages or bytes).
        public var dispatchedCost: Int64
        /// Share of everything this instance dispatched since start.
        public var share: Double
        /// Share of the last 10 s.
        public var recentShare: Double
        public var recentRate: Double
        /// weight / sum of healthy weights, when healthy.
        public var expectedShare: Double
    }

    public var instance: String
    public var delivery: DeliveryMode
    public var weightBy: WeightBy
    public var paused: Bool
    public var inputPartitions: [Int32]
    public var dispatchedTotal: Int64
    public var analysers: [Row]
    public var epochs: [DispatchEpoch]
}

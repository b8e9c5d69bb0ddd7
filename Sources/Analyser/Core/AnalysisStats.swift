/// Running analysis of the packets an analyser processes: totals, per-level counts, a sliding-window rate and
/// error rate, the most frequent message templates and counts per source.
///
/// Memory is bounded: `windowSeconds` buckets, `10 × topK` template counters, `maxSources` source counters.
/// - Important: a value type with no locking; its owner serialises access. `record` reads no clock: callers pass
///   the time, which keeps it fast and testable.
public struct AnalysisStats: Sendable {
    /// The six levels, in severity order; `levels` in a snapshot always holds each of them.
    public static let levelNames = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
    static let unknownLevel = "UNKNOWN"
    static let noSource = "(none)"
    static let otherSources = "(other)"

    public let windowSeconds: Int
    public let topK: Int
    public let maxSources: Int

    private var packets: Int64 = 0
    private var messages: Int64 = 0
    private var duplicates: Int64 = 0
    private var levelCounts = [Int64](repeating: 0, count: 7)  // levelNames order, then unknown
    private var firstRecordMs: Int64?

    // One bucket per second of the window, reused in a ring; a bucket belongs to the second it records.
    private var bucketSecond: [Int64]
    private var bucketMessages: [Int64]
    private var bucketErrors: [Int64]

    private var templates: TopKCounter
    private var sourceCounts: [String: Int64] = [:]
    private var noSourceCount: Int64 = 0
    private var otherSourceCount: Int64 = 0

    public init(windowSeconds: Int = 60, topK: Int = 10, maxSources: Int = 1000) {
        precondition(windowSeconds > 0 && topK > 0 && maxSources >= 0, "AnalysisStats bounds must be positive")
        self.windowSeconds = windowSeconds
        self.topK = topK
        self.maxSources = maxSources
        bucketSecond = Array(repeating: .min, count: windowSeconds)
        bucketMessages = Array(repeating: 0, count: windowSeconds)
        bucketErrors = Array(repeating: 0, count: windowSeconds)
        templates = TopKCounter(capacity: topK * 10)
    }

    /// Records one packet's messages at time `nowMs` (epoch milliseconds).
    ///
    /// Levels are matched case-insensitively against TRACE DEBUG INFO WARN ERROR FATAL; anything else counts as
    /// `UNKNOWN`. `packetID` is not used for counting: deduplication is the caller's (see `DedupeWindow`), which
    /// then calls `recordDuplicate()` instead.
    public mutating func record(
        packetID: String, source: String?, messages: [(level: String, message: String)], nowMs: Int64
    ) {
        if firstRecordMs == nil { firstRecordMs = nowMs }
        packets += 1
        countSource(source)

        var errors: Int64 = 0
        for entry in messages {
            let level = Self.levelIndex(entry.level)
            levelCounts[level] += 1
            if level == 4 || level == 5 { errors += 1 }
            templates.add(TemplateMasker.mask(entry.message))
        }
        let count = Int64(messages.count)
        self.messages += count

        let second = Self.floorDiv(nowMs, 1000)
        let slot = Int(Self.floorMod(second, Int64(windowSeconds)))
        if bucketSecond[slot] < second {
            bucketSecond[slot] = second
            bucketMessages[slot] = 0
            bucketErrors[slot] = 0
        }
        if bucketSecond[slot] == second {  // otherwise older than the window: totals only
            bucketMessages[slot] += count
            bucketErrors[slot] += errors
        }
    }

    /// Counts a packet the caller recognised as a duplicate.
    public mutating func recordDuplicate() {
        duplicates += 1
    }

    /// Packets and messages recorded so far (duplicates not counted): what heartbeats carry, without a snapshot.
    public var totals: (packets: Int64, messages: Int64) { (packets, messages) }

    public func snapshot(nowMs: Int64) -> StatsSnapshot {
        let now = Self.floorDiv(nowMs, 1000)
        var windowMessages: Int64 = 0
        var windowErrors: Int64 = 0
        for slot in 0..<windowSeconds where bucketSecond[slot] > now - Int64(windowSeconds) && bucketSecond[slot] <= now
        {
            windowMessages += bucketMessages[slot]
            windowErrors += bucketErrors[slot]
        }
        var rate = 0.0
        if let first = firstRecordMs {
            let elapsed = max(1.0, Double(nowMs - first) / 1000)
            rate = Double(windowMessages) / min(Double(windowSeconds), elapsed)
        }

        var levels: [String: Int64] = [:]
        for (index, name) in Self.levelNames.enumerated() { levels[name] = levelCounts[index] }
        if levelCounts[6] > 0 { levels[Self.unknownLevel] = levelCounts[6] }

        return StatsSnapshot(
            packets: packets,
            messages: messages,
            duplicates: duplicates,
            levels: levels,
            messagesPerSecond: rate,
            errorRate: windowMessages == 0 ? 0 : Double(windowErrors) / Double(windowMessages),
            windowSeconds: windowSeconds,
            topTemplates: templates.top(topK).map {
                TemplateCount(template: $0.key, count: Int64($0.count), errorBound: Int64($0.error))
            },
            sources: topSources()
        )
    }

    // MARK: Helpers

    private mutating func countSource(_ source: String?) {
        guard let source else {
            noSourceCount += 1
            return
        }
        if let index = sourceCounts.index(forKey: source) {
            sourceCounts.values[index] += 1
        } else if sourceCounts.count < maxSources {
            sourceCounts[source] = 1
        } else {
            otherSourceCount += 1
        }
    }

    /// The `topK` largest source counts, `(none)` and `(other)` competing like any source.
    private func topSources() -> [SourceCount] {
        var all = sourceCounts.map { SourceCount(source: $0.key, count: $0.value) }
        if noSourceCount > 0 { all.append(SourceCount(source: Self.noSource, count: noSourceCount)) }
        if otherSourceCount > 0 { all.append(SourceCount(source: Self.otherSources, count: otherSourceCount)) }
        all.sort { $0.count != $1.count ? $0.count > $1.count : $0.source < $1.source }
        return Array(all.prefix(topK))
    }

    /// Index into `levelNames`, or 6 for anything else. The uppercase spellings compare without allocating.
    @inline(__always) static func levelIndex(_ level: String) -> Int {
        switch level {
        case "INFO": return 2
        case "DEBUG": return 1
        case "WARN": return 3
        case "ERROR": return 4
        case "TRACE": return 0
        case "FATAL": return 5
        default:
            let upper = level.uppercased()
            return upper == level ? 6 : levelIndex(upper)
        }
    }

    @inline(__always) static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    @inline(__always) static func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
        let r = a % b
        return r < 0 ? r + b : r
    }
}

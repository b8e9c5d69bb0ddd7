import LogdistBasics
import PacketModel

/// When an analyser counts as healthy.
public struct HealthPolicy: Sendable, Equatable {
    /// A heartbeat at least this old makes its analyser stale.
    public var heartbeatTimeout: Duration
    /// A lag (end offset minus committed offset) at or above this makes its analyser lagging.
    public var maxLag: Int64

    /// The longest time the heartbeats feed may be blind (its partition without a reachable leader) and still not
    /// count against analysers' heartbeats; past it, silence counts again. Covers a Kafka leader failover
    /// (`broker.session.timeout.ms`, 9 s by default, plus election and reconnection).
    public var maxFeedBlindness: Duration

    public init(
        heartbeatTimeout: Duration = .milliseconds(1500), maxLag: Int64 = 100_000,
        maxFeedBlindness: Duration = .seconds(30)
    ) {
        self.heartbeatTimeout = heartbeatTimeout
        self.maxLag = maxLag
        self.maxFeedBlindness = maxFeedBlindness
    }

    var timeoutMs: Int64 { Int64(heartbeatTimeout.milliseconds) }
    var maxBlindMs: Int64 { Int64(maxFeedBlindness.milliseconds) }
    /// No probe back for this long makes the feed blind: half the timeout, so an analyser that heartbeated with the
    /// last probe is still fresh when blindness starts.
    var blindAfterMs: Int64 { timeoutMs / 2 }
}

/// Why an analyser is or is not healthy; the first that applies, in the order listed after `healthy`.
public enum HealthReason: String, Sendable, Codable {
    case healthy
    /// An operator retired it (`logdist drain`): no new packets.
    case retired
    /// Its last heartbeat said it shut down.
    case down
    /// Its last heartbeat is older than the timeout.
    case stale
    /// Another live analyser claimed its partition first.
    case conflict
    case zeroWeight
    /// Its lag is at or above the limit.
    case lagging
}

/// One row of the live table, as `GET /v1/analysers` shows it.
public struct AnalyserStatus: Sendable, Equatable, Codable {
    public var id: String
    public var partition: Int32
    /// The weight routing uses: the operator's (`logdist weight`), else the analyser's own.
    public var weight: Int
    /// The weight the analyser's heartbeats carry.
    public var ownWeight: Int
    /// Whether `weight` is an operator's override.
    public var weightOverridden: Bool
    public var state: AnalyserState
    /// Epoch milliseconds of its last heartbeat (never later than when it was consumed).
    public var lastHeartbeatMs: Int64
    public var heartbeatAgeMs: Int64
    public var committedOffset: Int64
    /// High watermark of its partition, once polled.
    public var endOffset: Int64?
    public var lag: Int64?
    public var healthy: Bool
    public var reason: HealthReason
    public var url: String?
    /// Distinct packets and messages the analyser analysed since it started, from its last heartbeat (nil from an
    /// analyser too old to say).
    public var analysedPackets: Int64?
    public var analysedMessages: Int64?
}

/// Something the dispatcher should log or count.
public enum HealthEvent: Sendable, Equatable {
    case joined(id: String)
    case healthChanged(id: String, healthy: Bool, reason: HealthReason)
    /// `rejected` claims a partition that live `kept` claimed first; log it as an error.
    case conflictingClaim(partition: Int32, kept: String, rejected: String)
}

/// The live table of analysers, fed by `logdist.heartbeats`; pure, the caller supplies the clock.
///
/// A partition belongs to the analyser that claimed it first for as long as that one's heartbeats stay fresh; when it
/// goes stale (or moves away) the earliest live rival takes the partition over. A rejected analyser is never healthy.
public struct HealthTable: Sendable {
    public let policy: HealthPolicy

    private var entries: [String: Entry] = [:]
    private var owners: [Int32: String] = [:]
    private var endOffsets: [Int32: Int64] = [:]
    private var nextClaim: UInt64 = 0
    /// When this dispatcher last read back one of its own probes.
    private var lastProbeMs: Int64?
    /// The last blind period that ended, [start, end).
    private var lastBlindness: (start: Int64, end: Int64)?
    /// Operators' weights and retirements, from the heartbeats topic.
    public private(set) var directives = FleetDirectives()

    private struct Entry: Sendable {
        var heartbeat: Heartbeat
        var lastHeartbeatMs: Int64
        /// Order of the claim on its current partition; lower claimed first.
        var claim: UInt64
        /// The owner a `conflictingClaim` was already reported against, so it is reported once.
        var reportedConflictWith: String?
        /// What the last `evaluate` reported.
        var reportedReason: HealthReason?
    }

    public init(policy: HealthPolicy = HealthPolicy()) {
        self.policy = policy
    }

    /// Records a heartbeat consumed at wall-clock `observedAtMs`.
    ///
    /// Its time is `min(sentAt, observedAtMs)`, so an analyser whose clock runs ahead cannot stay healthy on credit,
    /// and heartbeats replayed from the compacted topic at startup are stale until fresh ones arrive.
    /// Returns `joined` for a new id and `conflictingClaim` once when a live analyser's claim is rejected.
    public mutating func apply(_ heartbeat: Heartbeat, observedAtMs: Int64) -> [HealthEvent] {
        var events: [HealthEvent] = []
        let time = min(heartbeat.sentAt, observedAtMs)
        let partition = heartbeat.partition
        if var entry = entries[heartbeat.id] {
            let previous = entry.heartbeat.partition
            entry.heartbeat = heartbeat
            entry.lastHeartbeatMs = max(entry.lastHeartbeatMs, time)
            if previous != partition {
                entry.claim = takeClaim()
                entry.reportedConflictWith = nil
            }
            entries[heartbeat.id] = entry
            if previous != partition { resolve(previous, nowMs: observedAtMs) }
        } else {
            entries[heartbeat.id] = Entry(heartbeat: heartbeat, lastHeartbeatMs: time, claim: takeClaim())
            events.append(.joined(id: heartbeat.id))
        }
        resolve(partition, nowMs: observedAtMs)

        if let owner = owners[partition], owner != heartbeat.id, let entry = entries[heartbeat.id],
            isFresh(entry, nowMs: observedAtMs), entry.reportedConflictWith != owner
        {
            entries[heartbeat.id]?.reportedConflictWith = owner
            events.append(.conflictingClaim(partition: partition, kept: owner, rejected: heartbeat.id))
        }
        return events
    }

    /// Records that the dispatcher read back one of its own probes (written to the heartbeats partition every probe
    /// interval) at `observedAtMs`: the feed flows.
    ///
    /// Without probes, a heartbeat's age is wall-clock time. With them, time during which the feed was blind — no
    /// probe came back for half a heartbeat timeout, as while the partition has no reachable leader — does not count
    /// against analysers, up to `maxFeedBlindness`: a broker failure is not an analyser failure. Blindness ends half
    /// a timeout after probes return, the time the analysers' own queued heartbeats need to land.
    public mutating func feedConfirmed(observedAtMs: Int64) {
        if let last = lastProbeMs, observedAtMs - last > policy.blindAfterMs {
            lastBlindness = (last + policy.blindAfterMs, observedAtMs + policy.blindAfterMs)
        }
        lastProbeMs = max(lastProbeMs ?? observedAtMs, observedAtMs)
    }

    /// How long the feed has been blind at `nowMs` (0 while probes come back, or when none was ever read).
    public func feedBlindMs(nowMs: Int64) -> Int64 {
        guard let last = lastProbeMs else { return 0 }
        return max(0, nowMs - last - policy.blindAfterMs)
    }

    /// The age of a heartbeat seen at `lastMs`, not counting time the feed was blind (at most `maxFeedBlindness`).
    func age(sinceMs lastMs: Int64, nowMs: Int64) -> Int64 {
        var blind: Int64 = 0
        func overlap(_ start: Int64, _ end: Int64) -> Int64 { max(0, min(end, nowMs) - max(start, lastMs)) }
        if let last = lastProbeMs, nowMs - last > policy.blindAfterMs {
            blind += overlap(last + policy.blindAfterMs, nowMs)
        }
        if let past = lastBlindness { blind += overlap(past.start, past.end) }
        return nowMs - lastMs - min(blind, policy.maxBlindMs)
    }

    /// Forgets an analyser removed from the fleet (a tombstone on its id: `logdist drain` at the end).
    public mutating func forget(_ id: String, nowMs: Int64) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        resolve(entry.heartbeat.partition, nowMs: nowMs)
    }

    /// Records an operator's directive (or its withdrawal) read from the heartbeats topic; takes effect at the next
    /// `healthyMembers`.
    public mutating func apply(_ directive: FleetDirective.Parsed) {
        directives.apply(directive)
    }

    /// Records the end offset (high watermark) of an analyser partition, polled by the service.
    public mutating func updateEndOffset(partition: Int32, endOffset: Int64) {
        endOffsets[partition] = endOffset
    }

    /// Re-evaluates claims and health at `nowMs`; returns the health transitions since the last evaluate (a new
    /// analyser's first status counts as one), ordered by id.
    public mutating func evaluate(nowMs: Int64) -> [HealthEvent] {
        for partition in Set(owners.keys).union(entries.values.map(\.heartbeat.partition)) {
            resolve(partition, nowMs: nowMs)
        }
        var events: [HealthEvent] = []
        for id in entries.keys.sorted() {
            guard let entry = entries[id] else { continue }
            let reason = reason(for: entry, nowMs: nowMs)
            if reason != entry.reportedReason {
                entries[id]?.reportedReason = reason
                events.append(.healthChanged(id: id, healthy: reason == .healthy, reason: reason))
            }
        }
        return events
    }

    /// Healthy analysers, sorted by id, for `WeightedSelector.update`.
    public func healthyMembers(nowMs: Int64) -> [SelectorMember] {
        entries.values
            .filter { reason(for: $0, nowMs: nowMs) == .healthy }
            .map {
                SelectorMember(
                    id: $0.heartbeat.id, partition: $0.heartbeat.partition, weight: weight(of: $0))
            }
            .sorted { $0.id < $1.id }
    }

    /// The whole table at `nowMs`, sorted by partition then id.
    public func snapshot(nowMs: Int64) -> [AnalyserStatus] {
        entries.values.map { entry in
            let heartbeat = entry.heartbeat
            let reason = reason(for: entry, nowMs: nowMs)
            return AnalyserStatus(
                id: heartbeat.id, partition: heartbeat.partition, weight: weight(of: entry), ownWeight: heartbeat.weight,
                weightOverridden: directives.weights[heartbeat.id] != nil, state: heartbeat.state,
                lastHeartbeatMs: entry.lastHeartbeatMs,
                heartbeatAgeMs: max(0, nowMs - entry.lastHeartbeatMs),
                committedOffset: heartbeat.committedOffset, endOffset: endOffsets[heartbeat.partition],
                lag: lag(of: entry), healthy: reason == .healthy, reason: reason, url: heartbeat.url,
                analysedPackets: heartbeat.analysedPackets, analysedMessages: heartbeat.analysedMessages
            )
        }
        .sorted { ($0.partition, $0.id) < ($1.partition, $1.id) }
    }

    /// Partitions claimed by any analyser in the table, ascending: the ones whose end offsets to poll.
    public var partitions: [Int32] {
        Set(entries.values.map(\.heartbeat.partition)).sorted()
    }

    private func reason(for entry: Entry, nowMs: Int64) -> HealthReason {
        if directives.retired.contains(entry.heartbeat.id) { return .retired }
        if entry.heartbeat.state == .down { return .down }
        if !isFresh(entry, nowMs: nowMs) { return .stale }
        if owners[entry.heartbeat.partition] != entry.heartbeat.id { return .conflict }
        if weight(of: entry) <= 0 { return .zeroWeight }
        if (lag(of: entry) ?? 0) >= policy.maxLag { return .lagging }
        return .healthy
    }

    private func weight(of entry: Entry) -> Int {
        directives.weight(of: entry.heartbeat.id, heartbeat: entry.heartbeat.weight)
    }

    private func isFresh(_ entry: Entry, nowMs: Int64) -> Bool {
        age(sinceMs: entry.lastHeartbeatMs, nowMs: nowMs) < policy.timeoutMs
    }

    private func lag(of entry: Entry) -> Int64? {
        endOffsets[entry.heartbeat.partition].map { max(0, $0 - entry.heartbeat.committedOffset) }
    }

    private mutating func takeClaim() -> UInt64 {
        defer { nextClaim += 1 }
        return nextClaim
    }

    /// Keeps the owner while it is fresh; otherwise the earliest fresh claimant, else the current or earliest one.
    private mutating func resolve(_ partition: Int32, nowMs: Int64) {
        let claimants = entries.values.filter { $0.heartbeat.partition == partition }
        let current = owners[partition].flatMap { entries[$0] }.flatMap {
            $0.heartbeat.partition == partition ? $0 : nil
        }
        if let current, isFresh(current, nowMs: nowMs) { return }
        let byClaim: (Entry, Entry) -> Bool = { $0.claim < $1.claim }
        let fresh = claimants.filter { isFresh($0, nowMs: nowMs) }.min(by: byClaim)
        guard let owner = fresh ?? current ?? claimants.min(by: byClaim) else {
            owners[partition] = nil
            return
        }
        if owner.heartbeat.id != owners[partition] {
            owners[partition] = owner.heartbeat.id
            entries[owner.heartbeat.id]?.reportedConflictWith = nil
        }
    }
}

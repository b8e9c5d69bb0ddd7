import LoadGen

/// Why a load run ended.
public enum LoadStopReason: String, Codable, Sendable {
    /// `DELETE /v1/load` (the dashboard's Stop button).
    case requested
    /// Its duration ran out.
    case duration
    /// The dispatcher shut down.
    case shutdown
    /// The load generator failed; `error` says how.
    case failed
}

/// Counts of a load run, as the dashboard shows them.
public struct LoadCounts: Codable, Sendable, Equatable {
    public var requests = 0
    /// Answered with a 2xx status (ingest answers 202 once Kafka acknowledged every packet).
    public var ok2xx = 0
    /// Answered with any other status (503 when Kafka is slow or the queue is full, 4xx for a refused body).
    public var non2xx = 0
    /// No answer: connection refused or reset, or the 30 s read timeout.
    public var errors = 0
    public var packetsAccepted = 0

    public init() {}

    init(_ totals: LoadTotals) {
        requests = totals.requests
        errors = totals.errors
        packetsAccepted = totals.packetsAccepted
        for (status, count) in totals.statuses {
            if (200..<300).contains(status) { ok2xx += count } else { non2xx += count }
        }
    }

    /// `self − other`, field by field, never below zero.
    func subtracting(_ other: LoadCounts) -> LoadCounts {
        var result = LoadCounts()
        result.requests = max(0, requests - other.requests)
        result.ok2xx = max(0, ok2xx - other.ok2xx)
        result.non2xx = max(0, non2xx - other.non2xx)
        result.errors = max(0, errors - other.errors)
        result.packetsAccepted = max(0, packetsAccepted - other.packetsAccepted)
        return result
    }
}

/// One load run: what was asked, and what happened so far.
///
/// Counts grow from the generator's one-second windows while it runs; when it ends, they are replaced by its exact
/// totals (which include the last, partial second).
public struct LoadRun: Sendable {
    public let id: Int
    public let request: LoadRequest
    public let connections: Int
    public let startedAtMs: Int64
    public private(set) var finishedAtMs: Int64?
    public private(set) var stopReason: LoadStopReason?
    public private(set) var error: String?
    /// A stop was asked for (by the page, or by shutdown); the reason recorded when the generator returns.
    public private(set) var stopping: LoadStopReason?
    private(set) var totals = LoadTotals()
    private(set) var lastWindow: (counts: LoadCounts, atMs: Int64)?

    init(id: Int, request: LoadRequest, connections: Int, startedAtMs: Int64) {
        self.id = id
        self.request = request
        self.connections = connections
        self.startedAtMs = startedAtMs
    }

    public var isRunning: Bool { finishedAtMs == nil }
    public var endsAtMs: Int64 { startedAtMs + Int64(request.durationSeconds * 1000) }
    public var counts: LoadCounts { LoadCounts(totals) }

    /// Adds one second's counts; returns them, for the metrics.
    mutating func record(window: LoadTotals, nowMs: Int64) -> LoadCounts {
        guard isRunning else { return LoadCounts() }
        totals.merge(window)
        let counts = LoadCounts(window)
        lastWindow = (counts, nowMs)
        return counts
    }

    mutating func requestStop(_ reason: LoadStopReason) {
        if isRunning, stopping == nil { stopping = reason }
    }

    /// The generator returned `final` (or failed with `error`); returns what the windows had not counted yet.
    mutating func finish(final: LoadTotals?, error: String?, nowMs: Int64) -> LoadCounts {
        guard isRunning else { return LoadCounts() }
        let before = counts
        if let final { totals = final }
        finishedAtMs = nowMs
        self.error = error
        stopReason = error != nil ? .failed : (stopping ?? .duration)
        return counts.subtracting(before)
    }

    /// The counts of the last one-second window, while it is recent; nil once the run ended or the windows stopped.
    func lastSecond(nowMs: Int64) -> LoadCounts? {
        guard isRunning, let lastWindow, nowMs - lastWindow.atMs < 2500 else { return nil }
        return lastWindow.counts
    }
}

/// `GET /v1/load` (and the answer to `POST` and `DELETE`).
public struct LoadStatus: Codable, Sendable {
    public struct Latency: Codable, Sendable, Equatable {
        public var p50Ms: Double
        public var p90Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
    }

    public struct Run: Codable, Sendable {
        public var id: Int
        public var request: LoadRequest
        public var connections: Int
        public var running: Bool
        public var startedAtMs: Int64
        public var endsAtMs: Int64
        public var finishedAtMs: Int64?
        public var elapsedSeconds: Double
        public var stopReason: LoadStopReason?
        public var error: String?
        public var counts: LoadCounts
        public var messagesAccepted: Int
        /// Requests in the last second of the run (0 once it ended).
        public var requestsPerSecond: Double
        /// The counts of that second (nil once the run ended).
        public var lastSecond: LoadCounts?
        /// Over the whole run so far.
        public var averageRequestsPerSecond: Double
        /// From when each request was due (no coordinated omission), in milliseconds.
        public var latency: Latency
        public var statuses: [String: Int]
    }

    /// Whether load control is on (the admin token and the ingest URL are configured).
    public var enabled: Bool
    /// Why it is off, and what to set.
    public var detail: String?
    /// Where load goes: the operator-configured ingest URL.
    public var target: String?
    public var limits: LoadLimits
    /// The run in progress, or the last one.
    public var run: Run?

    init(enabled: Bool, detail: String?, target: String?, limits: LoadLimits, run: LoadRun?, nowMs: Int64) {
        self.enabled = enabled
        self.detail = detail
        self.target = target
        self.limits = limits
        self.run = run.map { run in
            let end = run.finishedAtMs ?? nowMs
            let elapsed = max(0, Double(end - run.startedAtMs) / 1000)
            let histogram = run.totals.latency
            let ms = { (value: UInt64) in Double(value) / 1000 }
            let counts = run.counts
            return Run(
                id: run.id, request: run.request, connections: run.connections, running: run.isRunning,
                startedAtMs: run.startedAtMs, endsAtMs: run.endsAtMs, finishedAtMs: run.finishedAtMs,
                elapsedSeconds: elapsed, stopReason: run.stopReason, error: run.error, counts: counts,
                messagesAccepted: counts.packetsAccepted * run.request.messagesPerPacket,
                requestsPerSecond: Double(run.lastSecond(nowMs: nowMs)?.requests ?? 0), lastSecond: run.lastSecond(nowMs: nowMs),
                averageRequestsPerSecond: elapsed > 0 ? Double(counts.requests) / elapsed : 0,
                latency: Latency(
                    p50Ms: ms(histogram.valueAtPercentile(50)), p90Ms: ms(histogram.valueAtPercentile(90)),
                    p99Ms: ms(histogram.valueAtPercentile(99)), maxMs: ms(histogram.totalCount > 0 ? histogram.maxRecorded : 0)),
                statuses: Dictionary(uniqueKeysWithValues: run.totals.statuses.map { (String($0.key), $0.value) }))
        }
    }
}

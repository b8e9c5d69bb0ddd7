/// What an analyser has seen, as served by `GET /v1/stats`.
public struct StatsSnapshot: Sendable, Codable, Equatable {
    /// Packets recorded (duplicates not included).
    public var packets: Int64
    public var messages: Int64
    /// Packets recognised as client retries and not analysed again.
    public var duplicates: Int64
    /// Messages per level; all six levels are present, zeros included (plus `UNKNOWN` when any were seen).
    public var levels: [String: Int64]
    /// Messages in the sliding window divided by min(window, time since the first record), at least one second.
    public var messagesPerSecond: Double
    /// ERROR + FATAL messages in the window over all messages in the window; 0 when there are none.
    public var errorRate: Double
    public var windowSeconds: Int
    /// Most frequent templates, highest count first.
    public var topTemplates: [TemplateCount]
    /// Packets per source, highest count first; `(none)` for packets without a source, `(other)` for sources
    /// beyond the tracked limit.
    public var sources: [SourceCount]

    public init(
        packets: Int64, messages: Int64, duplicates: Int64, levels: [String: Int64], messagesPerSecond: Double,
        errorRate: Double, windowSeconds: Int, topTemplates: [TemplateCount], sources: [SourceCount]
    ) {
        self.packets = packets
        self.messages = messages
        self.duplicates = duplicates
        self.levels = levels
        self.messagesPerSecond = messagesPerSecond
        self.errorRate = errorRate
        self.windowSeconds = windowSeconds
        self.topTemplates = topTemplates
        self.sources = sources
    }
}

/// A message template and how often it was seen; the true count is in `count - errorBound ... count`.
public struct TemplateCount: Sendable, Codable, Equatable {
    public var template: String
    public var count: Int64
    public var errorBound: Int64

    public init(template: String, count: Int64, errorBound: Int64) {
        self.template = template
        self.count = count
        self.errorBound = errorBound
    }
}

/// A packet source and its packet count.
public struct SourceCount: Sendable, Codable, Equatable {
    public var source: String
    public var count: Int64

    public init(source: String, count: Int64) {
        self.source = source
        self.count = count
    }
}

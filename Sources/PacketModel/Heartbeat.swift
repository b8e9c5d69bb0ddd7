import Foundation

/// An analyser's lifecycle state as it announces it.
public enum AnalyserState: String, Codable, Sendable, CaseIterable {
    /// Consuming and accepting new packets.
    case up
    /// Shut down gracefully (its last heartbeat); it gets no packets until it is up again.
    case down
}

/// The record an analyser publishes to `logdist.heartbeats` (key = analyser id) every heartbeat interval.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var id: String
    /// Its partition of `logdist.assigned`.
    public var partition: Int32
    /// Its share of traffic relative to the others; 0 means it gets nothing.
    public var weight: Int
    public var state: AnalyserState
    /// Wall-clock milliseconds since the epoch when it was sent.
    public var sentAt: Int64
    /// The next offset it will process in its partition (its group's committed offset).
    public var committedOffset: Int64
    /// Its HTTP address, shown on the dashboard; optional, and never called by the dispatcher.
    public var url: String?
    /// Distinct packets it analysed since it started (duplicates not counted); optional, so records from analysers
    /// that predate it still decode.
    public var analysedPackets: Int64?
    /// The log messages in those packets.
    public var analysedMessages: Int64?

    public init(
        id: String, partition: Int32, weight: Int, state: AnalyserState, sentAt: Int64, committedOffset: Int64,
        url: String? = nil, analysedPackets: Int64? = nil, analysedMessages: Int64? = nil
    ) {
        self.id = id
        self.partition = partition
        self.weight = weight
        self.state = state
        self.sentAt = sentAt
        self.committedOffset = committedOffset
        self.url = url
        self.analysedPackets = analysedPackets
        self.analysedMessages = analysedMessages
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public static func decode(_ bytes: [UInt8]) throws -> Heartbeat {
        try JSONDecoder().decode(Heartbeat.self, from: Data(bytes))
    }
}

/// Wall-clock milliseconds since the epoch.
public func epochMilliseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded())
}

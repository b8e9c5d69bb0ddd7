import Foundation

/// A record a dispatcher writes to the heartbeats partition and reads back, proving the feed current up to the
/// time it was sent (see `HealthTable.feedConfirmed`).
///
/// One key for all dispatchers, so compaction keeps one probe; the value names the writing process, so a dispatcher
/// counts only its own probes — an old one replayed at start-up proves nothing about now.
struct FeedProbe: Codable, Sendable, Equatable {
    /// The key; not a valid analyser id's record (readers of heartbeats skip it, `logdist lag` cannot decode it).
    static let key = Array("~logdist.dispatcher-probe".utf8)

    /// Unique per dispatcher process.
    var writer: String
    var sentAt: Int64

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    static func decode(_ bytes: [UInt8]) -> FeedProbe? {
        try? JSONDecoder().decode(FeedProbe.self, from: Data(bytes))
    }

    static func isProbe(key: [UInt8]?) -> Bool { key == Self.key }
}

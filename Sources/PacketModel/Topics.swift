/// The names of logdist's topics under one namespace, so several pipelines can share a cluster.
public struct Topics: Sendable, Equatable {
    public let namespace: String

    public init(namespace: String = "logdist") {
        self.namespace = namespace
    }

    /// Packets as ingest accepted them, keyed by packet id.
    public var packets: String { "\(namespace).packets" }
    /// Packets assigned to analysers: one partition per analyser slot.
    public var assigned: String { "\(namespace).assigned" }
    /// Analyser heartbeats, compacted, keyed by analyser id.
    public var heartbeats: String { "\(namespace).heartbeats" }
    /// The dispatcher's consumer group.
    public var dispatcherGroup: String { "\(namespace).dispatcher" }

    /// The consumer group in which analyser `id` commits its progress.
    public func analyserGroup(_ id: String) -> String { "\(namespace).analyser.\(id)" }
}

/// How logdist's topics are created when a service finds them missing: every service creates them with the same
/// layout, so whichever starts first on an empty cluster sets them up.
public struct TopicLayout: Sendable, Equatable {
    /// Partitions of `<namespace>.packets`.
    public var packetPartitions: Int
    /// Partitions of `<namespace>.assigned`: one per analyser slot.
    public var analyserSlots: Int
    /// -1: the broker's `default.replication.factor`.
    public var replicationFactor: Int

    public init(packetPartitions: Int = 6, analyserSlots: Int = 3, replicationFactor: Int = -1) {
        self.packetPartitions = packetPartitions
        self.analyserSlots = analyserSlots
        self.replicationFactor = replicationFactor
    }
}

/// Record headers logdist sets.
public enum HeaderNames {
    /// Epoch milliseconds (ASCII decimal) when ingest accepted the packet; carried unchanged to the analyser.
    public static let ingestTime = "logdist-ingest-time"
    /// The analyser id the dispatcher assigned the packet to.
    public static let analyser = "logdist-analyser"
    /// How many messages the packet holds (ASCII decimal), written by ingest from its validation, so the dispatcher
    /// can weigh packets by their messages without decoding them (`--weight-by messages`).
    public static let messages = "logdist-messages"

    /// Parses an ASCII decimal header value.
    public static func integer(_ bytes: [UInt8]?) -> Int64? {
        guard let bytes, !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int64(byte - 48)
        }
        return value
    }
}

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

    /// The three topics with their partition counts and configs.
    public func specs(packetPartitions: Int, analyserSlots: Int, replicationFactor: Int = -1) -> [TopicSpec] {
        [
            TopicSpec(name: packets, partitions: packetPartitions, replicationFactor: replicationFactor),
            TopicSpec(name: assigned, partitions: analyserSlots, replicationFactor: replicationFactor),
            TopicSpec(
                name: heartbeats, partitions: 1, replicationFactor: replicationFactor,
                configs: ["cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "600000"]),
        ]
    }
}

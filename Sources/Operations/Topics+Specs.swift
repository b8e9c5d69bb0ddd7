import KafkaClient
import PacketModel

/// logdist's three topics as Kafka topics: partitions, replication and configs.
extension Topics {
    /// The three topics laid out as `layout` says.
    public func specs(_ layout: TopicLayout) -> [TopicSpec] {
        specs(
            packetPartitions: layout.packetPartitions, analyserSlots: layout.analyserSlots,
            replicationFactor: layout.replicationFactor)
    }

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

import CRdKafka
import Dispatch
import LogdistBasics
import Logging

/// Offsets and positions: storing and committing what was processed, reading what is committed, seeking,
/// watermarks.
extension KafkaConsumer {
    /// Records the next offsets to commit (last processed + 1); `commitStored` sends them.
    public func store(_ offsets: [TopicPartitionOffset]) throws {
        guard !offsets.isEmpty else { return }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_store(client.handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(code: err, context: "store offsets") }
        if let error = PartitionList.firstError(list, context: "store offset") { throw error }
    }

    /// Commits the stored offsets of the current assignment, waiting for the broker's answer.
    public func commitStored() async throws {
        try await commit(nil)
    }

    /// Commits `offsets` (next offset to read per partition), or the stored offsets when nil.
    public func commit(_ offsets: [TopicPartitionOffset]?) async throws {
        let client = client
        try await commitExecutor.run {
            let list = offsets.map { PartitionList.make($0) }
            defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
            let err = rd_kafka_commit(client.handle, list, 0)
            if err == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "commit") }
            if let list, let error = PartitionList.firstError(list, context: "commit") { throw error }
        }
    }

    /// The group's committed offsets for `partitions`; `KafkaOffset.invalid` where nothing is committed.
    public func committed(_ partitions: [TopicPartition], timeout: Duration) async throws -> [TopicPartitionOffset] {
        let client = client
        return try await executor.run {
            let list = PartitionList.make(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(client.handle, list, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "committed offsets") }
            if let error = PartitionList.firstError(list, context: "committed offset") { throw error }
            return PartitionList.read(list)
        }
    }

    /// The next offset this consumer will fetch per partition (`KafkaOffset.invalid` before the first fetch).
    public func position(_ partitions: [TopicPartition]) throws -> [TopicPartitionOffset] {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_position(client.handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "position") }
        return PartitionList.read(list)
    }

    /// Moves the fetch position of assigned partitions.
    public func seek(_ offsets: [TopicPartitionOffset], timeout: Duration) async throws {
        let client = client
        try await executor.run {
            let list = PartitionList.make(offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let error = rd_kafka_seek_partitions(client.handle, list, timeout.milliseconds) {
                throw KafkaError(consuming: error, context: "seek")
            }
            if let error = PartitionList.firstError(list, context: "seek") { throw error }
        }
    }

    /// Low and high watermarks of a partition, asked of the broker.
    public func watermarks(_ partition: TopicPartition, timeout: Duration) async throws -> (low: Int64, high: Int64) {
        let client = client
        return try await executor.query(deadline: timeout + .seconds(1)) { try client.watermarks(partition, timeout: timeout) }
    }

    /// Wakes the broker thread that fetches `partition` by asking its leader for the partition's watermarks, on a
    /// background thread; at most one such request is outstanding (further calls are dropped meanwhile).
    ///
    /// librdkafka 2.0 stops fetching a partition while the local queue holds `queued.min.messages` and looks again
    /// only when that broker thread wakes, up to a second later (2.2 added `fetch.queue.backoff.ms` for this). Any
    /// request through the thread wakes it. (Resuming a partition that is not paused would wake it too, but
    /// restarts the fetch at the application's position and delivers queued records twice.)
    public func wakeFetcher(for partition: TopicPartition) {
        wakeFetchers(for: [partition])
    }

    /// Wakes the broker threads that fetch `partitions`, one watermark request per partition in turn (so every
    /// leader's thread is reached) on a background thread; dropped while an earlier nudge is outstanding.
    ///
    /// Needed after `resume` too: while every partition of a broker is paused its thread has no fetch to wait for
    /// and sleeps up to a second, and resuming does not wake it (measured on Apache Kafka 3.7: the first packets
    /// after a resume waited ~500 ms, up to a second, in the dispatcher's input).
    public func wakeFetchers(for partitions: [TopicPartition]) {
        guard !partitions.isEmpty, wakeInFlight.set() else { return }
        let client = client
        let flag = wakeInFlight
        DispatchQueue.global(qos: .utility).async {
            for partition in partitions {
                do {
                    _ = try client.watermarks(partition, timeout: .seconds(1))
                } catch {
                    // Only a nudge: the fetcher wakes by itself within a second anyway.
                    client.logger.debug("fetcher nudge unanswered", metadata: [LogKeys.kafkaError: "\(error)"])
                }
            }
            flag.clear()
        }
    }

    /// Low and high watermarks as last seen in fetch responses: no request, never blocks; nil before any fetch.
    public func cachedWatermarks(_ partition: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_get_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }
}

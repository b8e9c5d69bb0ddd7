import CRdKafka
import LogdistBasics
import Logging

/// A partition-set change from the group coordinator, reported before logdist code sees the new assignment's data.
public enum RebalanceEvent: Sendable, Equatable {
    case assigned([TopicPartition])
    case revoked([TopicPartition])
    case failed(String)
}

/// Group rebalances: librdkafka's callback, applied the way the group's protocol (eager or cooperative) needs.
extension KafkaConsumer {
    /// The rebalance callback: applies the change (eager or cooperative) and tells the handler.
    /// - Important: runs on the thread inside `poll` or `close`.
    static func rebalance(
        rk: OpaquePointer, err: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let context = ClientContext.from(rk)
        let tps = partitions.map { PartitionList.read($0).map(\.topicPartition) } ?? []
        let cooperative = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
        // A refused assign or unassign is the handler's to count: the group will rebalance again, but until then
        // this member fetches the wrong partitions.
        func refused(_ error: KafkaError) {
            context?.logger.error("rebalance not applied", metadata: [LogKeys.kafkaError: "\(error)"])
            context?.rebalanceHandler?(.failed("\(error)"))
        }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if let error = Self.apply(rk, partitions, assign: true, cooperative: cooperative) {
                refused(error)
                return
            }
            context?.logger.info("partitions assigned", metadata: [LogKeys.count: "\(tps.count)", "kafka.partitions": "\(tps)"])
            context?.rebalanceHandler?(.assigned(tps))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            context?.rebalanceHandler?(.revoked(tps))
            if let error = Self.apply(rk, partitions, assign: false, cooperative: cooperative) {
                refused(error)
                return
            }
            context?.logger.info("partitions revoked", metadata: [LogKeys.count: "\(tps.count)", "kafka.partitions": "\(tps)"])
        default:
            let text = String(cString: rd_kafka_err2str(err))
            context?.logger.error("rebalance failed", metadata: [LogKeys.kafkaError: "\(text)"])
            if let error = Self.apply(rk, nil, assign: false, cooperative: false) { refused(error) }
            context?.rebalanceHandler?(.failed(text))
        }
    }

    /// Applies a rebalance's assignment (or revocation) the way the group's protocol needs it; the error, if any.
    private static func apply(
        _ rk: OpaquePointer, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, assign: Bool,
        cooperative: Bool
    ) -> KafkaError? {
        if cooperative {
            let error = assign ? rd_kafka_incremental_assign(rk, partitions) : rd_kafka_incremental_unassign(rk, partitions)
            return error.map { KafkaError(consuming: $0, context: assign ? "incremental assign" : "incremental unassign") }
        }
        let err = rd_kafka_assign(rk, assign ? partitions : nil)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(code: err, context: assign ? "assign" : "unassign")
    }
}

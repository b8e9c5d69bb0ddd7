import Logging

/// Creates logdist's topics on whichever cluster is at hand.
///
/// A real cluster gets them through the Admin API (CreateTopics, with configs such as `cleanup.policy=compact`);
/// the in-process embedded broker through its own call, since the mock does not answer CreateTopics. Against an
/// embedded broker in another process, topics must already exist (`logdist broker` creates them).
public enum TopicProvisioner {
    public static func ensure(
        _ specs: [TopicSpec], admin: KafkaAdmin, embedded: EmbeddedBroker?, logger: Logger
    ) async throws {
        if let embedded {
            for spec in specs {
                do {
                    try embedded.createTopic(spec.name, partitions: spec.partitions, replicationFactor: spec.replicationFactor)
                } catch let error as KafkaError where error.codeName == "TOPIC_ALREADY_EXISTS" {
                    continue
                }
            }
            return
        }
        do {
            try await admin.createTopics(specs)
            logger.info("topics ready", metadata: ["topics": "\(specs.map(\.name))"])
        } catch let error as KafkaError where error.kind == .unsupported {
            var missing: [String] = []
            for spec in specs where try await admin.partitionCount(topic: spec.name) == nil {
                missing.append(spec.name)
            }
            guard missing.isEmpty else {
                throw KafkaError(
                    kind: .unsupported,
                    message: "the broker cannot create topics (CreateTopics unsupported: is it the embedded broker?) "
                        + "and \(missing.joined(separator: ", ")) do not exist; start it with `logdist broker`, "
                        + "which creates them, or create them with your Kafka tools")
            }
        }
    }

    /// Partition count of `topic`, failing with a message that says what to do when it is missing.
    public static func requirePartitions(_ topic: String, admin: KafkaAdmin) async throws -> Int {
        guard let count = try await admin.partitionCount(topic: topic) else {
            throw KafkaError(
                kind: .unknownTopicOrPartition,
                message: "topic \(topic) does not exist: create it (logdist creates its topics at start unless the broker refuses)")
        }
        return count
    }
}

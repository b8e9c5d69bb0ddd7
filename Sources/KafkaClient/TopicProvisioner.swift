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
        var missing: [TopicSpec] = []
        for spec in specs where try await admin.partitionCount(topic: spec.name) == nil { missing.append(spec) }
        guard !missing.isEmpty else { return }
        do {
            try await admin.createTopics(missing, timeout: .seconds(15))
            logger.info("topics created", metadata: ["topics": "\(missing.map(\.name))"])
        } catch let error as KafkaError {
            // Someone else may have created them meanwhile; only what is still missing is a problem.
            var stillMissing: [String] = []
            for spec in missing where try await admin.partitionCount(topic: spec.name) == nil { stillMissing.append(spec.name) }
            guard !stillMissing.isEmpty else { return }
            let hint = error.kind == .unsupported || error.kind == .timedOut
                ? " (the embedded broker cannot create topics: `logdist broker` creates them at start)" : ""
            throw KafkaError(
                kind: error.kind, code: error.code,
                message: "cannot create \(stillMissing.joined(separator: ", ")): \(error.message)\(hint); "
                    + "create them with your Kafka tools or let a principal with CreateTopics rights start logdist",
                isRetriable: error.isRetriable)
        }
    }

    /// `ensure`, waiting out a cluster that is still starting (no controller yet, brokers unreachable), and then for
    /// every topic's partitions to show in metadata.
    ///
    /// - Parameter waiting: told what is awaited while it waits, nil when done (for `/health/ready`).
    /// - Returns: each topic's partition count as the cluster has it (an existing topic keeps its own).
    @discardableResult
    public static func ensureWaiting(
        _ specs: [TopicSpec], admin: KafkaAdmin, embedded: EmbeddedBroker?, logger: Logger,
        waiting: (@Sendable (String?) -> Void)? = nil
    ) async throws -> [String: Int] {
        let names = specs.map(\.name).joined(separator: ", ")
        return try await KafkaRetry.run("topics \(names)", logger: logger, waiting: waiting) {
            try await ensure(specs, admin: admin, embedded: embedded, logger: logger)
            var counts: [String: Int] = [:]
            for spec in specs {
                // Created but perhaps not yet in the metadata this client sees.
                guard let count = try await admin.partitionCount(topic: spec.name) else {
                    throw KafkaError(kind: .unknownTopicOrPartition, message: "topic \(spec.name) not yet in the metadata")
                }
                counts[spec.name] = count
            }
            return counts
        }
    }
}

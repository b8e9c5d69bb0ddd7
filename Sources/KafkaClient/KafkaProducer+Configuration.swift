extension KafkaProducer {
    public struct Configuration: Sendable {
        public var kafka: KafkaConfig
        /// `enable.idempotence`; with it librdkafka forces `acks=all` and retries without duplicates.
        public var idempotent = true
        /// `compression.type`; lz4 keeps more records inside the embedded broker's 5 MiB per partition.
        public var compression = "lz4"
        /// `linger.ms`: how long librdkafka waits to fill a batch.
        public var linger: Duration = .milliseconds(5)
        /// `message.timeout.ms`: a message not acknowledged in this time fails with `.timedOut`.
        public var deliveryTimeout: Duration = .seconds(30)
        /// `queue.buffering.max.messages`: the local queue's capacity.
        public var queueCapacity = 100_000
        /// How long any send waits for room in a full local queue before failing what is not yet enqueued with
        /// `.queueFull` (zero: fail at once, as ingest does to answer 503 with Retry-After).
        public var enqueueTimeout: Duration = .seconds(1)
        /// Set for a transactional producer.
        public var transactionalID: String?
        /// A name for logs.
        public var clientName = "producer"
        /// nil: messages without a partition go where their key hashes (murmur2, as Kafka's Java producer hashes,
        /// so every producer puts a key in the same partition). Set: they all go to one partition for this long,
        /// then to the next (for topics that need spreading, not key affinity: fewer, larger batches; see
        /// `logdist_sticky_partitioner`).
        public var stickyPartitioning: Duration?

        public init(kafka: KafkaConfig) {
            self.kafka = kafka
        }

        func properties() -> [String: String] {
            var defaults: [String: String] = [
                "enable.idempotence": idempotent ? "true" : "false",
                "acks": "all",
                "compression.type": compression,
                "linger.ms": "\(linger.milliseconds)",
                "message.timeout.ms": "\(deliveryTimeout.milliseconds)",
                "queue.buffering.max.messages": "\(queueCapacity)",
                "client.id": "logdist-\(clientName)",
                "partitioner": "murmur2_random",
            ]
            if let transactionalID {
                defaults["transactional.id"] = transactionalID
                // Transactional requests answered "retry" (a coordinator still busy with the previous commit) are
                // asked again after this long, not librdkafka's 100 ms, which a batch that met one waited whole
                // (Apache Kafka 3.7, one broker, 4 000 packets/s through the pipeline: e2e p99 254 → 147 ms with 5 ms).
                defaults["retry.backoff.ms"] = "10"
                // A transaction's messages must be acknowledged before its timeout; keep them consistent.
                defaults["transaction.timeout.ms"] = "\(max(60_000, Int(deliveryTimeout.milliseconds)))"
            }
            return kafka.resolved(defaults: defaults)
        }
    }
}

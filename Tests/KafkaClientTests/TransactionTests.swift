import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Testing

@Suite("Transactions", .timeLimit(.minutes(2)))
struct TransactionTests {
    /// init → begin → produce → send offsets → commit, then begin → produce → abort.
    @Test("the transaction API flow; on a real cluster, aborted data is invisible and offsets commit with it")
    func apiFlow() async throws {
        let cluster = try TestCluster(label: "txn")
        let input = try await cluster.createTopic("txn-in", partitions: 1)
        let output = try await cluster.createTopic("txn-out", partitions: 1)
        let group = cluster.topicName("txn-group")

        let seed = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        _ = try await seed.sendBatch((0..<10).map { OutgoingMessage(topic: input, partition: 0, value: Array("in\($0)".utf8)) }).get()
        await seed.close(timeout: .seconds(5))

        let consumer = try KafkaConsumer(configuration: cluster.consumerConfig(group: group), logger: cluster.logger)
        try consumer.assign([TopicPartitionOffset(input, 0, KafkaOffset.beginning)])
        var consumed: [KafkaMessage] = []
        let deadline = ContinuousClock.now.advanced(by: .seconds(15))
        while consumed.count < 10, ContinuousClock.now < deadline {
            consumed += try await consumer.poll(maxMessages: 10, timeout: .milliseconds(300)).messages
        }
        #expect(consumed.count == 10)

        let txn = try TransactionalProducer(
            configuration: cluster.producerConfig("txn"), transactionalID: cluster.topicName("txn-id"), logger: cluster.logger)
        try await txn.initTransactions(timeout: .seconds(30))

        try await txn.beginTransaction()
        _ = try await txn.sendBatch(consumed.prefix(5).map { OutgoingMessage(topic: output, partition: 0, value: $0.value) }).get()
        try await txn.sendOffsetsToTransaction(
            [TopicPartitionOffset(input, 0, consumed[4].offset + 1)], groupMetadata: try consumer.groupMetadata(),
            timeout: .seconds(30))
        try await txn.commitTransaction(timeout: .seconds(30))

        try await txn.beginTransaction()
        _ = try await txn.sendBatch(consumed.suffix(5).map { OutgoingMessage(topic: output, partition: 0, value: Array("aborted".utf8) + ($0.value ?? [])) }).get()
        try await txn.abortTransaction(timeout: .seconds(30))

        // A second commit with nothing open is a usage error: neither fatal nor abortable.
        do {
            try await txn.commitTransaction(timeout: .seconds(5))
            Issue.record("commit without begin succeeded")
        } catch let error as KafkaError {
            #expect(!error.isFatal)
            #expect(!error.requiresAbort)
        }

        guard cluster.isReal else {
            print("skipped: transaction semantics (markers, transactional offsets) need a real cluster; set LOGDIST_TEST_BOOTSTRAP")
            await txn.close(timeout: .seconds(5))
            await consumer.close()
            return
        }
        let visible = try await cluster.readAll([TopicPartition(output, 0)], count: 6, timeout: .seconds(8))
        #expect(visible.count == 5)
        #expect(visible.allSatisfy { !String(decoding: $0.value ?? [], as: UTF8.self).hasPrefix("aborted") })
        let uncommitted = try await cluster.readAll(
            [TopicPartition(output, 0)], count: 10, isolation: .readUncommitted, timeout: .seconds(8))
        #expect(uncommitted.count == 10)
        let committed = try await cluster.admin.committedOffsets(group: group, partitions: [TopicPartition(input, 0)])
        #expect(committed[TopicPartition(input, 0)] == consumed[4].offset + 1)
        await txn.close(timeout: .seconds(5))
        await consumer.close()
    }

    @Test("a failed produce inside a transaction makes commit fail as abortable; abort recovers", .enabled(if: TestNeeds.embeddedBroker, "error injection needs the embedded broker"))
    func abortableError() async throws {
        let cluster = try TestCluster(label: "txn-abortable")
        guard let broker = cluster.embeddedBroker(for: "error injection") else { return }
        let output = try await cluster.createTopic("txn-abort", partitions: 1)
        var config = cluster.producerConfig("txn-abort")
        config.deliveryTimeout = .seconds(10)
        let txn = try TransactionalProducer(
            configuration: config, transactionalID: cluster.topicName("txn-abort-id"), logger: cluster.logger)
        try await txn.initTransactions(timeout: .seconds(30))
        try await txn.beginTransaction()
        broker.pushRequestErrors(.produce, errors: [KafkaErrorCode.invalidRecord])
        let results = await txn.producer.sendBatch([OutgoingMessage(topic: output, partition: 0, value: [1])])
        #expect(results.allSatisfy { if case .failure = $0 { return true } else { return false } })
        do {
            try await txn.commitTransaction(timeout: .seconds(10))
            Issue.record("commit after a failed produce succeeded")
        } catch let error as KafkaError {
            #expect(error.requiresAbort)
            #expect(!error.isFatal)
        }
        try await txn.abortTransaction(timeout: .seconds(10))
        // As a caller must: redo the batch in a new transaction, aborting again while the error is abortable
        // (librdkafka bumps the producer epoch after an abort and may purge what was queued meanwhile).
        var attempts = 0
        while true {
            attempts += 1
            do {
                try await txn.beginTransaction()
                _ = try await txn.sendBatch([OutgoingMessage(topic: output, partition: 0, value: [2])]).get()
                try await txn.commitTransaction(timeout: .seconds(10))
                break
            } catch let error as KafkaError where error.requiresAbort || error.kind == .broker {
                #expect(!error.isFatal)
                try await txn.abortTransaction(timeout: .seconds(10))
                if attempts >= 5 { throw error }
            }
        }
        #expect(attempts <= 3)
        await txn.close(timeout: .seconds(5))
    }

    @Test("errors carry librdkafka's code name and classification")
    func classification() {
        let error = KafkaError(kind: .queueFull, code: -184, message: "full", isRetriable: true)
        #expect(error.codeName == "_QUEUE_FULL")
        #expect(error.isRetriable)
        #expect(!error.isFatal)
        #expect(KafkaError(kind: .fatal, message: "fenced").isFatal)
        #expect("\(error)".contains("retriable"))
    }

    @Test("-X key=value properties parse as kcat's do")
    func propertyParsing() throws {
        let parsed = try KafkaConfig.parseProperties(["security.protocol=SASL_SSL", "sasl.password=a=b", "linger.ms=1"])
        #expect(parsed == ["security.protocol": "SASL_SSL", "sasl.password": "a=b", "linger.ms": "1"])
        #expect(throws: KafkaError.self) { try KafkaConfig.parseProperty("novalue") }
        #expect(throws: KafkaError.self) { try KafkaConfig.parseProperty("=x") }
    }

    @Test("a bad property is refused with the key named and secrets redacted")
    func badProperty() throws {
        let config = KafkaProducer.Configuration(
            kafka: KafkaConfig(bootstrapServers: "127.0.0.1:1", properties: ["sasl.password": "hunter2", "no.such.property": "x"]))
        do {
            _ = try KafkaProducer(configuration: config, logger: .init(label: "t"))
            Issue.record("bad property accepted")
        } catch let error as KafkaError {
            #expect(error.kind == .configuration)
            #expect(error.message.contains("no.such.property"))
            #expect(!error.message.contains("hunter2"))
        }
    }
}

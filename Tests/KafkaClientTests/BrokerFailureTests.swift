import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Testing

/// Taking brokers down needs the embedded broker; against a real cluster these print that they were skipped.
@Suite("Broker failures", .timeLimit(.minutes(2)))
struct BrokerFailureTests {
    @Test("sends wait out a broker outage within the delivery timeout and succeed when it returns", .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func sendRetriesThroughOutage() async throws {
        let cluster = try TestCluster(label: "outage")
        guard let broker = cluster.outage(for: "broker outage") else { return }
        let topic = try await cluster.createTopic("outage", partitions: 1)
        var config = cluster.producerConfig()
        // Longer than the outage: 2 s here, plus the restart of a real cluster's brokers (three KRaft nodes: up to
        // ~20 s before they lead partitions again).
        config.deliveryTimeout = cluster.isReal ? .seconds(90) : .seconds(20)
        let producer = try KafkaProducer(configuration: config, logger: cluster.logger)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: Array("before".utf8)))

        try broker.down()
        async let during = producer.send(OutgoingMessage(topic: topic, partition: 0, value: Array("during".utf8)))
        try await Task.sleep(for: .seconds(2))
        try broker.up()
        let report = try await during
        #expect(report.offset == 1)
        await producer.close(timeout: .seconds(5))
        let read = try await cluster.readAll([TopicPartition(topic, 0)], count: 2)
        #expect(read.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["before", "during"])
    }

    @Test("a send fails with a timed-out error when the broker stays down past the delivery timeout", .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func sendFailsAfterTimeout() async throws {
        let cluster = try TestCluster(label: "timeout")
        guard let broker = cluster.outage(for: "broker outage") else { return }
        let topic = try await cluster.createTopic("timeout", partitions: 1)
        var config = cluster.producerConfig()
        config.deliveryTimeout = .seconds(2)
        let producer = try KafkaProducer(configuration: config, logger: cluster.logger)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [1]))
        try broker.down()
        let started = ContinuousClock.now
        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [2]))
        }
        do {
            _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [3]))
            Issue.record("a send succeeded while every broker was down")
        } catch let error as KafkaError {
            #expect(error.kind == .timedOut)
            #expect(error.isRetriable)
        }
        // Two sends, each bounded by the 2 s delivery timeout (librdkafka scans timeouts once a second).
        #expect(ContinuousClock.now - started < .seconds(8))
        try broker.up()
        let report = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [4]))
        #expect(report.partition == 0)
        await producer.close(timeout: .seconds(5))
    }

    @Test("a full local queue is a queueFull error, not a drop or an unbounded wait", .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func queueFullIsBackpressure() async throws {
        let cluster = try TestCluster(label: "queuefull")
        guard let broker = cluster.outage(for: "filling the queue") else { return }
        let topic = try await cluster.createTopic("queuefull", partitions: 1)
        var config = cluster.producerConfig()
        config.queueCapacity = 10
        config.enqueueTimeout = .zero
        config.deliveryTimeout = .seconds(30)
        let producer = try KafkaProducer(configuration: config, logger: cluster.logger)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [0]))
        try broker.down()
        let messages = (0..<25).map { OutgoingMessage(topic: topic, partition: 0, value: [UInt8($0)]) }
        async let results = producer.sendBatch(messages)
        // The broker stays down until the local queue is full, so the last 15 cannot be enqueued.
        #expect(await eventually(timeout: .seconds(10)) { producer.queueDepth >= 10 })
        try await Task.sleep(for: .milliseconds(300))
        try broker.up()
        let outcomes = await results
        let full = outcomes.filter { if case .failure(let e) = $0 { return e.kind == .queueFull } else { return false } }
        let delivered = outcomes.filter { if case .success = $0 { return true } else { return false } }
        #expect(full.count == 15)
        #expect(delivered.count == 10)
        #expect(full.allSatisfy { if case .failure(let e) = $0 { return e.isRetriable } else { return false } })
        await producer.close(timeout: .seconds(5))
    }

    @Test("injected produce errors are retried by the idempotent producer without duplicates", .enabled(if: TestNeeds.embeddedBroker, "error injection needs the embedded broker"))
    func injectedErrorsRetried() async throws {
        let cluster = try TestCluster(label: "inject")
        guard let broker = cluster.embeddedBroker(for: "error injection") else { return }
        let topic = try await cluster.createTopic("inject", partitions: 1)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [0]))
        broker.pushRequestErrors(.produce, errors: [KafkaErrorCode.notLeaderForPartition, KafkaErrorCode.requestTimedOut])
        let reports = try await producer.sendBatch((1...20).map { OutgoingMessage(topic: topic, partition: 0, value: [UInt8($0)]) }).get()
        #expect(reports.count == 20)
        await producer.close(timeout: .seconds(5))
        let read = try await cluster.readAll([TopicPartition(topic, 0)], count: 21)
        #expect(read.map { $0.value?.first ?? 255 } == (0...20).map { UInt8($0) })
    }
}

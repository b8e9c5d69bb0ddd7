import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Testing

@Suite("Producer and consumer", .timeLimit(.minutes(3)))
struct ProducerConsumerTests {
    @Test("100 000 messages over 6 partitions: none lost, order kept per partition")
    func roundTrip() async throws {
        let cluster = try TestCluster(label: "roundtrip")
        let topic = try await cluster.createTopic("roundtrip", partitions: 6)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        let total = 100_000
        var reports: [Int: DeliveryReport] = [:]
        for chunkStart in stride(from: 0, to: total, by: 10_000) {
            let messages = (chunkStart..<chunkStart + 10_000).map { i in
                OutgoingMessage(
                    topic: topic, key: Array("key-\(i % 97)".utf8), value: Array("message \(i) ".utf8) + [UInt8](repeating: 120, count: 60),
                    headers: [KafkaHeader("seq", string: "\(i)")])
            }
            let results = try await producer.sendBatch(messages).get()
            for (offset, report) in results.enumerated() { reports[chunkStart + offset] = report }
        }
        await producer.close(timeout: .seconds(10))
        #expect(reports.count == total)

        let partitions = (0..<6).map { TopicPartition(topic, Int32($0)) }
        let messages = try await cluster.readAll(partitions, count: total, timeout: .seconds(60))
        #expect(messages.count == total)
        var seen = Set<Int>()
        var lastSeqPerKey: [String: Int] = [:]
        var lastOffset: [Int32: Int64] = [:]
        for message in messages {
            let seq = Int(String(decoding: message.header("seq") ?? [], as: UTF8.self))!
            seen.insert(seq)
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            // Same key → same partition → produced order is consumed order.
            #expect(lastSeqPerKey[key, default: -1] < seq, "key \(key) went backwards at \(seq)")
            lastSeqPerKey[key] = seq
            #expect(lastOffset[message.partition, default: -1] < message.offset)
            lastOffset[message.partition] = message.offset
            #expect(reports[seq]?.partition == message.partition)
            #expect(reports[seq]?.offset == message.offset)
        }
        #expect(seen.count == total)
    }

    @Test("single send returns the partition and offset from the delivery report")
    func singleSend() async throws {
        let cluster = try TestCluster(label: "single")
        let topic = try await cluster.createTopic("single", partitions: 2)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        let first = try await producer.send(OutgoingMessage(topic: topic, partition: 1, key: nil, value: Array("a".utf8)))
        let second = try await producer.send(OutgoingMessage(topic: topic, partition: 1, key: nil, value: Array("b".utf8)))
        #expect(first.partition == 1)
        #expect(second.offset == first.offset + 1)
        // A null value (tombstone) and an empty value are both valid.
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, key: Array("k".utf8), value: nil))
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, key: Array("k".utf8), value: []))
        await producer.close(timeout: .seconds(5))
        let read = try await cluster.readAll([TopicPartition(topic, 0)], count: 2)
        #expect(read.map(\.value) == [nil, []])
    }

    @Test("committed offsets survive a consumer's close and reopen")
    func committedOffsetsSurvive() async throws {
        let cluster = try TestCluster(label: "commit")
        let topic = try await cluster.createTopic("commit", partitions: 1)
        let group = cluster.topicName("group")
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        _ = try await producer.sendBatch((0..<50).map { OutgoingMessage(topic: topic, partition: 0, value: Array("m\($0)".utf8)) }).get()
        await producer.close(timeout: .seconds(5))

        let tp = TopicPartition(topic, 0)
        do {
            let consumer = try KafkaConsumer(configuration: cluster.consumerConfig(group: group), logger: cluster.logger)
            try consumer.assign([TopicPartitionOffset(topic, 0, KafkaOffset.stored)])
            var got: [KafkaMessage] = []
            while got.count < 20 {
                got += try await consumer.poll(maxMessages: 20 - got.count, timeout: .milliseconds(500)).messages
            }
            // Processed 20 → the next one to read is offset 20.
            try consumer.store([TopicPartitionOffset(topic, 0, got.last!.offset + 1)])
            try await consumer.commitStored()
            await consumer.close()
        }
        let reopened = try KafkaConsumer(configuration: cluster.consumerConfig(group: group), logger: cluster.logger)
        let committed = try await reopened.committed([tp], timeout: .seconds(10))
        #expect(committed.first?.offset == 20)
        try reopened.assign([TopicPartitionOffset(topic, 0, KafkaOffset.stored)])
        var next: [KafkaMessage] = []
        let deadline = ContinuousClock.now.advanced(by: .seconds(15))
        while next.isEmpty, ContinuousClock.now < deadline {
            next = try await reopened.poll(maxMessages: 1, timeout: .milliseconds(500)).messages
        }
        #expect(next.first?.offset == 20)
        await reopened.close()

        let fromAdmin = try await cluster.admin.committedOffsets(group: group, partitions: [tp])
        #expect(fromAdmin[tp] == 20)
    }

    @Test("watermarks and committed offsets give the lag")
    func lagFromWatermarks() async throws {
        let cluster = try TestCluster(label: "lag")
        let topic = try await cluster.createTopic("lag", partitions: 3)
        let group = cluster.topicName("lag-group")
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        _ = try await producer.sendBatch((0..<30).map { OutgoingMessage(topic: topic, partition: 2, value: Array("\($0)".utf8)) }).get()
        await producer.close(timeout: .seconds(5))
        let tp = TopicPartition(topic, 2)
        let consumer = try KafkaConsumer(configuration: cluster.consumerConfig(group: group), logger: cluster.logger)
        try consumer.assign([TopicPartitionOffset(topic, 2, KafkaOffset.beginning)])
        try await consumer.commit([TopicPartitionOffset(topic, 2, 12)])
        await consumer.close()

        let marks = try await cluster.admin.watermarks(tp)
        #expect(marks.low == 0)
        #expect(marks.high == 30)
        let committed = try await cluster.admin.committedOffsets(group: group, partitions: [tp, TopicPartition(topic, 0)])
        #expect(committed[tp] == 12)
        #expect(committed[TopicPartition(topic, 0)] == nil)
        #expect(marks.high - committed[tp]! == 18)
        #expect(try await cluster.admin.partitionCount(topic: topic) == 3)
        #expect(try await cluster.admin.partitionCount(topic: cluster.topicName("missing")) == nil)
    }

    @Test("pause stops delivery from a partition until resume")
    func pauseResume() async throws {
        let cluster = try TestCluster(label: "pause")
        let topic = try await cluster.createTopic("pause", partitions: 2)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        let consumer = try KafkaConsumer(configuration: cluster.consumerConfig(group: nil), logger: cluster.logger)
        try consumer.assign([TopicPartitionOffset(topic, 0, KafkaOffset.beginning), TopicPartitionOffset(topic, 1, KafkaOffset.beginning)])
        try consumer.pause([TopicPartition(topic, 1)])
        _ = try await producer.sendBatch((0..<10).map { OutgoingMessage(topic: topic, partition: Int32($0 % 2), value: [UInt8($0)]) }).get()
        var got: [KafkaMessage] = []
        let until = ContinuousClock.now.advanced(by: .seconds(3))
        while ContinuousClock.now < until {
            got += try await consumer.poll(maxMessages: 100, timeout: .milliseconds(200)).messages
        }
        #expect(got.count == 5)
        #expect(got.allSatisfy { $0.partition == 0 })
        try consumer.resume([TopicPartition(topic, 1)])
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while got.count < 10, ContinuousClock.now < deadline {
            got += try await consumer.poll(maxMessages: 100, timeout: .milliseconds(200)).messages
        }
        #expect(got.count == 10)
        await consumer.close()
        await producer.close(timeout: .seconds(5))
    }

    @Test("a group subscription reports its assignment through the rebalance handler")
    func rebalanceEvents() async throws {
        let cluster = try TestCluster(label: "rebalance")
        let topic = try await cluster.createTopic("rebalance", partitions: 3)
        let events = EventLog()
        let consumer = try KafkaConsumer(
            configuration: cluster.consumerConfig(group: cluster.topicName("rb-group")), logger: cluster.logger
        ) { events.append($0) }
        try consumer.subscribe([topic])
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while events.all.isEmpty, ContinuousClock.now < deadline {
            _ = try await consumer.poll(maxMessages: 10, timeout: .milliseconds(200))
        }
        #expect(events.all.first == .assigned((0..<3).map { TopicPartition(topic, Int32($0)) }))
        #expect(try consumer.assignment().count == 3)
        await consumer.close()
        #expect(events.all.last == .revoked((0..<3).map { TopicPartition(topic, Int32($0)) }))
    }
}

final class EventLog: Sendable {
    private let storage = Mutex<[RebalanceEvent]>([])
    func append(_ event: RebalanceEvent) { storage.withLock { $0.append(event) } }
    var all: [RebalanceEvent] { storage.withLock { $0 } }
}

import Synchronization

@Suite("Producer lifecycle", .timeLimit(.minutes(1)))
struct ProducerLifecycleTests {
    @Test("every send path fails with .closed after close(), at once, instead of hanging")
    func sendAfterClose() async throws {
        let cluster = try TestCluster(label: "closed")
        let topic = try await cluster.createTopic("closed", partitions: 1)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [1]))
        await producer.close(timeout: .seconds(5))
        let started = ContinuousClock.now
        do {
            _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [2]))
            Issue.record("a send after close succeeded")
        } catch let error as KafkaError {
            #expect(error.kind == .closed)
        }
        let batch = await producer.sendBatch([OutgoingMessage(topic: topic, partition: 0, value: [3])])
        #expect(batch.count == 1)
        if case .failure(let error) = batch[0] { #expect(error.kind == .closed) } else { Issue.record("batch send succeeded") }
        let slices = await producer.sendSlices(
            topic: topic, values: [4], keys: [5], slices: [.init(value: 0..<1, key: 0..<1)], header: KafkaHeader("h", string: "v"))
        #expect(slices.failed == 1)
        #expect(slices.firstError?.kind == .closed)
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}

import KafkaClient
import PacketModel
import Operations
import Foundation
import KafkaTestSupport
import Testing

@Suite("logdist lag", .timeLimit(.minutes(2)))
struct LagInspectorTests {
    @Test("the report and table show each analyser's offsets, lag and share, and the dispatcher group's lag")
    func lagAgainstKnownOffsets() async throws {
        let cluster = try TestCluster(label: "lag-report")
        let topics = Topics(namespace: cluster.namespace("lag"))
        try await cluster.create(topics.specs(packetPartitions: 2, analyserSlots: 2))
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        let now = epochMilliseconds()
        for (id, partition, weight) in [("a1", Int32(0), 1), ("a2", Int32(1), 3)] {
            let heartbeat = Heartbeat(id: id, partition: partition, weight: weight, state: .up, sentAt: now, committedOffset: 0)
            _ = try await producer.send(OutgoingMessage(topic: topics.heartbeats, partition: 0, key: Array(id.utf8), value: heartbeat.encoded()))
        }
        // a1: 10 assigned, 4 committed → lag 6. a2: 30 assigned, nothing committed → lag 30.
        _ = try await producer.sendBatch((0..<10).map { _ in OutgoingMessage(topic: topics.assigned, partition: 0, value: [1]) }).get()
        _ = try await producer.sendBatch((0..<30).map { _ in OutgoingMessage(topic: topics.assigned, partition: 1, value: [1]) }).get()
        // The dispatcher group: 7 packets on partition 0 with 5 committed, 3 on partition 1 with none.
        _ = try await producer.sendBatch((0..<7).map { _ in OutgoingMessage(topic: topics.packets, partition: 0, value: [1]) }).get()
        _ = try await producer.sendBatch((0..<3).map { _ in OutgoingMessage(topic: topics.packets, partition: 1, value: [1]) }).get()
        for (group, topic, offset) in [(topics.analyserGroup("a1"), topics.assigned, Int64(4)), (topics.dispatcherGroup, topics.packets, Int64(5))] {
            let consumer = try KafkaConsumer(configuration: cluster.consumerConfig(group: group), logger: cluster.logger)
            try consumer.assign([TopicPartitionOffset(topic, 0, KafkaOffset.beginning)])
            try await consumer.commit([TopicPartitionOffset(topic, 0, offset)])
            await consumer.close()
        }
        let inspector = try LagInspector(kafka: cluster.kafka, topics: topics, logger: cluster.logger)
        let first = try await inspector.report()
        // More traffic between two samples: a1 gets 1, a2 gets 3 → shares 25% / 75%.
        _ = try await producer.send(OutgoingMessage(topic: topics.assigned, partition: 0, value: [1]))
        _ = try await producer.sendBatch((0..<3).map { _ in OutgoingMessage(topic: topics.assigned, partition: 1, value: [1]) }).get()
        let report = try await inspector.report(previous: first)
        await producer.close(timeout: .seconds(5))
        await inspector.close()

        #expect(report.analysers.map(\.id) == ["a1", "a2"])
        let a1 = report.analysers[0]
        let a2 = report.analysers[1]
        #expect(a1.committedOffset == 4 && a1.endOffset == 11 && a1.lag == 7)
        #expect(a2.committedOffset == nil && a2.endOffset == 33 && a2.lag == 33)
        #expect(a1.weight == 1 && a2.weight == 3 && a1.state == .up)
        #expect(a1.recentShare == 0.25 && a2.recentShare == 0.75)
        #expect(report.dispatcher.totalLag == 5)
        #expect(report.dispatcher.partitions.map(\.lag) == [2, 3])

        let table = LagTable.render(report)
        let lines = table.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines[0] == ["ANALYSER", "PARTITION", "STATE", "WEIGHT", "HEARTBEAT", "COMMITTED", "END", "LAG", "SHARE"])
        #expect(Array(lines[1].prefix(4)) == ["a1", "0", "up", "1"])
        #expect(Array(lines[1].suffix(4)) == ["4", "11", "7", "25.0%"])
        #expect(Array(lines[2].suffix(4)) == ["-", "33", "33", "75.0%"])
        #expect(table.contains("GROUP \(topics.dispatcherGroup)  total lag 5"))
        #expect(lines.contains(["0", "5", "7", "2"]))
        #expect(lines.contains(["1", "-", "3", "3"]))
    }
}

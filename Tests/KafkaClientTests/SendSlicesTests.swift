import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Testing

@Suite("Producing records in place from a buffer", .timeLimit(.minutes(3)))
struct SendSlicesTests {
    @Test("sendSlices: every record lands byte-identical with its key, the header and the timestamp; same key, same partition")
    func slicesLandByteIdentical() async throws {
        let cluster = try TestCluster(label: "slices")
        let topic = try await cluster.createTopic("slices", partitions: 3)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        // Values back to back with junk between them (as packets sit in an NDJSON body), keys in their own buffer,
        // in another order; some records share a key, one value is empty.
        var values: [UInt8] = Array("junk".utf8)
        var keys: [UInt8] = []
        var slices: [KafkaProducer.RecordSlice] = []
        var expected: [(key: [UInt8], value: [UInt8])] = []
        let total = 2_000
        for i in 0..<total {
            let value = i == 7 ? [] : Array(#"{"id":"k-\#(i % 500)","n":\#(i)}"#.utf8)
            let key = Array("k-\(i % 500)".utf8)
            let valueStart = values.count
            values += value
            values += Array("\n".utf8)
            let keyStart = keys.count
            keys += key
            slices.append(KafkaProducer.RecordSlice(value: valueStart..<(valueStart + value.count), key: keyStart..<keys.count))
            expected.append((key, value))
        }
        let header = KafkaHeader("logdist-ingest-time", string: "1234")
        let outcome = await producer.sendSlices(
            topic: topic, values: values, keys: keys, slices: slices, header: header, timestamp: 1_732_400_000_123)
        #expect(outcome == CountedOutcome(failed: 0, deliveredBytes: expected.reduce(0) { $0 + $1.value.count }))
        await producer.close(timeout: .seconds(5))

        let landed = try await cluster.readAll((0..<3).map { TopicPartition(topic, Int32($0)) }, count: total, timeout: .seconds(30))
        #expect(landed.count == total)
        let want = expected.map { "\(String(decoding: $0.key, as: UTF8.self))=\(String(decoding: $0.value, as: UTF8.self))" }.sorted()
        let got = landed.map { "\(String(decoding: $0.key ?? [], as: UTF8.self))=\(String(decoding: $0.value ?? [], as: UTF8.self))" }.sorted()
        #expect(got == want)
        #expect(landed.allSatisfy { $0.headers == [header] })
        #expect(landed.allSatisfy { $0.timestamp == 1_732_400_000_123 })
        var partitionOfKey: [[UInt8]: Int32] = [:]
        for message in landed {
            let key = message.key ?? []
            if let known = partitionOfKey[key] { #expect(known == message.partition) }
            partitionOfKey[key] = message.partition
        }
        #expect(Set(partitionOfKey.values).count > 1, "500 keys should spread over 3 partitions")
    }

    @Test("sticky partitioning: a burst lands in one partition, the next burst in the next partition, keys kept")
    func stickyPartitioning() async throws {
        let cluster = try TestCluster(label: "sticky")
        let topic = try await cluster.createTopic("sticky", partitions: 4)
        var config = cluster.producerConfig()
        // Bursts are microseconds long and the pauses between them longer than the stick: the real clock decides
        // nothing close (the decision itself is tested exhaustively in StickyChoiceTests).
        config.stickyPartitioning = .milliseconds(500)
        let producer = try KafkaProducer(configuration: config, logger: cluster.logger)
        // Make sure the topic's partitions are known, so the partitioner (not the unassigned queue) places bursts.
        _ = try await producer.send(OutgoingMessage(topic: topic, key: Array("warm-up".utf8), value: Array("w".utf8)))
        try await Task.sleep(for: .milliseconds(700))
        let bursts = 5
        let perBurst = 40
        for burst in 0..<bursts {
            let values = Array(String(repeating: "v", count: perBurst).utf8)
            let keys = Array((0..<perBurst).map { "b\(burst)-\($0 % 10);" }.joined().utf8)
            var slices: [KafkaProducer.RecordSlice] = []
            var keyStart = 0
            for i in 0..<perBurst {
                let keyLength = "b\(burst)-\(i % 10)".utf8.count
                slices.append(KafkaProducer.RecordSlice(value: i..<(i + 1), key: keyStart..<(keyStart + keyLength)))
                keyStart += keyLength + 1
            }
            let outcome = await producer.sendSlices(
                topic: topic, values: values, keys: keys, slices: slices, header: KafkaHeader("h", string: "v"))
            #expect(outcome.failed == 0)
            // Longer than the stick: the next burst starts a new window.
            try await Task.sleep(for: .milliseconds(700))
        }
        await producer.close(timeout: .seconds(5))

        let total = 1 + bursts * perBurst
        let landed = try await cluster.readAll((0..<4).map { TopicPartition(topic, Int32($0)) }, count: total, timeout: .seconds(30))
        #expect(landed.count == total)
        var partitionsOfBurst: [String: Set<Int32>] = [:]
        for message in landed {
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            guard key.hasPrefix("b") else { continue }
            partitionsOfBurst[String(key.prefix { $0 != "-" }), default: []].insert(message.partition)
        }
        #expect(partitionsOfBurst.count == bursts)
        // One partition per burst, and in turn: 5 bursts over 4 partitions use all 4.
        #expect(partitionsOfBurst.values.allSatisfy { $0.count == 1 }, "\(partitionsOfBurst)")
        let order = (0..<bursts).compactMap { partitionsOfBurst["b\($0)"]?.first }
        for (a, b) in zip(order, order.dropFirst()) { #expect(b == (a + 1) % 4, "bursts went to \(order)") }
        #expect(Set(order).count == 4)
    }

    @Test("sendSlices with a full local queue: the records that could not be enqueued are counted as failed", .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func slicesCountQueueFull() async throws {
        let cluster = try TestCluster(label: "slicesfull")
        guard let broker = cluster.outage(for: "filling the queue") else { return }
        let topic = try await cluster.createTopic("slicesfull", partitions: 1)
        var config = cluster.producerConfig()
        config.queueCapacity = 10
        config.enqueueTimeout = .zero
        let producer = try KafkaProducer(configuration: config, logger: cluster.logger)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [0]))
        try broker.down()
        let values = Array("abcdefghijklmnopqrstuvwxy".utf8)
        let slices = (0..<25).map { KafkaProducer.RecordSlice(value: $0..<($0 + 1), key: 0..<1) }
        async let result = producer.sendSlices(
            topic: topic, values: values, keys: Array("k".utf8), slices: slices, header: KafkaHeader("h", string: "v"))
        #expect(await eventually(timeout: .seconds(10)) { producer.queueDepth >= 10 })
        try await Task.sleep(for: .milliseconds(300))
        try broker.up()
        let outcome = await result
        #expect(outcome.failed == 15)
        #expect(outcome.deliveredBytes == 10)
        #expect(outcome.firstError?.kind == .queueFull)
        await producer.close(timeout: .seconds(5))
        let landed = try await cluster.readAll([TopicPartition(topic, 0)], count: 11, timeout: .seconds(20))
        let landedValues: [[UInt8]] = landed.compactMap(\.value)
        let wanted: [[UInt8]] = [[0]] + (0..<10).map { [values[$0]] }
        #expect(landedValues == wanted)
    }
}

import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Testing

@Suite("Forwarding consumed records", .timeLimit(.minutes(3)))
struct ForwardTests {
    @Test("pollRaw + forward: records arrive byte-identical, with their headers, the route's header and partition")
    func forwardKeepsBytesAndRoutes() async throws {
        let cluster = try TestCluster(label: "forward")
        let input = try await cluster.createTopic("forward-in", partitions: 3)
        let output = try await cluster.createTopic("forward-out", partitions: 3)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        let total = 3_000
        let sent = (0..<total).map { i in
            OutgoingMessage(
                topic: input, key: i % 10 == 0 ? nil : Array("id-\(i)".utf8),
                value: i % 17 == 0 ? [] : Array("{\"id\":\"id-\(i)\",\"n\":\(i)}".utf8),
                headers: [KafkaHeader("logdist-ingest-time", string: "\(1_000 + i)"), KafkaHeader("logdist-analyser", string: "stale")])
        }
        _ = try await producer.sendBatch(sent).get()

        let consumer = try KafkaConsumer(configuration: cluster.consumerConfig(group: cluster.topicName("forward")), logger: cluster.logger)
        try consumer.assign((0..<3).map { TopicPartitionOffset(input, Int32($0), KafkaOffset.beginning) })
        var chunks: [ConsumedBatch] = []
        var got = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while got < total, ContinuousClock.now < deadline {
            let chunk = try await consumer.pollRaw(maxMessages: 700, timeout: .milliseconds(200))
            #expect(chunk.errors.isEmpty)
            if !chunk.isEmpty { chunks.append(chunk) }
            got += chunk.count
        }
        #expect(got == total)
        // Spans cover exactly what was polled.
        var spanned = 0
        for chunk in chunks { for (_, span) in chunk.spans { spanned += Int(span.next - span.first) } }
        #expect(spanned == total)

        // Route by the sequence number in the value: n % 3 → route (n % 3), whose partition is 2 - route.
        let routes = KafkaProducer.Routes(
            topic: output, headerName: "logdist-analyser", partitions: [2, 1, 0], headerValues: [Array("r0".utf8), Array("r1".utf8), Array("r2".utf8)])
        var picks: [[Int32]] = []
        var expected: [String: (route: Int, message: KafkaMessage)] = [:]
        for chunk in chunks {
            picks.append((0..<chunk.count).map { i in
                let message = chunk.message(at: i)
                let seq = Int(String(decoding: message.header("logdist-ingest-time")!, as: UTF8.self))! - 1_000
                expected["\(seq)"] = (seq % 3, message)
                return Int32(seq % 3)
            })
        }
        try await producer.forward(chunks, picks: picks, routes: routes)
        await producer.close(timeout: .seconds(5))
        await consumer.close()

        let forwarded = try await cluster.readAll((0..<3).map { TopicPartition(output, Int32($0)) }, count: total, timeout: .seconds(30))
        #expect(forwarded.count == total)
        var seen = Set<String>()
        for message in forwarded {
            let seq = String(decoding: message.header("logdist-ingest-time")!, as: UTF8.self)
            let key = "\(Int(seq)! - 1_000)"
            guard let (route, original) = expected[key] else {
                Issue.record("unexpected record \(seq)")
                continue
            }
            seen.insert(key)
            #expect(message.key == original.key)
            #expect(message.value == original.value)
            #expect(message.partition == Int32(2 - route))
            // The route's header replaces the stale one; the other headers travel unchanged.
            #expect(message.headers.filter { $0.name == "logdist-analyser" }.map(\.value) == [routes.headerValues[route]])
            #expect(message.headers.filter { $0.name == "logdist-ingest-time" }.count == 1)
        }
        #expect(seen.count == total)
    }
}

import ArgumentParser
import LogdistBasics
import KafkaClient
import PacketModel
import Foundation
import Histogram
import Logging

/// The dispatcher's hop alone: packets produced to `<ns>.packets` at a fixed rate, each stamped with its send time,
/// read back from `<ns>.assigned` as an analyser reads it (`read_committed`), so the latency includes the
/// transaction commit and the last-stable-offset wait.
struct PerfHop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hop",
        abstract: "Latency of the dispatcher's hop: send to <ns>.packets at a fixed rate, read <ns>.assigned read_committed.")

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Packets per second.") var rate = 4000
    @Option(help: "Seconds of load (after a 2 s warm-up that is not measured).") var seconds = 20
    @Option(help: "Bytes per packet.") var size = 240

    static let sentHeader = "logdist-perf-sent-us"

    func run() async throws {
        var logger = Logger(label: "logdist.perf.hop")
        logger.logLevel = .error
        let config = try await kafka.probedKafkaConfig(logger: logger)
        let topics = kafka.topics
        let admin = try KafkaAdmin(kafka: config, logger: logger)
        guard let partitions = try await admin.partitionCount(topic: topics.assigned) else {
            throw ValidationError("no topic \(topics.assigned): start the dispatcher's cluster first")
        }
        await admin.close()
        var consumerConfig = KafkaConsumer.Configuration(kafka: config, groupID: nil)
        consumerConfig.clientName = "perf-hop-reader"
        consumerConfig.isolationLevel = .readCommitted
        let reader = try KafkaConsumer(configuration: consumerConfig, logger: logger)
        try reader.assign((0..<partitions).map { TopicPartitionOffset(topics.assigned, Int32($0), KafkaOffset.end) })
        var producerConfig = KafkaProducer.Configuration(kafka: config)
        producerConfig.clientName = "perf-hop-feeder"
        producerConfig.linger = .milliseconds(1)
        let feeder = try KafkaProducer(configuration: producerConfig, logger: logger)
        let warmUp = 2 * rate
        let total = warmUp + seconds * rate
        let (rate, size, packets) = (rate, size, topics.packets)
        let result = try await withThrowingTaskGroup(of: HopResult?.self) { group in
            group.addTask {
                try await Self.feed(feeder, topic: packets, rate: rate, total: total, size: size)
                return nil
            }
            group.addTask {
                try await Self.read(reader, expected: total - warmUp, skipBelow: warmUp, deadline: .seconds(Double(total) / Double(rate) + 15))
            }
            var found: HopResult?
            for try await outcome in group { if let outcome { found = outcome } }
            return found!
        }
        await feeder.close(timeout: .seconds(5))
        await reader.close()
        let h = result.latency
        let ms = { (p: Double) in Double(h.valueAtPercentile(p)) / 1000 }
        print(String(
            format: "hop at %d packets/s: %d of %d read; p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p999 %.2f ms, max %.2f ms",
            rate, result.received, total - warmUp, ms(50), ms(90), ms(99), ms(99.9), Double(h.max) / 1000))
        print(#"{"rate":\#(rate),"sent":\#(total - warmUp),"received":\#(result.received),"p50Ms":\#(ms(50)),"p90Ms":\#(ms(90)),"p99Ms":\#(ms(99)),"p999Ms":\#(ms(99.9)),"maxMs":\#(Double(h.max) / 1000)}"#)
        if result.received < total - warmUp { throw ExitCode(1) }
    }

    struct HopResult: Sendable {
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var received = 0
    }

    static func nowMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    /// Sends packet n at start + n/rate (those due are sent together each millisecond), unique ids, keyed by id.
    static func feed(_ producer: KafkaProducer, topic: String, rate: Int, total: Int, size: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            try await feed(producer, topic: topic, rate: rate, total: total, size: size, into: &group)
            try await group.waitForAll()
        }
    }

    private static func feed(
        _ producer: KafkaProducer, topic: String, rate: Int, total: Int, size: Int,
        into group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws {
        let started = ContinuousClock.now
        var sent = 0
        while sent < total {
            let elapsed = (ContinuousClock.now - started).secondsDouble
            let due = min(total, Int(elapsed * Double(rate)) + 1)
            if due > sent {
                let stamp = Array("\(nowMicros())".utf8)
                let ingest = KafkaHeader(HeaderNames.ingestTime, string: "\(epochMilliseconds())")
                let messages = (sent..<due).map { index in
                    OutgoingMessage(
                        topic: topic, key: Array("hop-\(index)".utf8), value: benchPacket(index, size: size),
                        headers: [ingest, KafkaHeader(sentHeader, stamp)])
                }
                sent = due
                // Not awaited in line: the schedule must not wait for acknowledgements.
                group.addTask { _ = await producer.sendBatch(messages) }
            }
            try await Task.sleep(for: .microseconds(500))
        }
    }

    static func read(_ reader: KafkaConsumer, expected: Int, skipBelow warmUp: Int, deadline: Duration) async throws -> HopResult {
        var result = HopResult()
        let end = ContinuousClock.now + deadline
        while result.received < expected, ContinuousClock.now < end {
            let batch = try await reader.poll(maxMessages: 10_000, timeout: .milliseconds(100))
            let now = nowMicros()
            for message in batch.messages {
                guard let key = message.key, let index = Int(String(decoding: key.dropFirst(4), as: UTF8.self)), index >= warmUp,
                    let header = message.headers.first(where: { $0.name == sentHeader })?.value,
                    let sent = UInt64(String(decoding: header, as: UTF8.self))
                else { continue }
                _ = result.latency.record(now > sent ? now - sent : 0)
                result.received += 1
            }
        }
        return result
    }
}

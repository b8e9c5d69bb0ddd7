import ArgumentParser
import LogdistBasics
import KafkaClient
import PacketModel
import Foundation
import Hummingbird
import Logging

/// Reference points for benchmarks (bench/run): a bare HTTP route and raw Kafka produce/consume.
struct Perf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark helpers: a bare HTTP route, raw produce and consume (used by bench/run).",
        subcommands: [PerfBare.self, PerfProduce.self, PerfConsume.self, PerfHop.self, PerfOTLP.self])
}

struct PerfBare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare", abstract: "Serve POST /v1/packets answering 202 without Kafka: the ceiling ingest is compared to.")

    @Option(help: "Port.") var port = 18081
    @Option(help: "Address.") var host = "127.0.0.1"

    func run() async throws {
        var logger = Logger(label: "logdist.perf.bare")
        logger.logLevel = .warning
        let router = Router()
        router.post("/v1/packets") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":1}"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        print("bare route on http://\(host):\(port)/v1/packets")
        flushOutput()
        try await app.runService()
    }
}

/// The packet bytes benchmarks produce: a realistic packet padded to `size` bytes.
func benchPacket(_ index: Int, size: Int) -> [UInt8] {
    let head = #"{"id":"bench-\#(index)","timestamp":1732400000000,"source":"bench-\#(index % 8)","messages":[{"level":"INFO","message":"request \#(index % 1000) served in \#(index % 97) ms "#
    let tail = #""}]}"#
    let pad = max(0, size - head.utf8.count - tail.utf8.count)
    return Array((head + String(repeating: "x", count: pad) + tail).utf8)
}

struct PerfProduce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Produce N packets of S bytes with the idempotent, acks=all producer; print messages/s.")

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Topic.") var topic: String
    @Option(help: "Messages.") var count = 200_000
    @Option(help: "Bytes per message.") var size = 200
    @Option(help: "Messages per sendBatch call.") var batch = 10_000
    @Option(help: "Also write the same messages, one per line, to this file (for kcat -l).") var writeFile: String?

    func run() async throws {
        var logger = Logger(label: "logdist.perf")
        logger.logLevel = .error
        var config = KafkaProducer.Configuration(kafka: try kafka.kafkaConfig())
        config.clientName = "perf-produce"
        config.queueCapacity = max(100_000, batch * 2)
        let producer = try KafkaProducer(configuration: config, logger: logger)
        let payloads = (0..<min(count, 10_000)).map { benchPacket($0, size: size) }
        if let writeFile {
            var text = Data()
            for i in 0..<count { text.append(contentsOf: payloads[i % payloads.count]); text.append(10) }
            try text.write(to: URL(fileURLWithPath: writeFile))
        }
        let started = ContinuousClock.now
        var sent = 0
        var failed = 0
        while sent < count {
            let n = min(batch, count - sent)
            let messages = (sent..<sent + n).map { OutgoingMessage(topic: topic, key: nil, value: payloads[$0 % payloads.count]) }
            for result in await producer.sendBatch(messages) { if case .failure = result { failed += 1 } }
            sent += n
        }
        let elapsed = (ContinuousClock.now - started).secondsDouble
        await producer.close(timeout: .seconds(10))
        print(String(format: "produced %d messages of %d bytes in %.3f s: %.0f msg/s (%d failed)", count, size, elapsed, Double(count) / elapsed, failed))
        if failed > 0 { throw ExitCode(1) }
    }
}

struct PerfConsume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Consume N messages from the beginning of every partition of a topic; print messages/s.")

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Topic.") var topic: String
    @Option(help: "Messages to read.") var count = 200_000

    func run() async throws {
        var logger = Logger(label: "logdist.perf")
        logger.logLevel = .error
        let config = try await kafka.probedKafkaConfig(logger: logger)
        let admin = try KafkaAdmin(kafka: config, logger: logger)
        guard let partitions = try await admin.partitionCount(topic: topic) else { throw ValidationError("no topic \(topic)") }
        var consumerConfig = KafkaConsumer.Configuration(kafka: config, groupID: nil)
        consumerConfig.clientName = "perf-consume"
        let consumer = try KafkaConsumer(configuration: consumerConfig, logger: logger)
        try consumer.assign((0..<partitions).map { TopicPartitionOffset(topic, Int32($0), KafkaOffset.beginning) })
        var got = 0
        var started: ContinuousClock.Instant?
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        while got < count, ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxMessages: 10_000, timeout: .milliseconds(500))
            if started == nil, !batch.messages.isEmpty { started = ContinuousClock.now }
            got += batch.messages.count
        }
        let elapsed = (ContinuousClock.now - (started ?? ContinuousClock.now)).secondsDouble
        await consumer.close()
        await admin.close()
        print(String(format: "consumed %d messages in %.3f s: %.0f msg/s", got, elapsed, Double(got) / max(elapsed, 0.000001)))
        if got < count { throw ExitCode(1) }
    }
}


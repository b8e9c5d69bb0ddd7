import ArgumentParser
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Dispatcher
import Foundation
import Pipeline

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline in one process: embedded broker, ingest, dispatcher and analysers.",
        discussion: "Three analysers weighted 1:2:3 by default. Prints the URLs and the admin token; stops on Ctrl-C.")

    @Option(help: "Analysers as id:weight or weights, comma-separated (default a1:1,a2:2,a3:3).") var analysers = "a1:1,a2:2,a3:3"
    @Option(help: "Use this Kafka instead of the embedded broker (env LOGDIST_BOOTSTRAP).") var bootstrap: String?
    @Option(name: .customShort("X"), help: ArgumentHelp("librdkafka property for a real cluster, repeatable.", valueName: "key=value"))
    var properties: [String] = []
    @Option(help: "Brokers in the embedded cluster.") var brokers = 1
    @Option(help: "Namespace (default logdist).") var namespace = "logdist"
    @Option(help: "Partitions of the packets topic.") var partitions = 6
    @Option(help: "Ingest port.") var ingestPort = 8080
    @Option(help: "OTLP/gRPC port of ingest (OTLP logs; 0: off).") var otlpGrpcPort = 4317
    @Option(help: "Dispatcher port (API and dashboard).") var dispatcherPort = 8090
    @Option(help: "First analyser port; the others follow.") var analyserPort = 8101
    @Option(help: "Admin token (env LOGDIST_ADMIN_TOKEN; default: generated and printed).") var adminToken: String?
    @Option(help: "Delivery mode (default: exactly-once on a real cluster, at-least-once on the embedded broker).") var delivery: DeliveryMode?
    @Option(help: "What weights share out: packets, messages or bytes (default packets).") var weightBy: WeightBy = .packets
    @Option(help: "Partitions of the assigned topic (default: one per analyser, and 5 spare on the embedded broker, so analysers can join later).")
    var analyserSlots: Int?
    @OptionGroup var log: LogOptions

    func run() async throws {
        var logOptions = log
        if logOptions.logLevel == nil, env("LOGDIST_LOG_LEVEL") == nil { logOptions.logLevel = "notice" }
        let logger = try logOptions.bootstrap(label: "logdist.up")
        var config = PipelineConfig()
        config.analysers = try AnalyserSpec.parse(analysers)
        config.brokers = brokers
        config.namespace = namespace
        config.packetPartitions = partitions
        config.ingestPort = ingestPort
        config.otlpGRPCPort = otlpGrpcPort == 0 ? nil : otlpGrpcPort
        config.dispatcherPort = dispatcherPort
        config.analyserBasePort = analyserPort
        config.delivery = delivery
        config.weightBy = weightBy
        if let analyserSlots {
            guard analyserSlots >= config.analysers.count else {
                throw ValidationError("--analyser-slots \(analyserSlots) is fewer than the \(config.analysers.count) analysers")
            }
            config.analyserSlots = analyserSlots
        }
        if let token = try BearerToken.option(value: adminToken, file: nil, env: "LOGDIST_ADMIN_TOKEN") { config.adminToken = token }
        if let servers = bootstrap ?? env("LOGDIST_BOOTSTRAP") {
            config.kafka = KafkaConfig(bootstrapServers: servers, properties: try KafkaConfig.parseProperties(properties))
        }
        let pipeline = try Pipeline(config: config, logger: logger)
        let status = BackgroundService(name: "status") {
            var last: Int64 = 0
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(5))
                let view = pipeline.dispatcher.view()
                guard view.dispatchedTotal != last else { continue }
                last = view.dispatchedTotal
                let rows = view.analysers.map { row in
                    "\(row.status.id) \(row.status.healthy ? "up" : row.status.reason.rawValue) \(row.dispatched) (\(String(format: "%.0f%%", row.share * 100)), lag \(row.status.lag ?? 0))"
                }
                print("dispatched \(view.dispatchedTotal)\(view.paused ? " PAUSED" : ""): " + rows.joined(separator: " | "))
                flushOutput()
            }
        }
        try await pipeline.run(extraServices: [status]) {
            printBanner(pipeline)
        }
    }

    private func printBanner(_ pipeline: Pipeline) {
        let config = pipeline.config
        var lines = [
            "logdist is up",
            "  kafka       \(pipeline.kafka.bootstrapServers)\(pipeline.broker == nil ? "" : "  (embedded broker: ~5 MiB per partition, at-least-once)")",
            "  ingest      http://\(config.host):\(pipeline.ingest.boundPort.current ?? 0)/v1/packets",
            "  otlp/http   http://\(config.host):\(pipeline.ingest.boundPort.current ?? 0)/v1/logs   (OTLP logs, protobuf or JSON)",
        ]
        if let port = pipeline.ingest.otlpGRPCPort.current {
            lines.append("  otlp/grpc   \(config.host):\(port)   (OTLP logs: LogsService/Export, plaintext)")
        }
        lines += [
            "  dashboard   http://\(config.host):\(pipeline.dispatcher.boundPort.current ?? 0)/   (delivery: \(pipeline.dispatcher.mode.rawValue); "
                + "load, fail and begin take the admin token)",
        ]
        for analyser in pipeline.analysers {
            lines.append(
                "  analyser    \(analyser.config.id) weight \(analyser.config.weight) partition \(analyser.config.partition)  http://\(config.host):\(analyser.boundPort.current ?? 0)/v1/stats")
        }
        lines.append("  admin token \(config.adminToken.revealed)")
        let ingestPort = pipeline.ingest.boundPort.current ?? 0
        lines.append("try:  curl -s -XPOST -H 'Content-Type: application/json' http://\(config.host):\(ingestPort)/v1/packets "
            + #"-d '{"id":"p-1","messages":[{"level":"INFO","message":"hello"}]}'"#)
        lines.append("      logdist lag --bootstrap \(pipeline.kafka.bootstrapServers)      (Ctrl-C stops everything)")
        print(lines.joined(separator: "\n"))
        flushOutput()
    }
}

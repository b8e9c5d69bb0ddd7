import Analyser
import LogdistBasics
import KafkaClient
import Foundation
import KafkaTestSupport
import Logging
import Pipeline
import Testing

/// Stock OpenTelemetry exporters, configured with only the endpoint, deliver logs that logdist analyses exactly
/// once: the OpenTelemetry Python SDK (PyPI) sends N records over OTLP/HTTP protobuf and N over OTLP/gRPC, N/10
/// go as OTLP JSON by a raw request, and a batch is exported three times (as an exporter retries it).
@Suite("OTLP from the OpenTelemetry Python SDK", .timeLimit(.minutes(5)))
struct OTLPExporterTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `LOGDIST_OTEL_PYTHON`, else the venv `./logdist test` installs under `.build/tools` when it holds the SDK.
    static var python: String? {
        if let path = ProcessInfo.processInfo.environment["LOGDIST_OTEL_PYTHON"] { return path }
        let venv = root.appendingPathComponent(".build/tools/venv")
        let python = venv.appendingPathComponent("bin/python").path
        let libs = (try? FileManager.default.contentsOfDirectory(atPath: venv.appendingPathComponent("lib").path)) ?? []
        let hasSDK = libs.contains {
            FileManager.default.fileExists(
                atPath: venv.appendingPathComponent("lib/\($0)/site-packages/opentelemetry/exporter/otlp/proto/grpc").path)
        }
        return hasSDK && FileManager.default.isExecutableFile(atPath: python) ? python : nil
    }

    @Test(
        "N records over OTLP/HTTP, N over OTLP/gRPC, N/10 as JSON, a batch exported 3 times: each analysed once, levels and sources right",
        .enabled(if: python != nil, "needs the OpenTelemetry Python SDK: ./logdist test installs it under .build/tools (or set LOGDIST_OTEL_PYTHON)"))
    func pythonSDK() async throws {
        let python = try #require(Self.python)
        let count = Int(ProcessInfo.processInfo.environment["LOGDIST_OTLP_E2E_COUNT"] ?? "") ?? 1000
        let retried = 25
        var logger = Logger(label: "logdist.e2e.otlp")
        logger.logLevel = ProcessInfo.processInfo.environment["LOGDIST_TEST_LOG"] == "debug" ? .debug : .critical
        var config = PipelineConfig()
        if let bootstrap = TestCluster.externalBootstrap { config.kafka = KafkaConfig(bootstrapServers: bootstrap) }
        config.namespace = "e2e-otlp-\(UUID().uuidString.prefix(8).lowercased())"
        config.ingestPort = 0
        config.dispatcherPort = 0
        config.analyserBasePort = 0
        config.otlpGRPCPort = 0
        config.recordIDs = true
        config.heartbeatInterval = .milliseconds(200)
        config.heartbeatTimeout = .seconds(3)
        let pipeline = try Pipeline(config: config, logger: logger)
        try await pipeline.prepare()
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("logdist-otel-\(UUID().uuidString.prefix(6)).json")
        let (status, output) = try await ServiceRunner.with(pipeline.services(), logger: logger) {
            await pipeline.waitUntilListening()
            let healthy = await eventually { pipeline.dispatcher.view().analysers.filter(\.status.healthy).count == 3 }
            try #require(healthy)
            let http = "http://127.0.0.1:\(try #require(pipeline.ingest.boundPort.current))"
            let grpc = "http://127.0.0.1:\(try #require(pipeline.ingest.otlpGRPCPort.current))"
            let status = try await Shell.runDetached(
                "'\(python)' '\(Self.root.path)/Tests/OTLPClients/otel_send.py' --http \(http) --grpc \(grpc) --json \(http) "
                    + "--count \(count) --retry \(retried) > '\(report.path)' 2>&1")
            let output = (try? String(contentsOf: report, encoding: .utf8)) ?? ""
            let expected = Int64(2 * count + count / 10 + retried)
            _ = await eventually(timeout: .seconds(60)) { Self.totals(pipeline).messages >= expected }
            // Anything analysed twice would arrive shortly after: give it the time.
            try await Task.sleep(for: .seconds(1))
            return (status, output)
        }
        #expect(status == 0, "the Python exporters failed:\n\(output.suffix(4000))")
        let sent = try #require(
            output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any],
            "no report:\n\(output.suffix(4000))")
        for transport in ["http", "grpc"] {
            let part = sent[transport] as? [String: Any]
            #expect(part?["exported"] as? Int == count, "\(transport): \(String(describing: part))")
            #expect(part?["failed"] as? Int == 0)
        }
        #expect((sent["json"] as? [String: Any])?["status"] as? Int == 200)
        #expect((sent["retry"] as? [String: Any])?["exports"] as? [String] == ["SUCCESS", "SUCCESS", "SUCCESS"])

        let totals = Self.totals(pipeline)
        let expected = 2 * count + count / 10 + retried
        #expect(totals.messages == Int64(expected), "analysed \(totals.messages) messages of \(expected) sent (retried batch counted once)")
        // Levels cycle DEBUG, INFO, WARNING, ERROR, CRITICAL in each stream; CRITICAL is FATAL (severity 21).
        var expectedLevels: [String: Int64] = [:]
        for size in [count, count, count / 10, retried] {
            for index in 0..<size { expectedLevels[["DEBUG", "INFO", "WARN", "ERROR", "FATAL"][index % 5], default: 0] += 1 }
        }
        expectedLevels["TRACE"] = 0
        #expect(totals.levels == expectedLevels)
        #expect(Set(totals.sources.keys) == ["py-http", "py-grpc", "py-json", "py-retry"])
        // The retried batch (3 exports) is one packet, analysed once by one analyser.
        #expect(totals.sources["py-retry"] == 1)
        #expect(totals.sources["py-json"] == 1)
        for analyser in pipeline.analysers {
            let counts = analyser.analysedIDs()
            #expect(counts.values.allSatisfy { $0 == 1 }, "\(analyser.config.id) analysed a packet twice")
        }
    }

    struct Totals {
        var messages: Int64 = 0
        var levels: [String: Int64] = [:]
        var sources: [String: Int64] = [:]
    }

    static func totals(_ pipeline: Pipeline) -> Totals {
        var totals = Totals()
        for analyser in pipeline.analysers {
            let analysis = analyser.stats().analysis
            totals.messages += analysis.messages
            totals.levels.merge(analysis.levels, uniquingKeysWith: +)
            for source in analysis.sources { totals.sources[source.source, default: 0] += source.count }
        }
        return totals
    }
}

import AsyncHTTPClient
import Foundation
import KafkaTestSupport
import Pipeline
import Testing

/// The Grafana dashboard (deploy/) is checked against deploy/metrics.txt by deploy/check.sh; this test checks
/// that list against what the running services export, so the dashboard cannot name a metric that does not exist.
@Suite("Metrics contract", .timeLimit(.minutes(2)))
struct MetricsContractTests {
    @Test("every metric in deploy/metrics.txt is exported by a running service, and every exported one is listed")
    func metricsMatchDeployList() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let listed = Set(
            try String(contentsOf: root.appendingPathComponent("deploy/metrics.txt"), encoding: .utf8)
                .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                .compactMap { $0.split(separator: " ").first.map(String.init) })
        let harness = try PipelineHarness(label: "metrics")
        let exported = try await harness.run { h in
            #expect(await h.waitHealthy(3))
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(h.pipeline.ingest.boundPort.current ?? 0)/v1/packets")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(.init(string: #"{"id":"m-1","messages":[{"level":"INFO","message":"hi"}]}"#))
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            request.body = .bytes(.init(string: "{"))
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let ids = try await h.produce(100, prefix: "m")
            #expect(await h.waitAnalysed(ids))
            var names = Set<String>()
            let ports = [h.pipeline.ingest.boundPort.current, h.pipeline.dispatcher.boundPort.current]
                + h.pipeline.analysers.map { $0.boundPort.current }
            for port in ports.compactMap({ $0 }) {
                // Request counters appear after the first request, so scrape last.
                for path in ["/health/ready", "/metrics", "/metrics"] {
                    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(10))
                    let body = try await response.body.collect(upTo: 4 << 20)
                    guard path == "/metrics" else { continue }
                    for line in String(buffer: body).split(separator: "\n") where line.hasPrefix("# TYPE ") {
                        names.insert(String(line.split(separator: " ")[2]))
                    }
                }
            }
            return names
        }
        #expect(listed.subtracting(exported).isEmpty, "listed but not exported: \(listed.subtracting(exported).sorted())")
        #expect(exported.subtracting(listed).isEmpty, "exported but not listed: \(exported.subtracting(listed).sorted())")
    }
}

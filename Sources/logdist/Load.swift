import ArgumentParser
import Foundation
import LoadGen

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive load at the ingest API and report requests/s, packets/s, statuses and latency percentiles.",
        discussion: "Latency is counted from when each request was due (no coordinated omission) when --rate is set.")

    @Option(help: "Ingest URL (env LOGDIST_LOAD_URL).") var url = ProcessInfo.processInfo.environment["LOGDIST_LOAD_URL"] ?? "http://127.0.0.1:8080/v1/packets"
    @Option(help: "Requests per second, all connections together; 0 = as fast as possible.") var rate: Double = 1000
    @Option(help: "How long, e.g. 30s, 2m.") var duration = "10s"
    @Option(help: "Concurrent connections.") var connections = 16
    @Option(help: "Packets per request (> 1 uses the batch route with NDJSON).") var batch = 1
    @Option(help: "Log messages per packet.") var messages = 1
    @Option(help: "Bearer token, if ingest requires one (env LOGDIST_INGEST_TOKEN).") var token: String?
    @Option(help: "Write the id of every packet that got a 202 to this file, one per line.") var idsOut: String?
    @Flag(help: "No per-second progress lines.") var quiet = false

    func run() async throws {
        let plan = LoadPlan(
            url: url, rate: rate, duration: try parseDuration(duration), connections: max(1, connections), batch: max(1, batch),
            messagesPerPacket: max(1, messages), token: token ?? env("LOGDIST_INGEST_TOKEN"))
        print("Running \(duration) test @ \(url)")
        print("  \(plan.connections) connections, \(rate > 0 ? "\(Int(rate)) req/s target" : "unthrottled"), \(plan.batch) packet(s) per request")
        flushOutput()
        let generator = LoadGenerator(plan: plan, keepIDs: idsOut != nil)
        let quiet = quiet
        let (totals, elapsed) = try await generator.run { second, window in
            guard !quiet else { return }
            let statuses = window.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print(String(format: "  %3ds  %7d req/s  %8d packets/s  p99 %@  %@%@", second, window.requests, window.packetsAccepted,
                         formatLatency(window.latency.valueAtPercentile(99)), statuses, window.errors > 0 ? " errors=\(window.errors)" : ""))
            flushOutput()
        }
        print(LoadReport(totals: totals, elapsed: elapsed).text)
        if let idsOut {
            try (totals.acceptedIDs.joined(separator: "\n") + (totals.acceptedIDs.isEmpty ? "" : "\n")).write(toFile: idsOut, atomically: true, encoding: .utf8)
            print("  \(totals.acceptedIDs.count) accepted ids written to \(idsOut)")
        }
        if totals.requests == 0 || totals.errors == totals.requests { throw ExitCode(1) }
    }
}

/// The summary, wrk style.
struct LoadReport {
    let totals: LoadTotals
    let elapsed: Duration

    var requestsPerSecond: Double { Double(totals.requests) / elapsed.secondsDouble }
    var packetsPerSecond: Double { Double(totals.packetsAccepted) / elapsed.secondsDouble }

    var text: String {
        let h = totals.latency
        let statuses = totals.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return """
              Latency     p50 \(formatLatency(h.valueAtPercentile(50)))  p90 \(formatLatency(h.valueAtPercentile(90)))  p99 \(formatLatency(h.valueAtPercentile(99)))  max \(formatLatency(h.maxRecorded))
              \(totals.requests) requests in \(String(format: "%.2f", elapsed.secondsDouble))s, \(totals.packetsAccepted) packets accepted
              Status      \(statuses.isEmpty ? "-" : statuses)\(totals.errors > 0 ? "  connection errors=\(totals.errors)" : "")
            Requests/sec: \(String(format: "%.1f", requestsPerSecond))
            Packets/sec:  \(String(format: "%.1f", packetsPerSecond))
            """
    }
}

/// "30s", "2m", "500ms", "1h", or plain seconds.
func parseDuration(_ text: String) throws -> Duration {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        if let value = Double(text.dropLast(suffix.count)), value >= 0 { return .milliseconds(Int64(value * scale * 1000)) }
    }
    if let value = Double(text), value >= 0 { return .milliseconds(Int64(value * 1000)) }
    throw ValidationError("duration '\(text)': use e.g. 500ms, 30s, 2m")
}

import Dispatcher
import Foundation

/// What `logdist demo` measured and whether each check passed; written as report.json.
public struct DemoReport: Codable, Sendable {
    public struct Check: Codable, Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    public struct AnalyserResult: Codable, Sendable {
        public var id: String
        public var weight: Int
        public var analysed: Int
        public var share: Double
        public var retentionLostPackets: Int64
        public var replayPackets: Int64
        public var replayMs: Int64?
    }

    public struct Sample: Codable, Sendable {
        public var atMs: Int64
        /// Packets per second analysed, per analyser, over the last sample interval.
        public var rates: [String: Double]
    }

    public var delivery: String
    public var durationSeconds: Double
    public var rateTarget: Double
    public var accepted: Int
    public var rejected: [String: Int]
    public var analysed: Int
    public var lost: Int
    public var duplicated: Int
    public var failedAnalyser: String
    public var failAtMs: Int64
    public var detectedAtMs: Int64?
    public var beginAtMs: Int64?
    public var caughtUpAtMs: Int64?
    public var detectionMs: Int64?
    public var replayMs: Int64?
    public var backlogPackets: Int64
    public var throughputPacketsPerSecond: Double
    public var ingestLatencyMs: [String: Double]
    /// Every packet, including the failed analyser's backlog that waited out the outage.
    public var endToEndLatencyMs: [String: Double]
    /// The analysers that never failed: the pipeline's latency when nothing is wrong.
    public var steadyEndToEndLatencyMs: [String: Double]
    public var maxEpochDeviation: Double
    public var epochs: [DispatchEpoch]
    public var analysers: [AnalyserResult]
    public var timeline: [Sample]
    public var startedAtMs: Int64
    public var checks: [Check]

    public var passed: Bool { checks.allSatisfy(\.passed) }

    public var text: String {
        var lines: [String] = []
        lines.append("logdist demo — \(String(format: "%.0f", durationSeconds)) s at \(Int(rateTarget)) packets/s, \(delivery)")
        lines.append("")
        lines.append("  analyser  weight  analysed   share   expected")
        let totalWeight = Double(analysers.reduce(0) { $0 + $1.weight })
        for a in analysers {
            lines.append(
                String(
                    format: "  %-8@  %6d  %8d  %6.2f%%  %6.2f%%", a.id as NSString, a.weight, a.analysed, a.share * 100,
                    totalWeight > 0 ? Double(a.weight) / totalWeight * 100 : 0))
        }
        lines.append("  (shares differ from the weights only by the outage; within each period of unchanged health the largest")
        lines.append("   deviation from the exact weighted share was \(String(format: "%.1f", maxEpochDeviation)) packets)")
        lines.append("")
        lines.append("  accepted \(accepted)   analysed \(analysed)   lost \(lost)   duplicated \(duplicated)")
        lines.append("  failure of \(failedAnalyser): detected after \(detectionMs.map { "\($0) ms" } ?? "—"), backlog \(backlogPackets) packets replayed in \(replayMs.map { "\($0) ms" } ?? "—")")
        lines.append(String(format: "  throughput %.0f packets/s accepted", throughputPacketsPerSecond))
        lines.append(
            "  latency    ingest (HTTP 202)  p50 \(fmt(ingestLatencyMs["p50"]))  p99 \(fmt(ingestLatencyMs["p99"]))  max \(fmt(ingestLatencyMs["max"]))")
        lines.append(
            "             end to end         p50 \(fmt(steadyEndToEndLatencyMs["p50"]))  p99 \(fmt(steadyEndToEndLatencyMs["p99"]))  p999 \(fmt(steadyEndToEndLatencyMs["p999"]))  (analysers that did not fail)")
        lines.append(
            "             incl. the backlog  p50 \(fmt(endToEndLatencyMs["p50"]))  p99 \(fmt(endToEndLatencyMs["p99"]))  max \(fmt(endToEndLatencyMs["max"]))  (replayed packets waited out the outage)")
        lines.append("")
        for check in checks {
            lines.append("  [\(check.passed ? "PASS" : "FAIL")] \(check.name): \(check.detail)")
        }
        lines.append("")
        lines.append(passed ? "demo passed" : "demo FAILED")
        return lines.joined(separator: "\n")
    }

    private func fmt(_ value: Double?) -> String { value.map { String(format: "%.1f ms", $0) } ?? "—" }
}

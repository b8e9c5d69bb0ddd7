import PacketModel
import ServiceSupport
import Prometheus

/// The analyser's metrics, labelled by analyser id (a bounded set: one per analyser process).
final class AnalyserMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let requests: RequestCounters
    let packets: Counter
    let messages: [String: Counter]
    let duplicates: Counter
    let malformed: Counter
    let retentionLost: Counter
    let lag: Gauge
    let committedOffset: Gauge
    let replayRemaining: Gauge
    let up: Gauge
    let dedupeBytes: Gauge
    let endToEnd: DurationHistogram

    init(registry: PrometheusCollectorRegistry, id: String) {
        self.registry = registry
        let label = [("analyser", id)]
        requests = RequestCounters(registry: registry, service: "analyser")
        packets = registry.counter("analyser", "packets", help: "Packets analysed (duplicates excluded)", labels: label)
        var messages: [String: Counter] = [:]
        for level in LogLevel.allCases {
            messages[level.rawValue] = registry.counter(
                "analyser", "messages", help: "Log messages analysed, by level", labels: label + [("level", level.rawValue)])
        }
        self.messages = messages
        duplicates = registry.counter("analyser", "duplicates", help: "Packets skipped as duplicates inside the dedupe window", labels: label)
        malformed = registry.counter("analyser", "malformed", help: "Records that were not valid packets (counted and skipped)", labels: label)
        retentionLost = registry.counter(
            "analyser", "retention_lost_packets", help: "Packets deleted by retention before this analyser read them", labels: label)
        lag = registry.gauge("analyser", "lag", unit: "messages", help: "End offset of its partition minus its position", labels: label)
        committedOffset = registry.gauge("analyser", "committed_offset", help: "Next offset to process, as committed", labels: label)
        replayRemaining = registry.gauge(
            "analyser", "replay_remaining", unit: "messages", help: "Backlog left to replay since the last start or resume", labels: label)
        up = registry.gauge("analyser", "up", help: "1 while consuming and heartbeating, 0 when failed or stopped", labels: label)
        dedupeBytes = registry.gauge("analyser", "dedupe_window", unit: "bytes", help: "Approximate memory of the dedupe window", labels: label)
        endToEnd = registry.latencyHistogram("analyser", "end_to_end_latency", help: "Ingest time to analysis", labels: label)
    }
}

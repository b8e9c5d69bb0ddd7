import PacketModel
import ServiceSupport
import Prometheus
import Synchronization

/// The dispatcher's metrics; per-analyser series are created when an analyser first appears and kept.
final class DispatcherMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let requests: RequestCounters
    let commitLatency: DurationHistogram
    let paused: Gauge
    let batches: Counter
    let aborts: Counter
    let rebalances: Counter
    let rebalancedBatches: Counter
    let healthyAnalysers: Gauge
    let feedBlind: Gauge
    let repeatsDropped: Counter
    let queryErrors: Counter
    let rebalanceErrors: Counter
    let retryWindowLoads: Counter
    let retryWindowPackets: Gauge
    let load: LoadMetrics
    private let perAnalyser = Mutex<[String: AnalyserSeries]>([:])

    struct AnalyserSeries: Sendable {
        let dispatched: Counter
        let up: Gauge
        let lag: Gauge
        let weight: Gauge
    }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        requests = RequestCounters(registry: registry, service: "dispatcher")
        commitLatency = registry.latencyHistogram(
            "dispatcher", "transaction_commit", help: "Time to make one batch durable: produce acks, offsets, commit")
        paused = registry.gauge("dispatcher", "paused", help: "1 while input is paused because no analyser is healthy")
        batches = registry.counter("dispatcher", "batches", help: "Batches committed")
        aborts = registry.counter("dispatcher", "aborts", help: "Batches aborted or rewound and retried")
        rebalances = registry.counter("dispatcher", "rebalances", help: "Partition assignment changes of the dispatcher group")
        rebalancedBatches = registry.counter(
            "dispatcher", "batches_committed_across_rebalance",
            help: "Batches committed while a rebalance happened (kept, not redone)")
        healthyAnalysers = registry.gauge("dispatcher", "healthy_analysers", help: "Analysers currently eligible for packets")
        feedBlind = registry.gauge(
            "dispatcher", "heartbeats_feed_blind", unit: "seconds",
            help: "How long the heartbeats partition has answered no probe (0 while the feed is current)")
        queryErrors = registry.counter(
            "dispatcher", "offset_query_errors",
            help: "End-offset and partition-count queries of the assigned topic that failed (the last values are kept)")
        rebalanceErrors = registry.counter(
            "dispatcher", "rebalance_errors", help: "Rebalances whose assignment or revocation librdkafka refused")
        repeatsDropped = registry.counter(
            "dispatcher", "repeats_dropped",
            help: "Packets not routed because their id repeats one routed within the retry window of their partition")
        retryWindowLoads = registry.counter(
            "dispatcher", "retry_window_loads", help: "Retry windows read back from the packets topic (assignments, redos)")
        retryWindowPackets = registry.gauge(
            "dispatcher", "retry_window_packets", help: "Packet ids held in the retry windows of the partitions routed here")
        load = LoadMetrics(registry: registry)
    }

    func series(_ id: String) -> AnalyserSeries {
        perAnalyser.withLock { all in
            if let known = all[id] { return known }
            let label = [("analyser", id)]
            let made = AnalyserSeries(
                dispatched: registry.counter("dispatcher", "dispatched", help: "Packets assigned, by analyser", labels: label),
                up: registry.gauge("dispatcher", "analyser_up", help: "1 when the analyser is healthy", labels: label),
                lag: registry.gauge("dispatcher", "analyser_lag", unit: "messages", help: "End offset minus committed offset", labels: label),
                weight: registry.gauge("dispatcher", "analyser_weight", help: "Configured weight", labels: label))
            all[id] = made
            return made
        }
    }
}

/// The dashboard's load generator: what it sent and how ingest answered. Created with the dispatcher, so the series
/// exist (at 0) before the first run.
struct LoadMetrics: Sendable {
    let ok: Counter
    let non2xx: Counter
    let errors: Counter
    let packetsAccepted: Counter
    let running: Gauge

    init(registry: PrometheusCollectorRegistry) {
        let help = "Load requests sent from the dashboard, by outcome (2xx, non_2xx, error = no answer)"
        ok = registry.counter("dispatcher", "load_requests", help: help, labels: [("outcome", "2xx")])
        non2xx = registry.counter("dispatcher", "load_requests", help: help, labels: [("outcome", "non_2xx")])
        errors = registry.counter("dispatcher", "load_requests", help: help, labels: [("outcome", "error")])
        packetsAccepted = registry.counter(
            "dispatcher", "load_packets_accepted", help: "Packets of dashboard load that ingest accepted (202)")
        running = registry.gauge("dispatcher", "load_running", help: "1 while a load run from the dashboard is going")
    }

    func add(_ counts: LoadCounts) {
        if counts.ok2xx > 0 { ok.increment(by: Int64(counts.ok2xx)) }
        if counts.non2xx > 0 { non2xx.increment(by: Int64(counts.non2xx)) }
        if counts.errors > 0 { errors.increment(by: Int64(counts.errors)) }
        if counts.packetsAccepted > 0 { packetsAccepted.increment(by: Int64(counts.packetsAccepted)) }
    }
}

import PacketModel
import ServiceSupport
import Prometheus
import Synchronization

/// The ingest service's metrics, created once.
final class IngestMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let requests: RequestCounters
    let packetsAccepted: Counter
    let bytesAccepted: Counter
    let ackLatency: DurationHistogram
    let queueDepth: Gauge
    let ready: Gauge
    private let rejections = Mutex<[String: Counter]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        requests = RequestCounters(registry: registry, service: "ingest")
        packetsAccepted = registry.counter("ingest", "packets_accepted", help: "Packets acknowledged by Kafka and answered 202")
        bytesAccepted = registry.counter("ingest", "bytes_accepted", help: "Packet bytes acknowledged by Kafka")
        ackLatency = registry.latencyHistogram("ingest", "produce_ack", help: "Time from produce to the broker's acknowledgement, per request")
        queueDepth = registry.gauge("ingest", "producer_queue_depth", unit: "messages", help: "Messages in the producer's local queue")
        ready = registry.gauge("ingest", "ready", help: "1 when the broker is reachable and the packets topic exists")
    }

    /// Rejected packets by error code (a bounded set: the validator's codes and `unavailable`).
    func rejected(_ code: String, count: Int = 1) {
        let counter = rejections.withLock { counters in
            if let known = counters[code] { return known }
            let made = registry.counter("ingest", "packets_rejected", help: "Packets refused, by error code", labels: [("error", code)])
            counters[code] = made
            return made
        }
        counter.increment(by: Int64(count))
    }
}

import Prometheus

/// Metric constructors that spell names as `logdist_<service>_<what>_<unit>` and always carry help text.
extension PrometheusCollectorRegistry {
    private static func descriptor(_ service: String, _ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "logdist", subsystem: service, metricName: name, unitName: unit, helpText: help)
    }

    public func counter(
        _ service: String, _ name: String, unit: String = "total", help: String, labels: [(String, String)] = []
    ) -> Counter {
        makeCounter(descriptor: Self.descriptor(service, name, unit, help), labels: labels)
    }

    public func gauge(
        _ service: String, _ name: String, unit: String = "", help: String, labels: [(String, String)] = []
    ) -> Gauge {
        makeGauge(descriptor: Self.descriptor(service, name, unit, help), labels: labels)
    }

    /// A latency histogram in seconds with buckets from 0.5 ms to 10 s.
    public func latencyHistogram(
        _ service: String, _ name: String, help: String, labels: [(String, String)] = []
    ) -> DurationHistogram {
        makeDurationHistogram(
            descriptor: Self.descriptor(service, name, "seconds", help), labels: labels,
            buckets: [
                .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            ])
    }
}

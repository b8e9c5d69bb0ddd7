import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import OTLPProto
import Prometheus

/// What both OTLP transports do with a decoded request: map it onto packets, produce them through ingest's
/// producer, and answer only after Kafka acknowledged every one.
struct OTLPExport: Sendable {
    enum Transport: String, Sendable { case http, grpc }

    enum Outcome: Sendable {
        /// Every packet acknowledged; the response carries `partial_success` when records were rejected.
        case accepted(OTLPExportLogsServiceResponse, records: Int)
        /// Kafka did not take every packet: retry (after `retryAfterSeconds`). `busy` means backpressure (the local
        /// queue is full), else the broker did not acknowledge in time or refused.
        case unavailable(busy: Bool, detail: String)
    }

    let service: IngestService
    let metrics: OTLPMetrics

    init(service: IngestService) {
        self.service = service
        self.metrics = service.otlpMetrics
    }

    var mapper: OTLPLogMapper {
        OTLPLogMapper(limits: service.config.limits, recordsPerPacket: service.config.otlp.recordsPerPacket)
    }

    func export(_ request: OTLPExportLogsServiceRequest, transport: Transport) async -> Outcome {
        let mapped = mapper.map(request)
        if mapped.rejected > 0 {
            metrics.records(transport, "rejected", mapped.rejected)
            service.metrics.rejected("otlp_record", count: mapped.rejected)
        }
        var response = OTLPExportLogsServiceResponse()
        if mapped.rejected > 0 {
            response.partialSuccess.rejectedLogRecords = Int64(mapped.rejected)
            response.partialSuccess.errorMessage =
                "\(mapped.rejected) log record(s) rejected; the first because \(mapped.rejection ?? "it was invalid")"
        }
        guard !mapped.slices.isEmpty else { return .accepted(response, records: 0) }
        let started = ContinuousClock.now
        let now = epochMilliseconds()
        let outcome = await service.producer.sendSlices(
            topic: service.config.topics.packets, values: mapped.values, keys: mapped.keys, slices: mapped.slices,
            header: KafkaHeader(HeaderNames.ingestTime, string: "\(now)"), timestamp: now, countHeader: HeaderNames.messages)
        service.metrics.ackLatency.record(ContinuousClock.now - started)
        let delivered = mapped.slices.count - outcome.failed
        service.metrics.packetsAccepted.increment(by: Int64(delivered))
        service.metrics.bytesAccepted.increment(by: Int64(outcome.deliveredBytes))
        if let error = outcome.firstError {
            service.metrics.rejected("unavailable", count: outcome.failed)
            metrics.records(transport, "unavailable", mapped.records)
            let apiError = IngestError.from(error, config: service.config)
            var detail = apiError.detail
            if delivered > 0 {
                detail += " (\(delivered) of \(mapped.slices.count) packets were written; retrying the whole export is safe: "
                    + "packet ids are derived from the records, and a repeated id is routed once within the retry window)"
            }
            return .unavailable(busy: error.kind == .queueFull, detail: detail)
        }
        metrics.records(transport, "accepted", mapped.records)
        return .accepted(response, records: mapped.records)
    }
}

/// `logdist_ingest_otlp_records_total{transport,outcome}` and `logdist_ingest_otlp_requests_total{transport,status}`.
final class OTLPMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let counters = Locked<[String: Counter]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func records(_ transport: OTLPExport.Transport, _ outcome: String, _ count: Int) {
        counter(
            "records", [("transport", transport.rawValue), ("outcome", outcome)],
            help: "OTLP log records by transport and outcome (accepted, rejected, unavailable)"
        ).increment(by: Int64(count))
    }

    func request(_ transport: OTLPExport.Transport, status: String) {
        counter(
            "requests", [("transport", transport.rawValue), ("status", status)],
            help: "OTLP export requests by transport and answer (HTTP status or gRPC code)"
        ).increment()
    }

    private func counter(_ name: String, _ labels: [(String, String)], help: String) -> Counter {
        let key = name + labels.map { "|\($0.1)" }.joined()
        return counters.withLock { known in
            if let made = known[key] { return made }
            let made = registry.counter("ingest", "otlp_\(name)", help: help, labels: labels)
            known[key] = made
            return made
        }
    }
}

import KafkaClient
import PacketModel
import ServiceSupport
import Hummingbird
import NIOCore

/// The ingest routes' logic: content type, body limit, validation, produce, answer.
struct IngestHandlers: Sendable {
    let service: IngestService
    var config: IngestConfig { service.config }

    /// `POST /v1/packets` and logdistributor's `POST /distributor/packet`: one packet.
    func single(_ request: Request, context: some RequestContext) async throws -> Response {
        try requireContentType(request, allowed: ["application/json"])
        let body = try await collectBody(request, context: context)
        return try await produceInPlace(body, [0..<body.count], single: true)
    }

    /// `POST /v1/packets:batch`: NDJSON or a JSON array. All-or-nothing, or per item with `?partial=true`.
    func batch(_ request: Request, context: some RequestContext) async throws -> Response {
        let mediaType = try requireContentType(request, allowed: ["application/x-ndjson", "application/json"])
        let body = try await collectBody(request, context: context)
        let partial = try partialMode(request)
        let split: Result<[Range<Int>], ValidationError> = body.withUnsafeBytes { raw in
            Result { () throws(ValidationError) -> [Range<Int>] in
                mediaType == "application/x-ndjson"
                    ? try PacketValidator.splitLines(raw) : try PacketValidator.splitArray(raw, limits: config.limits)
            }
        }
        let ranges: [Range<Int>]
        switch split {
        case .success(let found): ranges = found
        case .failure(let error):
            service.metrics.rejected(error.error)
            throw IngestError.from(error)
        }
        guard partial else { return try await produceInPlace(body, ranges, single: false) }
        var items: [(index: Int, id: String, bytes: [UInt8], messages: Int)] = []
        var rejected: [(index: Int, error: APIError)] = []
        items.reserveCapacity(ranges.count)
        for (index, range) in ranges.enumerated() {
            let bytes = Array(body[range])
            do {
                let summary = try PacketValidator.validate(bytes, limits: config.limits)
                items.append((index, summary.id, bytes, summary.messageCount))
            } catch {
                service.metrics.rejected(error.error)
                rejected.append((index, IngestError.from(error, prefix: "[\(index)]")))
            }
        }
        let outcomes = await produce(items.map { ($0.id, $0.bytes, $0.messages) })
        var results: [BatchItemResult] = rejected.map {
            BatchItemResult(index: $0.index, status: Int($0.error.status.code), error: $0.error.error, field: $0.error.field, detail: $0.error.detail)
        }
        var acceptedCount = 0
        for (item, outcome) in zip(items, outcomes) {
            switch outcome {
            case .success:
                acceptedCount += 1
                results.append(BatchItemResult(index: item.index, status: 202, id: item.id))
            case .failure(let error):
                let apiError = IngestError.from(error, config: config)
                results.append(BatchItemResult(index: item.index, status: 503, id: item.id, error: apiError.error, detail: apiError.detail))
            }
        }
        results.sort { $0.index < $1.index }
        let status = BatchResponse.status(invalid: rejected.count, produced: items.count, accepted: acceptedCount)
        var response = jsonResponse(
            BatchResponse(accepted: acceptedCount, rejected: results.count - acceptedCount, results: results), status: status)
        if status == .serviceUnavailable { response.headers[.retryAfter] = "\(config.retryAfterSeconds)" }
        return response
    }

    /// A single packet, or a batch in the default mode: every packet is validated in place in the body (no copy,
    /// no string per packet), the first bad one rejects the request, else all are produced straight from the body
    /// and the answer is 202 only when the broker acknowledged every one.
    private func produceInPlace(_ body: [UInt8], _ ranges: [Range<Int>], single: Bool) async throws -> Response {
        var collector = PacketValidator.KeyCollector(limits: config.limits, expectedPackets: ranges.count)
        var slices: [KafkaProducer.RecordSlice] = []
        slices.reserveCapacity(ranges.count)
        let invalid: (index: Int, error: ValidationError)? = body.withUnsafeBytes { raw in
            for (index, range) in ranges.enumerated() {
                do throws(ValidationError) {
                    let key = try collector.validate(raw, range)
                    slices.append(KafkaProducer.RecordSlice(value: range, key: key, messages: Int32(collector.lastMessageCount)))
                } catch {
                    return (index, error)
                }
            }
            return nil
        }
        if let invalid {
            service.metrics.rejected(invalid.error.error)
            throw single ? IngestError.from(invalid.error) : IngestError.from(invalid.error, prefix: "[\(invalid.index)]")
        }
        let started = ContinuousClock.now
        let now = epochMilliseconds()
        let outcome = await service.producer.sendSlices(
            topic: config.topics.packets, values: body, keys: collector.keys, slices: slices,
            header: ingestTimeHeader(now), timestamp: now, countHeader: HeaderNames.messages)
        service.metrics.ackLatency.record(ContinuousClock.now - started)
        record(accepted: slices.count - outcome.failed, bytes: outcome.deliveredBytes, failed: outcome.failed)
        if let error = outcome.firstError { throw unavailable(error, failed: outcome.failed, of: slices.count) }
        return accepted(slices.count)
    }

    /// The 503 for a request some of whose packets were not acknowledged.
    private func unavailable(_ error: KafkaError, failed: Int, of total: Int) -> APIError {
        var apiError = IngestError.from(error, config: config)
        if failed < total {
            apiError.detail += " (\(total - failed) of \(total) packets were written; "
                + "retrying the whole request is safe: a packet id is routed once within the retry window)"
        }
        return apiError
    }

    private func record(accepted: Int, bytes: Int, failed: Int) {
        service.metrics.packetsAccepted.increment(by: Int64(accepted))
        service.metrics.bytesAccepted.increment(by: Int64(bytes))
        if failed > 0 { service.metrics.rejected("unavailable", count: failed) }
    }

    private func ingestTimeHeader(_ now: Int64 = epochMilliseconds()) -> KafkaHeader {
        KafkaHeader(HeaderNames.ingestTime, string: "\(now)")
    }

    private func produce(_ packets: [(id: String, bytes: [UInt8], messages: Int)]) async -> [Result<DeliveryReport, KafkaError>] {
        let header = ingestTimeHeader()
        let topic = config.topics.packets
        let messages = packets.map {
            OutgoingMessage(
                topic: topic, key: Array($0.id.utf8), value: $0.bytes,
                headers: [header, KafkaHeader(HeaderNames.messages, string: "\($0.messages)")])
        }
        let started = ContinuousClock.now
        let outcomes = await service.producer.sendBatch(messages)
        service.metrics.ackLatency.record(ContinuousClock.now - started)
        var acceptedCount = 0
        var acceptedBytes = 0
        var failed = 0
        for (packet, outcome) in zip(packets, outcomes) {
            if case .success = outcome {
                acceptedCount += 1
                acceptedBytes += packet.bytes.count
            } else {
                failed += 1
            }
        }
        record(accepted: acceptedCount, bytes: acceptedBytes, failed: failed)
        return outcomes
    }

    /// The body, refusing absurd `Content-Length` values before reading and anything over the limit while reading.
    func collectBody(_ request: Request, context: some RequestContext) async throws -> [UInt8] {
        let limit = config.limits.maxBodyBytes
        if let declared = request.headers[.contentLength], let length = Int(declared), length > limit {
            service.metrics.rejected("too_large")
            throw IngestError.bodyTooLarge(limit: limit)
        }
        // A client that trickles its body must not hold a request forever: every chunk is checked against the
        // deadline (no timer or task per request); a client that stops sending is closed by the idle timeout.
        let deadline = ContinuousClock.now.advanced(by: config.bodyTimeout)
        var bytes: [UInt8] = []
        if let declared = request.headers[.contentLength], let length = Int(declared) { bytes.reserveCapacity(length) }
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= limit else {
                service.metrics.rejected("too_large")
                throw IngestError.bodyTooLarge(limit: limit)
            }
            bytes.append(contentsOf: chunk.readableBytesView)
            if ContinuousClock.now > deadline {
                service.metrics.rejected("body_timeout")
                throw APIError(
                    status: .requestTimeout, error: "body_timeout",
                    detail: "the body did not arrive within \(config.bodyTimeout); send it at once")
            }
        }
        return bytes
    }

    /// `?partial=true|false` (absent: false); any other value is refused rather than guessed.
    private func partialMode(_ request: Request) throws -> Bool {
        guard let value = request.uri.queryParameters.get("partial") else { return false }
        switch value {
        case "true": return true
        case "false": return false
        default:
            service.metrics.rejected("invalid_parameter")
            throw APIError(
                status: .badRequest, error: "invalid_parameter", field: "partial",
                detail: "?partial must be true or false, not '\(value)'")
        }
    }

    /// The request's media type if it is one of `allowed`, else 415.
    @discardableResult
    private func requireContentType(_ request: Request, allowed: [String]) throws -> String {
        let header = request.headers[.contentType]
        let mediaType = header.map { String($0.split(separator: ";", maxSplits: 1).first ?? "").trimmed.lowercased() }
        guard let mediaType, allowed.contains(mediaType) else {
            service.metrics.rejected("unsupported_media_type")
            throw IngestError.unsupportedMediaType(header, expected: allowed)
        }
        return mediaType
    }

    private func accepted(_ count: Int) -> Response {
        jsonResponse(bytes: Array("{\"accepted\":\(count)}".utf8), status: .accepted)
    }
}

struct BatchItemResult: Encodable {
    var index: Int
    var status: Int
    var id: String?
    var error: String?
    var field: String?
    var detail: String?
}

struct BatchResponse: Encodable {
    var accepted: Int
    var rejected: Int
    var results: [BatchItemResult]

    /// The status of a partial batch: 422 when any packet was invalid (the valid ones are written all the same, as
    /// the results say), 503 when none of the valid ones could be written, else 200.
    static func status(invalid: Int, produced: Int, accepted: Int) -> HTTPResponse.Status {
        if invalid > 0 { return .unprocessableContent }
        if produced > 0, accepted == 0 { return .serviceUnavailable }
        return .ok
    }
}

extension String {
    var trimmed: String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}

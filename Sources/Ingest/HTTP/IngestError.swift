import KafkaClient
import PacketModel
import ServiceSupport
import Hummingbird

/// Turns what can go wrong in ingest into the JSON error body and status clients see.
enum IngestError {
    static func from(_ error: ValidationError, prefix: String? = nil) -> APIError {
        let field: String?
        if let prefix {
            field = error.field.map { $0.hasPrefix("[") ? "\(prefix)\($0)" : "\(prefix).\($0)" } ?? prefix
        } else {
            field = error.field
        }
        return APIError(
            status: HTTPResponse.Status(code: error.status), error: error.error, field: field, detail: error.detail)
    }

    static func from(_ error: KafkaError, config: IngestConfig) -> APIError {
        switch error.kind {
        case .queueFull:
            return .unavailable(
                "the producer queue is full; retry after the indicated delay", retryAfterSeconds: config.retryAfterSeconds)
        case .timedOut:
            return .unavailable(
                "Kafka did not acknowledge within \(config.ackTimeout); nothing is promised for this request, retry it",
                retryAfterSeconds: config.retryAfterSeconds)
        default:
            return .unavailable("Kafka refused the write (\(error.codeName)); retry it", retryAfterSeconds: config.retryAfterSeconds)
        }
    }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, error: "too_large", detail: "the body exceeds \(limit) bytes; split it into smaller requests")
    }

    static func unsupportedMediaType(_ got: String?, expected: [String]) -> APIError {
        APIError(
            status: .unsupportedMediaType, error: "unsupported_media_type", field: "Content-Type",
            detail: "Content-Type \(got.map { "'\($0)'" } ?? "missing"); send \(expected.joined(separator: " or "))")
    }
}

/// Why a packet or batch was rejected: a stable code, the JSON path of the field at fault, a sentence, and the HTTP status.
///
/// Statuses: 400 for syntax (`empty_body`, `malformed_json`, `invalid_utf8`, `duplicate_key`, `too_deep`), 422 for
/// semantics (`missing_field`, `wrong_type`, `invalid_value`, `too_many_messages`, `too_large` for one message,
/// `empty_batch`), 413 for a body over ``PacketLimits/maxBodyBytes`` (`too_large`). When a body has both kinds of
/// problem, the syntax error is reported.
public struct ValidationError: Error, Sendable, Equatable {
    /// Stable machine code, e.g. `"malformed_json"`.
    public var error: String
    /// JSON path like `"messages[3].level"`; nil when the error is not about one field.
    public var field: String?
    /// A human sentence saying what to fix.
    public var detail: String
    /// The HTTP status to answer with.
    public var status: Int

    public init(error: String, field: String?, detail: String, status: Int) {
        self.error = error
        self.field = field
        self.detail = detail
        self.status = status
    }
}

extension ValidationError: CustomStringConvertible {
    public var description: String {
        if let field { return "\(error) at \(field): \(detail)" }
        return "\(error): \(detail)"
    }
}

extension ValidationError {
    static func bodyTooLarge(_ count: Int, limit: Int) -> ValidationError {
        ValidationError(
            error: "too_large", field: nil, detail: "the body is \(count) bytes; at most \(limit) are accepted",
            status: 413)
    }

    static let emptyBody = ValidationError(
        error: "empty_body", field: nil, detail: "the body is empty; send a packet as a JSON object", status: 400)

    static let emptyBatch = ValidationError(
        error: "empty_batch", field: nil, detail: "the batch holds no packets; send at least one", status: 422)
}

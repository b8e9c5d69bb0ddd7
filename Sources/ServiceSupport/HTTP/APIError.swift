import Foundation
import Hummingbird

/// The JSON error body of every logdist HTTP API: `{"error": …, "field": …, "detail": …}`.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// A stable machine-readable code, such as `malformed_json` or `unauthorized`.
    public var error: String
    /// The JSON path of the offending field, when the error is about one.
    public var field: String?
    /// A sentence saying what is wrong and what to do.
    public var detail: String
    /// Extra headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, error: String, field: String? = nil, detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.field = field
        self.detail = detail
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    /// The error as a response: its status, headers and JSON body.
    public var response: Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The body bytes.
    public var body: [UInt8] {
        var object: [String: String] = ["error": error, "detail": detail]
        if let field { object["field"] = field }
        return JSONBody.encode(object)
    }

    public static func unauthorized() -> APIError {
        APIError(
            status: .unauthorized, error: "unauthorized",
            detail: "send the token as 'Authorization: Bearer <token>'", headers: [.wwwAuthenticate: "Bearer"])
    }

    public static func unavailable(_ detail: String, retryAfterSeconds: Int) -> APIError {
        APIError(
            status: .serviceUnavailable, error: "unavailable", detail: detail,
            headers: [.retryAfter: "\(retryAfterSeconds)"])
    }
}

import Foundation
import Hummingbird

// The one encoder of every logdist JSON response: sorted keys, slashes unescaped, `application/json`. Errors use it
// through `APIError.response`; OTLP/HTTP answers in the encoding of its request (OTLPHTTPHandler).

/// How every response body is encoded.
public enum JSONBody {
    /// `value` as JSON: keys sorted (stable bodies to diff and test), slashes as they are; `{}` if it cannot encode.
    public static func encode(_ value: some Encodable, pretty: Bool = false) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }
}

/// A JSON response from an `Encodable` value.
public func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok, pretty: Bool = false) -> Response {
    jsonResponse(bytes: JSONBody.encode(value, pretty: pretty), status: status)
}

/// A JSON response from pre-encoded bytes.
public func jsonResponse(bytes: [UInt8], status: HTTPResponse.Status) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

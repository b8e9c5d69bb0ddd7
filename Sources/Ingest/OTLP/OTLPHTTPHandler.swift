import ServiceSupport
import Foundation
import GRPCCore
import GRPCProtobuf
import Hummingbird
import OTLPProto
import SwiftProtobuf

/// `POST /v1/logs`: OTLP/HTTP, as the OTLP specification defines it. The body is an `ExportLogsServiceRequest` in
/// binary protobuf (`application/x-protobuf`) or OTLP JSON (`application/json`), optionally gzip-compressed; the
/// answer is an `ExportLogsServiceResponse` in the same encoding — 200 once Kafka acknowledged every packet, with
/// `partial_success` when records were rejected — or a `google.rpc.Status` with 400, 413, 415, 429 or 503.
struct OTLPHTTPHandler: Sendable {
    let export: OTLPExport
    let handlers: IngestHandlers

    var config: IngestConfig { export.service.config }

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let response = await answer(request, context: context)
        export.metrics.request(.http, status: "\(response.status.code)")
        return response
    }

    private func answer(_ request: Request, context: some RequestContext) async -> Response {
        guard let encoding = Self.encoding(request.headers[.contentType]) else {
            return status(
                .unsupportedMediaType, code: .invalidArgument, encoding: .json,
                "Content-Type \(request.headers[.contentType].map { "'\($0)'" } ?? "missing"); "
                    + "send application/x-protobuf or application/json")
        }
        var body: [UInt8]
        do {
            body = try await handlers.collectBody(request, context: context)
        } catch let error as APIError {
            return status(error.status, code: error.status == .contentTooLarge ? .resourceExhausted : .deadlineExceeded, encoding: encoding, error.detail)
        } catch {
            return status(.badRequest, code: .invalidArgument, encoding: encoding, "the body could not be read: \(error)")
        }
        do throws(OTLPRequestDecoder.Failure) {
            switch request.headers[.contentEncoding]?.trimmed.lowercased() {
            case nil, "", "identity": break
            case "gzip": body = try OTLPRequestDecoder.gunzip(body, limit: config.otlp.maxInflatedBytes)
            case let other?:
                return status(
                    .unsupportedMediaType, code: .invalidArgument, encoding: encoding,
                    "Content-Encoding '\(other)' is not supported; send gzip or no encoding")
            }
            let decoded = try OTLPRequestDecoder.decode(body, as: encoding)
            switch await export.export(decoded, transport: .http) {
            case .accepted(let response, _):
                return success(response, encoding: encoding)
            case .unavailable(let busy, let detail):
                var answer = status(
                    busy ? .tooManyRequests : .serviceUnavailable, code: busy ? .resourceExhausted : .unavailable,
                    encoding: encoding, detail)
                answer.headers[.retryAfter] = "\(config.retryAfterSeconds)"
                return answer
            }
        } catch {
            export.service.metrics.rejected(error.kind == .tooLarge ? "too_large" : "malformed_otlp")
            return error.kind == .tooLarge
                ? status(.contentTooLarge, code: .resourceExhausted, encoding: encoding, error.detail)
                : status(.badRequest, code: .invalidArgument, encoding: encoding, error.detail)
        }
    }

    /// The encoding a `Content-Type` names (parameters such as `charset` ignored), or nil.
    static func encoding(_ header: String?) -> OTLPEncoding? {
        guard let header else { return nil }
        switch String(header.split(separator: ";", maxSplits: 1).first ?? "").trimmed.lowercased() {
        case "application/x-protobuf", "application/protobuf": return .protobuf
        case "application/json": return .json
        default: return nil
        }
    }

    private func success(_ message: OTLPExportLogsServiceResponse, encoding: OTLPEncoding) -> Response {
        let bytes: [UInt8]
        switch encoding {
        case .protobuf: bytes = (try? message.serializedBytes()) ?? []
        case .json: bytes = (try? message.jsonUTF8Bytes()) ?? Array("{}".utf8)
        }
        return Response(
            status: .ok, headers: [.contentType: encoding.contentType], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A failure as OTLP/HTTP sends it: a `google.rpc.Status` in the request's encoding.
    private func status(_ status: HTTPResponse.Status, code: RPCError.Code, encoding: OTLPEncoding, _ message: String) -> Response {
        let bytes: [UInt8]
        switch encoding {
        case .protobuf:
            bytes = (try? GoogleRPCStatus(code: code, message: message, details: []).serializedBytes()) ?? []
        case .json:
            var json = JSONBytes()
            json.raw("{\"code\":")
            json.integer(code.rawValue)
            json.raw(",\"message\":")
            json.string(message)
            json.raw("}")
            bytes = json.bytes
        }
        return Response(status: status, headers: [.contentType: encoding.contentType], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

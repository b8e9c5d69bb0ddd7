import CompressNIO
import Foundation
import NIOCore
import OTLPProto
import SwiftProtobuf

/// The two OTLP/HTTP encodings of a request body.
enum OTLPEncoding: Sendable {
    case protobuf
    case json

    var contentType: String { self == .protobuf ? "application/x-protobuf" : "application/json" }
}

/// Turns an OTLP request body (maybe gzip-compressed) into an `ExportLogsServiceRequest`.
enum OTLPRequestDecoder {
    struct Failure: Error, Equatable {
        enum Kind: Equatable { case malformed, tooLarge }
        var kind: Kind
        var detail: String
    }

    /// Inflates a gzip body, refusing one that would exceed `limit` bytes inflated (a gzip bomb).
    static func gunzip(_ body: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var buffer = ByteBuffer(bytes: body)
        do {
            let inflated = try buffer.decompress(with: .gzip(), maxSize: limit)
            return Array(inflated.readableBytesView)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw Failure(kind: .tooLarge, detail: "the body inflates to more than \(limit) bytes; send smaller requests")
        } catch {
            throw Failure(kind: .malformed, detail: "the body is not valid gzip (\(error))")
        }
    }

    static func decode(_ body: [UInt8], as encoding: OTLPEncoding) throws(Failure) -> OTLPExportLogsServiceRequest {
        do {
            switch encoding {
            case .protobuf:
                let request = try OTLPExportLogsServiceRequest(serializedBytes: body)
                try checkIDs(request)
                return request
            case .json:
                var options = JSONDecodingOptions()
                // OTLP/HTTP: "receivers MUST ignore unknown fields" in JSON, so new fields do not break old servers.
                options.ignoreUnknownFields = true
                var request = try OTLPExportLogsServiceRequest(jsonUTF8Bytes: body, options: options)
                fixHexIDs(&request)
                try checkIDs(request)
                return request
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(kind: .malformed, detail: "not an ExportLogsServiceRequest in \(encoding == .protobuf ? "protobuf" : "OTLP JSON"): \(error)")
        }
    }

    /// OTLP's JSON mapping writes trace and span ids as hex, where protobuf's JSON mapping reads base64. Hex digits
    /// are base64 digits, and 32 (16) of them fill exactly 24 (12) bytes, so the decoder read them without complaint:
    /// encoding those bytes back gives the hex text again, which is then read as hex. Base64-encoded ids (16 and 8
    /// bytes) are left as they are.
    static func fixHexIDs(_ request: inout OTLPExportLogsServiceRequest) {
        for r in request.resourceLogs.indices {
            for s in request.resourceLogs[r].scopeLogs.indices {
                for l in request.resourceLogs[r].scopeLogs[s].logRecords.indices {
                    let record = request.resourceLogs[r].scopeLogs[s].logRecords[l]
                    if record.traceID.count == 24, let hex = fromHex(record.traceID.base64EncodedString()) {
                        request.resourceLogs[r].scopeLogs[s].logRecords[l].traceID = hex
                    }
                    if record.spanID.count == 12, let hex = fromHex(record.spanID.base64EncodedString()) {
                        request.resourceLogs[r].scopeLogs[s].logRecords[l].spanID = hex
                    }
                }
            }
        }
    }

    /// A trace id is 16 bytes and a span id 8, or empty (OTLP): anything else is a malformed request.
    static func checkIDs(_ request: OTLPExportLogsServiceRequest) throws(Failure) {
        for resourceLogs in request.resourceLogs {
            for scopeLogs in resourceLogs.scopeLogs {
                for record in scopeLogs.logRecords {
                    guard record.traceID.isEmpty || record.traceID.count == 16 else {
                        throw Failure(kind: .malformed, detail: "a trace id is 16 bytes (32 hex digits in JSON), not \(record.traceID.count)")
                    }
                    guard record.spanID.isEmpty || record.spanID.count == 8 else {
                        throw Failure(kind: .malformed, detail: "a span id is 8 bytes (16 hex digits in JSON), not \(record.spanID.count)")
                    }
                }
            }
        }
    }

    static func fromHex(_ text: String) -> Data? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var data = Data(capacity: digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            data.append(high << 4 | low)
            index += 2
        }
        return data
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: return digit - 0x30
        case 0x41...0x46: return digit - 0x41 + 10
        case 0x61...0x66: return digit - 0x61 + 10
        default: return nil
        }
    }
}

import CompressNIO
import Foundation
import NIOCore
import OTLPProto
import Testing

@testable import Ingest

@Suite("OTLP request decoding")
struct OTLPDecoderTests {
    static let json = #"""
    {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
     "scopeLogs":[{"scope":{"name":"s"},"logRecords":[
       {"timeUnixNano":"1732400000123456789","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"boom"},
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","attributes":[{"key":"n","value":{"intValue":"7"}}],
        "futureField":{"x":1}},
       {"time_unix_nano":1732400000000000000,"severity_number":"SEVERITY_NUMBER_WARN","body":{"string_value":"snake"}}]}]}]}
    """#

    @Test("OTLP JSON: lowerCamelCase and the spec's names, enums as numbers or names, int64 as strings, hex ids, unknown fields ignored")
    func json() throws {
        let request = try OTLPRequestDecoder.decode(Array(Self.json.utf8), as: .json)
        let records = request.resourceLogs[0].scopeLogs[0].logRecords
        #expect(records.count == 2)
        #expect(records[0].timeUnixNano == 1_732_400_000_123_456_789)
        #expect(records[0].severityNumber == .error)
        #expect(records[0].traceID == OTLPRequestDecoder.fromHex("5b8efff798038103d269b633813fc60c"))
        #expect(records[0].spanID == OTLPRequestDecoder.fromHex("eee19b7ec3c1b174"))
        #expect(records[0].attributes[0].value.intValue == 7)
        #expect(records[1].severityNumber == .warn)
        #expect(records[1].body.stringValue == "snake")
    }

    @Test("binary protobuf round trip")
    func protobuf() throws {
        let request = OTLPFixtures.request(count: 5)
        let bytes: [UInt8] = try request.serializedBytes()
        #expect(try OTLPRequestDecoder.decode(bytes, as: .protobuf) == request)
    }

    @Test("malformed bodies are refused as malformed", arguments: [
        ("{", OTLPEncoding.json), ("[]", .json), (#"{"resourceLogs":5}"#, .json), ("\u{FF}\u{FF}\u{FF}", .protobuf),
    ])
    func malformed(body: String, encoding: OTLPEncoding) {
        #expect(throws: OTLPRequestDecoder.Failure.self) { try OTLPRequestDecoder.decode(Array(body.utf8), as: encoding) }
    }

    @Test("gzip: inflated within the limit; a bomb refused as too large; garbage as malformed")
    func gzip() throws {
        let plain = Array(repeating: UInt8(ascii: "a"), count: 100_000)
        var buffer = ByteBuffer(bytes: plain)
        let compressed = Array(try buffer.compress(with: .gzip()).readableBytesView)
        #expect(try OTLPRequestDecoder.gunzip(compressed, limit: 200_000) == plain)
        #expect(throws: OTLPRequestDecoder.Failure(kind: .tooLarge, detail: "the body inflates to more than 50000 bytes; send smaller requests")) {
            try OTLPRequestDecoder.gunzip(compressed, limit: 50_000)
        }
        #expect {
            try OTLPRequestDecoder.gunzip(Array("not gzip".utf8), limit: 1000)
        } throws: { ($0 as? OTLPRequestDecoder.Failure)?.kind == .malformed }
    }
}

import Foundation
import OTLPProto

/// A JSON text written byte by byte: what the OTLP mapping builds packets with (no Foundation encoder, no
/// intermediate values).
struct JSONBytes {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func append(_ other: JSONBytes) { bytes.append(contentsOf: other.bytes) }

    mutating func integer(_ value: some BinaryInteger) { bytes.append(contentsOf: String(value).utf8) }

    /// A JSON number, or a string for the values JSON cannot hold (NaN, ±Infinity), as OTLP's JSON mapping does.
    mutating func double(_ value: Double) {
        if value.isNaN {
            raw("\"NaN\"")
        } else if value.isInfinite {
            value < 0 ? raw("\"-Infinity\"") : raw("\"Infinity\"")
        } else if value == value.rounded(.towardZero), abs(value) < 1e15 {
            integer(Int64(value))
        } else {
            bytes.append(contentsOf: "\(value)".utf8)
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped; everything else as UTF-8.
    mutating func string(_ text: String) {
        bytes.append(0x22)
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                switch byte {
                case 0x22: raw("\\\"")
                case 0x5C: raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                default:
                    raw("\\u00")
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0F)])
                }
                start = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<utf8.count]))
        }
        bytes.append(0x22)
    }

    /// Lowercase hex of `data`, as a JSON string (trace and span ids, as OTLP's JSON mapping writes them).
    mutating func hexString(_ data: Data) {
        bytes.append(0x22)
        for byte in data {
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0F)])
        }
        bytes.append(0x22)
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// Why a value could not be written.
struct NestingTooDeep: Error {}

extension JSONBytes {
    /// An OTLP `AnyValue` as JSON: strings, booleans and numbers as themselves, arrays as arrays, key-value lists as
    /// objects (a repeated key keeps its first value, so the object has unique keys), bytes as base64, an empty
    /// value as null. `depth` is the depth of the value itself; deeper than `maxDepth` throws.
    mutating func anyValue(_ value: OTLPAnyValue, depth: Int, maxDepth: Int) throws(NestingTooDeep) {
        switch value.value {
        case .stringValue(let text): string(text)
        case .boolValue(let flag): flag ? raw("true") : raw("false")
        case .intValue(let number): integer(number)
        case .doubleValue(let number): double(number)
        case .bytesValue(let data): string(data.base64EncodedString())
        case .arrayValue(let array):
            guard depth <= maxDepth else { throw NestingTooDeep() }
            byte(0x5B)
            for (index, element) in array.values.enumerated() {
                if index > 0 { byte(0x2C) }
                try anyValue(element, depth: depth + 1, maxDepth: maxDepth)
            }
            byte(0x5D)
        case .kvlistValue(let list):
            try object(list.values, depth: depth, maxDepth: maxDepth)
        case nil: raw("null")
        }
    }

    /// Key-value pairs as a JSON object at `depth`; a repeated key keeps its first value.
    mutating func object(
        _ pairs: [OTLPKeyValue], depth: Int, maxDepth: Int, extra: (inout JSONBytes, inout Set<String>) -> Void = { _, _ in }
    ) throws(NestingTooDeep) {
        guard depth <= maxDepth else { throw NestingTooDeep() }
        byte(0x7B)
        var seen = Set<String>()
        for pair in pairs where seen.insert(pair.key).inserted {
            if seen.count > 1 { byte(0x2C) }
            string(pair.key)
            byte(0x3A)
            try anyValue(pair.value, depth: depth + 1, maxDepth: maxDepth)
        }
        extra(&self, &seen)
        byte(0x7D)
    }

    /// `,"key":` inside an object being written, or `"key":` as its first member.
    mutating func member(_ key: String, first: Bool) {
        if !first { byte(0x2C) }
        string(key)
        byte(0x3A)
    }
}

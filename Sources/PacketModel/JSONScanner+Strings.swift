/// A scanned string: the raw bytes between its quotes and the length of its unescaped UTF-8.
struct StringToken {
    var start: Int
    var end: Int
    /// Whether it holds a backslash escape; when not, the raw bytes are the value.
    var isEscaped: Bool
    /// UTF-8 bytes after unescaping.
    var length: Int
}

extension JSONScanner {
    /// Scans and validates the string at `pos` (which holds its opening quote).
    mutating func scanString() throws(ValidationError) -> StringToken {
        pos += 1
        let start = pos
        var index = pos
        var isEscaped = false
        // Escapes are the only place where raw and unescaped lengths differ; count what they save.
        var saved = 0
        while true {
            // Eight plain ASCII bytes at a time: most of a log line needs no attention.
            while index &+ 8 <= end, !Self.needsAttention(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index += 8
            }
            guard index < end else {
                pos = index
                throw unexpected("the closing '\"' of the string that starts at byte \(start - 1)")
            }
            let byte = bytes[index]
            if byte == JSONByte.quote {
                pos = index + 1
                return StringToken(start: start, end: index, isEscaped: isEscaped, length: index - start - saved)
            } else if byte == JSONByte.backslash {
                isEscaped = true
                let (next, decoded) = try scanEscape(at: index)
                saved += next - index - decoded
                index = next
            } else if byte < 0x20 {
                pos = index
                throw malformed("control character \(describe(byte)) at byte \(index) must be escaped in a string")
            } else if byte < 0x80 {
                index += 1
            } else {
                index = try utf8SequenceEnd(at: index)
            }
        }
    }

    /// Whether any of the eight bytes is a quote, a backslash, a control character or non-ASCII.
    @inline(__always) static func needsAttention(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(JSONByte.quote))
        let backslashes = word ^ (ones &* UInt64(JSONByte.backslash))
        let hasQuote = (quotes &- ones) & ~quotes
        let hasBackslash = (backslashes &- ones) & ~backslashes
        let hasControl = word &- ones &* 0x20
        return (hasQuote | hasBackslash | hasControl | word) & highs != 0
    }

    /// Validates the escape at `index` (a backslash); returns where it ends and how many UTF-8 bytes it stands for.
    private mutating func scanEscape(at index: Int) throws(ValidationError) -> (next: Int, decoded: Int) {
        guard index + 1 < end else {
            pos = index
            throw unexpected("an escape after '\\'")
        }
        switch bytes[index + 1] {
        case JSONByte.quote, JSONByte.backslash, JSONByte.slash, JSONByte.b, JSONByte.f, JSONByte.n, JSONByte.r,
            JSONByte.t:
            return (index + 2, 1)
        case JSONByte.u:
            guard let unit = hex4(at: index + 2) else {
                pos = index
                throw malformed("\\u at byte \(index) must be followed by four hex digits")
            }
            switch unit {
            case 0xD800..<0xDC00:
                guard index + 12 <= end, bytes[index + 6] == JSONByte.backslash, bytes[index + 7] == JSONByte.u,
                    let low = hex4(at: index + 8), (0xDC00..<0xE000).contains(low)
                else {
                    pos = index
                    throw malformed("high surrogate escape at byte \(index) is not followed by a low surrogate")
                }
                return (index + 12, 4)
            case 0xDC00..<0xE000:
                pos = index
                throw malformed("low surrogate escape at byte \(index) has no high surrogate before it")
            default:
                return (index + 6, unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3)
            }
        default:
            pos = index
            throw malformed("invalid escape '\\\(describeRaw(bytes[index + 1]))' at byte \(index)")
        }
    }

    /// The UTF-16 unit spelled by four hex digits at `index`, or nil.
    func hex4(at index: Int) -> UInt32? {
        guard index >= 0, index + 4 <= end else { return nil }
        var unit: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            unit = unit << 4 | UInt32(digit)
        }
        return unit
    }

    /// Validates the UTF-8 sequence starting at `index` (a byte ≥ 0x80); returns the index after it.
    private mutating func utf8SequenceEnd(at index: Int) throws(ValidationError) -> Int {
        let lead = bytes[index]
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        let continuations: Int
        switch lead {
        case 0xC2...0xDF: continuations = 1
        case 0xE0:
            continuations = 2
            low = 0xA0  // below is overlong
        case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
        case 0xED:
            continuations = 2
            high = 0x9F  // above is a UTF-16 surrogate
        case 0xF0:
            continuations = 3
            low = 0x90  // below is overlong
        case 0xF1...0xF3: continuations = 3
        case 0xF4:
            continuations = 3
            high = 0x8F  // above is past U+10FFFF
        default: throw invalidUTF8(at: index, "byte \(describe(lead)) cannot start a UTF-8 sequence")
        }
        guard index + continuations < end else {
            throw invalidUTF8(at: index, "the UTF-8 sequence is cut off by the end of the body")
        }
        let second = bytes[index + 1]
        guard second >= low, second <= high else {
            throw invalidUTF8(at: index, "byte \(describe(second)) cannot follow \(describe(lead))")
        }
        if continuations > 1 {
            for offset in 2...continuations where bytes[index + offset] & 0xC0 != 0x80 {
                throw invalidUTF8(at: index, "byte \(describe(bytes[index + offset])) is not a UTF-8 continuation")
            }
        }
        return index + continuations + 1
    }

    private mutating func invalidUTF8(at index: Int, _ why: String) -> ValidationError {
        pos = index
        return ValidationError(
            error: "invalid_utf8", field: fieldPath(), detail: "invalid UTF-8 at byte \(index): \(why)", status: 400)
    }

    // MARK: Unescaping

    /// The string's value; the token must come from ``scanString()`` on the same bytes.
    func makeString(_ token: StringToken) -> String {
        guard token.isEscaped else {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: token.length) { buffer in
            unescape(token, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Characters (Unicode scalars) of a validated string: its UTF-8 bytes that do not continue a sequence. Never
    /// more than `token.length`, so a caller checks a limit on `length` first and counts only past it.
    func characters(_ token: StringToken) -> Int {
        let continuation = { (byte: UInt8) in byte & 0xC0 == 0x80 }
        guard token.isEscaped else {
            return (token.start..<token.end).reduce(0) { $0 + (continuation(bytes[$1]) ? 0 : 1) }
        }
        return unescapedBytes(token).reduce(0) { $0 + (continuation($1) ? 0 : 1) }
    }

    /// The string's unescaped UTF-8 bytes.
    func unescapedBytes(_ token: StringToken) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: token.length) { buffer, count in
            count = unescape(token, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Writes the unescaped bytes of a validated string into `out`; returns how many it wrote (never more than fit).
    func unescape(_ token: StringToken, into out: UnsafeMutableRawBufferPointer) -> Int {
        var index = token.start
        var written = 0
        while index < token.end {
            var runEnd = index
            while runEnd < token.end, bytes[runEnd] != JSONByte.backslash { runEnd += 1 }
            let run = runEnd - index
            guard written + run <= out.count else { return written }
            if run > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[written..<written + run])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[index..<runEnd]))
                written += run
            }
            index = runEnd
            guard index + 1 < token.end else { return written }
            var scalar: UInt32
            switch bytes[index + 1] {
            case JSONByte.b: scalar = 0x08
            case JSONByte.f: scalar = 0x0C
            case JSONByte.n: scalar = 0x0A
            case JSONByte.r: scalar = 0x0D
            case JSONByte.t: scalar = 0x09
            case JSONByte.u:
                scalar = hex4(at: index + 2) ?? 0xFFFD
                index += 6
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= token.end, bytes[index] == JSONByte.backslash,
                    bytes[index + 1] == JSONByte.u,
                    let low = hex4(at: index + 2), (0xDC00..<0xE000).contains(low)
                {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xD800..<0xE000).contains(scalar) {
                    scalar = 0xFFFD  // unreachable after scanString, but never emit a surrogate
                }
                index -= 2  // the common step below
            default: scalar = UInt32(bytes[index + 1])  // '"', '\\' and '/' stand for themselves
            }
            index += 2
            guard let count = Self.encodeUTF8(scalar, into: out, at: written) else { return written }
            written += count
        }
        return written
    }

    /// Writes `scalar` as UTF-8 at `offset`; nil when it does not fit.
    private static func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int? {
        switch scalar {
        case 0..<0x80:
            guard offset + 1 <= out.count else { return nil }
            out[offset] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            guard offset + 2 <= out.count else { return nil }
            out[offset] = UInt8(0xC0 | scalar >> 6)
            out[offset + 1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            guard offset + 3 <= out.count else { return nil }
            out[offset] = UInt8(0xE0 | scalar >> 12)
            out[offset + 1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[offset + 2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            guard offset + 4 <= out.count, scalar < 0x110000 else { return nil }
            out[offset] = UInt8(0xF0 | scalar >> 18)
            out[offset + 1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[offset + 2] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[offset + 3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }
}

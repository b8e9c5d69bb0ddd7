/// A strict RFC 8259 scanner over raw bytes: validates as it goes and never builds a value it is not asked for.
///
/// Strings are checked for UTF-8 (no overlong forms, no encoded surrogates, nothing above U+10FFFF), escapes
/// (surrogate pairs must pair up) and raw control characters; numbers for the exact grammar; objects for duplicate
/// keys. Nesting is walked with an explicit stack (``path``), so no input can exhaust the call stack.
/// - Important: `bytes` must stay valid for the scanner's lifetime; the scanner never reads outside `0..<end`.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    let end: Int
    var pos = 0
    let maxDepth: Int
    /// Containers on the path that do not count towards the depth (the array around a batch).
    var depthBase = 0
    /// One entry per open container: the member or element being read. Doubles as the parse stack.
    var path: [PathSegment] = []
    /// Keys of all open objects, for duplicate detection; each object owns the tail from its `keysBase`.
    var keys: [StringToken] = []
    /// The first semantic (422) problem; reported only once the whole body is known to be well-formed.
    var problem: ValidationError?
    /// Whether the innermost object's next key is being read (so the path leaves out its previous key).
    var readingKey = false

    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.end = bytes.count
        self.maxDepth = maxDepth
        path.reserveCapacity(8)
        keys.reserveCapacity(32)
    }

    /// A scanner that takes over the stacks of an earlier one (emptied, capacity kept): no allocation.
    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int, reusing path: inout [PathSegment], _ keys: inout [StringToken]) {
        self.bytes = bytes
        self.end = bytes.count
        self.maxDepth = maxDepth
        path.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        swap(&self.path, &path)
        swap(&self.keys, &keys)
    }

    /// Hands the stacks back for the next scanner.
    mutating func release(into path: inout [PathSegment], _ keys: inout [StringToken]) {
        swap(&self.path, &path)
        swap(&self.keys, &keys)
    }

    // MARK: Whitespace and punctuation

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            switch bytes[pos] {
            case JSONByte.space, JSONByte.tab, JSONByte.newline, JSONByte.carriageReturn: pos += 1
            default: return
            }
        }
    }

    /// The byte at `pos`, or nil at the end.
    @inline(__always) var current: UInt8? { pos < end ? bytes[pos] : nil }

    /// Consumes `byte` (and the whitespace after it) when it is next.
    @inline(__always) mutating func consume(_ byte: UInt8) -> Bool {
        guard pos < end, bytes[pos] == byte else { return false }
        pos += 1
        skipWhitespace()
        return true
    }

    /// After an object member: true when a `,` (another member follows), false when the closing `}`.
    mutating func nextMember() throws(ValidationError) -> Bool {
        skipWhitespace()
        if consume(JSONByte.comma) { return true }
        if pos < end, bytes[pos] == JSONByte.closeBrace {
            pos += 1
            return false
        }
        throw unexpected("',' or '}' after an object member")
    }

    /// After an array element: true when a `,` (the next element's index is set), false when the closing `]`.
    mutating func nextElement() throws(ValidationError) -> Bool {
        skipWhitespace()
        if consume(JSONByte.comma) {
            path[path.count - 1].index += 1
            return true
        }
        if pos < end, bytes[pos] == JSONByte.closeBracket {
            pos += 1
            return false
        }
        throw unexpected("',' or ']' after an array element")
    }

    /// Requires that only whitespace is left.
    mutating func expectEnd() throws(ValidationError) {
        skipWhitespace()
        guard pos == end else {
            throw ValidationError(
                error: "malformed_json", field: nil,
                detail: "unexpected \(describe(bytes[pos])) at byte \(pos) after the end of the JSON value",
                status: 400)
        }
    }

    // MARK: Values

    /// Skips one complete value of any type at `pos` (whitespace before it already skipped), validating it all.
    mutating func skipValue() throws(ValidationError) {
        let floor = path.count
        value: while true {
            guard pos < end else { throw unexpected("a value") }
            switch bytes[pos] {
            case JSONByte.openBrace:
                try beginObject()
                if pos < end, bytes[pos] == JSONByte.closeBrace {
                    pos += 1
                    try endObject()
                } else {
                    _ = try readKey()
                    continue value
                }
            case JSONByte.openBracket:
                try beginArray()
                if pos < end, bytes[pos] == JSONByte.closeBracket {
                    pos += 1
                    path.removeLast()
                } else {
                    continue value
                }
            case JSONByte.quote: _ = try scanString()
            case JSONByte.minus, JSONByte.zero...JSONByte.nine: _ = try scanNumber()
            case JSONByte.t: try scanLiteral("true")
            case JSONByte.f: try scanLiteral("false")
            case JSONByte.n: try scanLiteral("null")
            default: throw unexpected("a value")
            }
            // A value ended: close every container that ends here, or step to the next member or element.
            while path.count > floor {
                if path[path.count - 1].isObject {
                    if try nextMember() {
                        _ = try readKey()
                        continue value
                    }
                    try endObject()
                } else {
                    if try nextElement() { continue value }
                    path.removeLast()
                }
            }
            return
        }
    }

    /// Scans `null` when it is next; false (nothing consumed) for anything else.
    mutating func scanNull() throws(ValidationError) -> Bool {
        guard pos < end, bytes[pos] == JSONByte.n else { return false }
        try scanLiteral("null")
        return true
    }

    mutating func scanLiteral(_ literal: StaticString) throws(ValidationError) {
        let count = literal.utf8CodeUnitCount
        guard end - pos >= count else { throw unexpected("a value") }
        let text = literal.utf8Start
        for offset in 0..<count where bytes[pos + offset] != text[offset] {
            pos += offset
            throw unexpected("'\(literal)'")
        }
        pos += count
    }

    /// Scans a number at `pos`; its value when it is an integer that fits `Int64`.
    /// Scans a number. Its value is exact when it is an integer — as JSON Schema counts integers: any number with
    /// no fractional part, so `1.0`, `1e3` and `15.0e2` are integers too — and fits in 64 bits.
    mutating func scanNumber() throws(ValidationError) -> NumberToken {
        var token = NumberToken()
        if bytes[pos] == JSONByte.minus {
            token.isNegative = true
            pos += 1
        }
        guard pos < end, isDigit(bytes[pos]) else { throw unexpected("a digit") }
        // The digits, integer and fraction part together, without their trailing zeros (counted apart, so a long
        // run of zeros never overflows): value = digits × 10^(exponent − fraction digits + trailing zeros).
        var digits = DecimalDigits()
        if bytes[pos] == JSONByte.zero {
            pos += 1
            if pos < end, isDigit(bytes[pos]) {
                throw malformed("a number must not have leading zeros (byte \(pos))")
            }
        } else {
            while pos < end, isDigit(bytes[pos]) {
                digits.append(bytes[pos] &- JSONByte.zero)
                pos += 1
            }
        }
        var scale = 0
        if pos < end, bytes[pos] == JSONByte.dot {
            pos += 1
            guard pos < end, isDigit(bytes[pos]) else { throw unexpected("a digit after '.'") }
            while pos < end, isDigit(bytes[pos]) {
                digits.append(bytes[pos] &- JSONByte.zero)
                scale -= 1
                pos += 1
            }
        }
        if pos < end, bytes[pos] | 0x20 == JSONByte.e {
            pos += 1
            var negative = false
            if pos < end, bytes[pos] == JSONByte.plus || bytes[pos] == JSONByte.minus {
                negative = bytes[pos] == JSONByte.minus
                pos += 1
            }
            guard pos < end, isDigit(bytes[pos]) else { throw unexpected("a digit in the exponent") }
            var exponent = 0
            while pos < end, isDigit(bytes[pos]) {
                // Far past any 64-bit value either way: stop counting, keep scanning.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(bytes[pos] &- JSONByte.zero) }
                pos += 1
            }
            scale += negative ? -exponent : exponent
        }
        (token.isInteger, token.overflows, token.value) = digits.integer(scale: scale)
        return token
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte &- JSONByte.zero < 10 }
}

/// A scanned number: whether it is an integer (no fraction, no exponent) and its value when that fits `Int64`.
struct NumberToken {
    /// No fractional part (see `scanNumber`).
    var isInteger = true
    var isNegative = false
    /// An integer too large for `Int64`.
    var overflows = false
    /// The magnitude, when an integer that fits.
    var value: Int64 = 0
}

/// A number's decimal digits as they are scanned, without trailing zeros.
struct DecimalDigits {
    private var magnitude: UInt64 = 0
    /// Zeros seen after the last non-zero digit.
    private var trailingZeros = 0
    private var overflows = false

    mutating func append(_ digit: UInt8) {
        guard digit != 0 else {
            trailingZeros += 1
            return
        }
        if magnitude == 0 { trailingZeros = 0 }
        for _ in 0..<(trailingZeros + 1) where !overflows {
            let (times10, o) = magnitude.multipliedReportingOverflow(by: 10)
            if o { overflows = true } else { magnitude = times10 }
        }
        trailingZeros = 0
        let (sum, o) = magnitude.addingReportingOverflow(UInt64(digit))
        if o { overflows = true } else { magnitude = sum }
    }

    /// Whether digits × 10^scale is an integer, whether it overflows `Int64`, and its magnitude when it fits.
    func integer(scale: Int) -> (isInteger: Bool, overflows: Bool, value: Int64) {
        if magnitude == 0, !overflows { return (true, false, 0) }
        let exponent = scale + trailingZeros
        // The last kept digit is not a zero, so a negative exponent leaves a fraction.
        guard exponent >= 0 else { return (false, false, 0) }
        var value = magnitude
        var big = overflows || exponent > 19
        if !big {
            for _ in 0..<exponent where !big {
                let (times10, o) = value.multipliedReportingOverflow(by: 10)
                if o { big = true } else { value = times10 }
            }
        }
        if big || value > UInt64(Int64.max) { return (true, true, 0) }
        return (true, false, Int64(value))
    }
}

/// The JSON bytes the scanner looks for.
enum JSONByte {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let b: UInt8 = 0x62
    static let e: UInt8 = 0x65
    static let f: UInt8 = 0x66
    static let n: UInt8 = 0x6E
    static let r: UInt8 = 0x72
    static let t: UInt8 = 0x74
    static let u: UInt8 = 0x75
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
}

/// Turns a log message into its template by masking the parts that vary between otherwise identical lines.
///
/// One pass over the UTF-8 bytes; at every word start (the previous byte is not an ASCII letter, digit or
/// non-ASCII byte) it tries, in order:
///
/// | what | example | becomes |
/// | --- | --- | --- |
/// | UUID (8-4-4-4-12 hex) | `550e8400-e29b-41d4-a716-446655440000` | `<uuid>` |
/// | IPv4, optional `:port` | `10.0.0.1`, `10.0.0.1:8080` | `<ip>` |
/// | IPv6 (8 groups, or one `::`), optional `[…]:port` | `fe80::1`, `[::1]:443` | `<ip>` |
/// | MAC address | `00:1a:2b:3c:4d:5e` | `<hex>` |
/// | `0x` + hex | `0x7fff`, `0XDEAD` | `<hex>` |
/// | word of ≥ 8 hex chars, with a digit and a letter a–f | `deadbeef42`, `4BF92F35` | `<hex>` |
/// | digits, decimals, dotted runs, leading `-` | `42`, `-3.5`, `1.2.3` | `<num>` |
/// | digits starting a word (a unit) | `12ms`, `3.5GB`, `1h30m` | `<num>ms`, `<num>GB`, `<num>h<num>m` |
/// | word with more digits than letters | `req12345`, `x86` | `req<num>`, `x<num>` |
/// | word with as many letters as digits or more | `user42`, `v2`, `sha256`, `utf8` | unchanged |
///
/// Any other ASCII byte (`_`, `-`, `.`, `:`, `/`, `=`, space…) separates words, so `worker_17`, `worker-17` and
/// `worker.17` become `worker_<num>`, `worker-<num>`, `worker.<num>`, while `worker17` is one word and stays.
/// A `.` between two digits stays inside a word; a `-` is a sign only when it starts a word.
///
/// An address must not continue a run of hex and colons (`1:2:3:4:5:6:7:8:9` is not an address ending in 9).
/// Every masked part contains an ASCII digit, so a message without digits is returned as is, without copying.
public enum TemplateMasker {
    public static func mask(_ message: String) -> String {
        var message = message
        let masked = message.withUTF8 { bytes -> String? in
            guard let base = bytes.baseAddress, bytes.contains(where: isDigit) else { return nil }
            let n = bytes.count
            // The largest expansion is one digit to "<num>".
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n * 5 + 8) { out in
                var writer = MaskerOutput(out: out.baseAddress!)
                maskBytes(MaskerInput(p: base, n: n), into: &writer)
                return String(
                    decoding: UnsafeBufferPointer(start: out.baseAddress!, count: writer.count), as: UTF8.self)
            }
        }
        return masked ?? message
    }

    private static func maskBytes(_ s: MaskerInput, into w: inout MaskerOutput) {
        var i = 0
        var pending = 0  // start of the verbatim run not yet copied
        @inline(__always) func emit(_ placeholder: StaticString, from start: Int, to end: Int) {
            w.copy(s.p + pending, pending < start ? start - pending : 0)
            w.copy(placeholder.utf8Start, placeholder.utf8CodeUnitCount)
            pending = end
        }
        while i < s.n {
            let b = s.p[i]
            if i > 0 && isWord(s.p[i - 1]) {
                i += 1
                continue
            }
            if let (end, placeholder) = entity(s, at: i) {
                emit(placeholder, from: i, to: end)
                i = end
                continue
            }
            let signed = b == UInt8(ascii: "-") && isDigit(s.at(i + 1))
            if signed && entity(s, at: i + 1) != nil {
                i += 1  // "-10.0.0.1" is a dash before an address, not a negative number
                continue
            }
            if isWord(b) || signed {
                let start = signed ? i + 1 : i
                let end = s.wordEnd(from: start)
                switch classify(s, start, end) {
                case .verbatim:
                    break
                case .hex:
                    emit("<hex>", from: start, to: end)
                case .number:
                    emit("<num>", from: i, to: end)  // takes the sign
                case .mixed:
                    w.copy(s.p + pending, i - pending)
                    pending = end
                    w.maskDigitRuns(s, start, end)
                }
                i = end
                continue
            }
            i += 1
        }
        w.copy(s.p + pending, s.n - pending)
    }

    // MARK: Entities tried at a word start

    private static func entity(_ s: MaskerInput, at i: Int) -> (end: Int, placeholder: StaticString)? {
        let b = s.p[i]
        if b == UInt8(ascii: "[") {
            guard let e = ipv6(s, i + 1), s.at(e) == UInt8(ascii: "]") else { return nil }
            return (withPort(s, e + 1), "<ip>")
        }
        guard isHex(b) || b == UInt8(ascii: ":") else { return nil }
        if s.at(i + 8) == UInt8(ascii: "-"), let e = uuid(s, i) { return (e, "<uuid>") }
        if isDigit(b), let e = ipv4(s, i) { return (withPort(s, e), "<ip>") }
        var k = i - 1
        while k >= 0 && s.p[k] == UInt8(ascii: ":") { k -= 1 }
        if k < i - 1 && k >= 0 && isHex(s.p[k]) { return nil }  // inside a longer hex:colon run
        if s.at(i + 2) == UInt8(ascii: ":"), let e = mac(s, i) { return (e, "<hex>") }
        if let e = ipv6(s, i) { return (e, "<ip>") }
        return nil
    }

    private static func uuid(_ s: MaskerInput, _ i: Int) -> Int? {
        guard i + 36 <= s.n, !isWord(s.at(i + 36)) else { return nil }
        var digit = false
        for k in 0..<36 {
            let c = s.p[i + k]
            if k == 8 || k == 13 || k == 18 || k == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
            } else {
                guard isHex(c) else { return nil }
                digit = digit || isDigit(c)
            }
        }
        return digit ? i + 36 : nil
    }

    private static func mac(_ s: MaskerInput, _ i: Int) -> Int? {
        guard i + 17 <= s.n else { return nil }
        var digit = false
        for g in 0..<6 {
            let a = s.p[i + 3 * g]
            let b = s.p[i + 3 * g + 1]
            guard isHex(a), isHex(b), g == 5 || s.p[i + 3 * g + 2] == UInt8(ascii: ":") else { return nil }
            digit = digit || isDigit(a) || isDigit(b)
        }
        let next = s.at(i + 17)
        return digit && !isWord(next) && next != UInt8(ascii: ":") ? i + 17 : nil
    }

    /// Four dotted octets ≤ 255; returns the end, not including any port.
    private static func ipv4(_ s: MaskerInput, _ i: Int) -> Int? {
        var j = i
        for octet in 0..<4 {
            if octet > 0 {
                guard s.at(j) == UInt8(ascii: "."), isDigit(s.at(j + 1)) else { return nil }
                j += 1
            }
            var value = 0
            let start = j
            while j - start < 4, isDigit(s.at(j)) {
                value = value * 10 + Int(s.p[j] &- 0x30)
                j += 1
            }
            guard j - start <= 3, value <= 255 else { return nil }
        }
        return s.endsWord(at: j) ? j : nil
    }

    private static func withPort(_ s: MaskerInput, _ end: Int) -> Int {
        guard s.at(end) == UInt8(ascii: ":") else { return end }
        var j = end + 1
        var port = 0
        while j - end <= 6, isDigit(s.at(j)) {
            port = port * 10 + Int(s.p[j] &- 0x30)
            j += 1
        }
        return (2...6).contains(j - end) && port <= 65535 && s.endsWord(at: j) ? j : end
    }

    /// Hex groups of 1–4 separated by `:`: exactly 8 groups, or at most 7 with one `::`; an IPv4 tail counts as
    /// two groups. Must contain a decimal digit.
    private static func ipv6(_ s: MaskerInput, _ i: Int) -> Int? {
        var j = i
        var groups = 0
        var compressed = false
        var digit = false
        if s.at(j) == UInt8(ascii: ":") {
            guard s.at(j + 1) == UInt8(ascii: ":") else { return nil }
            compressed = true
            j += 2
        }
        while true {
            let start = j
            var allDigits = true
            while j - start < 5, isHex(s.at(j)) {
                allDigits = allDigits && isDigit(s.p[j])
                j += 1
            }
            let len = j - start
            if len == 0 { break }  // only after "::"
            guard len <= 4 else { return nil }
            if allDigits && s.at(j) == UInt8(ascii: "."), groups <= 6, let e = ipv4(s, start) {
                groups += 2
                digit = true
                j = e
                break
            }
            groups += 1
            if !digit { digit = allDigits || s.hasDigit(start, j) }
            guard s.at(j) == UInt8(ascii: ":") else { break }
            if s.at(j + 1) == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                j += 2
            } else if isHex(s.at(j + 1)) {
                j += 1
            } else {
                break  // a trailing single ':' is not ours
            }
            guard groups < 8 else { return nil }
        }
        guard digit, compressed ? groups <= 7 : groups == 8, s.endsWord(at: j) else { return nil }
        return j
    }

    // MARK: Words

    private enum WordKind { case verbatim, hex, number, mixed }

    private static func classify(_ s: MaskerInput, _ start: Int, _ end: Int) -> WordKind {
        var letters = 0
        var digits = 0
        var hexLetters = 0
        var dotted = false
        for k in start..<end {
            let c = s.p[k]
            if isDigit(c) {
                digits += 1
            } else if c == UInt8(ascii: ".") {
                dotted = true
            } else {
                letters += 1
                if isHex(c) { hexLetters += 1 }
            }
        }
        if digits == 0 { return .verbatim }
        if !dotted {
            let len = end - start
            if len >= 3, s.p[start] == UInt8(ascii: "0"), s.p[start + 1] | 0x20 == UInt8(ascii: "x"),
                letters - 1 == hexLetters
            {
                return .hex
            }
            if len >= 8, hexLetters > 0, hexLetters == letters { return .hex }
        }
        if letters == 0 { return .number }
        return isDigit(s.p[start]) || digits > letters ? .mixed : .verbatim
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 0x61 < 6 }
    /// ASCII letters, digits and every byte of a non-ASCII character.
    @inline(__always) static func isWord(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 0x61 < 26 || b >= 0x80 }
}

/// One open container on the scanner's path: the member or element being read.
struct PathSegment {
    var isObject: Bool
    /// Array: the current element's index.
    var index = 0
    /// Object: the current member's key (nil before the first).
    var key: StringToken?
    /// Object: where its keys begin in ``JSONScanner/keys``.
    var keysBase: Int

    init(isObject: Bool, keysBase: Int) {
        self.isObject = isObject
        self.keysBase = keysBase
    }
}

extension JSONScanner {
    /// Objects up to this many keys are checked for duplicates as each key arrives; bigger ones are sorted on close.
    static var linearKeyLimit: Int { 16 }

    /// Opens an object at `pos` and skips the whitespace after `{`.
    mutating func beginObject() throws(ValidationError) {
        try checkDepth()
        path.append(PathSegment(isObject: true, keysBase: keys.count))
        pos += 1
        skipWhitespace()
    }

    /// Opens an array at `pos` and skips the whitespace after `[`.
    mutating func beginArray() throws(ValidationError) {
        try checkDepth()
        path.append(PathSegment(isObject: false, keysBase: keys.count))
        pos += 1
        skipWhitespace()
    }

    private func checkDepth() throws(ValidationError) {
        guard path.count - depthBase < maxDepth else {
            throw ValidationError(
                error: "too_deep", field: fieldPath(),
                detail: "values nest deeper than \(maxDepth) levels (byte \(pos)); flatten the structure", status: 400)
        }
    }

    /// Closes the innermost object (its `}` already consumed), checking big objects for duplicate keys.
    mutating func endObject() throws(ValidationError) {
        let base = path[path.count - 1].keysBase
        if keys.count - base > Self.linearKeyLimit {
            try checkDuplicatesBySorting(keys[base...])
        }
        keys.removeSubrange(base...)
        path.removeLast()
    }

    /// Sorts by (hash, length) so equal keys sit together: O(n log n) however many keys an attacker sends.
    private mutating func checkDuplicatesBySorting(_ keys: ArraySlice<StringToken>) throws(ValidationError) {
        let sorted = keys.map { (hash: keyHash($0), token: $0) }.sorted {
            ($0.hash, $0.token.length) < ($1.hash, $1.token.length)
        }
        for index in sorted.indices.dropFirst() {
            var other = index - 1
            while other >= 0, sorted[other].hash == sorted[index].hash,
                sorted[other].token.length == sorted[index].token.length
            {
                if sameKey(sorted[other].token, sorted[index].token) {
                    path[path.count - 1].key = sorted[index].token
                    throw duplicateKey(sorted[index].token)
                }
                other -= 1
            }
        }
    }

    /// Reads a member's key at `pos`, its colon, and the whitespace before the value; the key joins the path.
    mutating func readKey() throws(ValidationError) -> StringToken {
        // An error in or before the key is about the object, not its previous member.
        readingKey = true
        guard pos < end, bytes[pos] == JSONByte.quote else { throw unexpected("a '\"' to start a key") }
        let token = try scanString()
        readingKey = false
        let top = path.count - 1
        let base = path[top].keysBase
        path[top].key = token
        if keys.count - base < Self.linearKeyLimit {
            // Known keys mostly differ in length, so this rarely compares a byte.
            for index in base..<keys.count where keys[index].length == token.length && sameKey(keys[index], token) {
                throw duplicateKey(token)
            }
        }
        keys.append(token)
        skipWhitespace()
        guard pos < end, bytes[pos] == JSONByte.colon else { throw unexpected("':' after a key") }
        pos += 1
        skipWhitespace()
        return token
    }

    /// Whether the key's unescaped bytes are exactly `literal`.
    func key(_ token: StringToken, is literal: StaticString) -> Bool {
        guard token.length == literal.utf8CodeUnitCount else { return false }
        let text = literal.utf8Start
        if token.isEscaped {
            return unescapedBytes(token).elementsEqual(UnsafeBufferPointer(start: text, count: token.length))
        }
        for offset in 0..<token.length where bytes[token.start + offset] != text[offset] { return false }
        return true
    }

    private func sameKey(_ a: StringToken, _ b: StringToken) -> Bool {
        guard a.length == b.length else { return false }
        if !a.isEscaped, !b.isEscaped {
            var offset = 0
            while offset &+ 8 <= a.length {
                guard
                    bytes.loadUnaligned(fromByteOffset: a.start + offset, as: UInt64.self)
                        == bytes.loadUnaligned(fromByteOffset: b.start + offset, as: UInt64.self)
                else { return false }
                offset += 8
            }
            while offset < a.length {
                guard bytes[a.start + offset] == bytes[b.start + offset] else { return false }
                offset += 1
            }
            return true
        }
        return unescapedBytes(a) == unescapedBytes(b)
    }

    /// FNV-1a of the unescaped bytes.
    private func keyHash(_ token: StringToken) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        if token.isEscaped {
            for byte in unescapedBytes(token) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        } else {
            for index in token.start..<token.end { hash = (hash ^ UInt64(bytes[index])) &* 0x100_0000_01b3 }
        }
        return hash
    }

    private func duplicateKey(_ token: StringToken) -> ValidationError {
        ValidationError(
            error: "duplicate_key", field: fieldPath(),
            detail: "key \"\(makeString(token))\" appears more than once in the same object; keep one", status: 400)
    }

    // MARK: Paths and errors

    /// The path being read, like `messages[3].attributes.k`; nil at the top level. `member` is appended as a key.
    func fieldPath(appending member: String? = nil, droppingLast drop: Int = 0) -> String? {
        var text = ""
        for (depth, segment) in path.dropLast(drop).enumerated() {
            if segment.isObject {
                guard let key = segment.key, !(readingKey && depth == path.count - 1) else { continue }
                if !text.isEmpty { text += "." }
                text += makeString(key)
            } else {
                text += "[\(segment.index)]"
            }
        }
        if let member { text += text.isEmpty ? member : "." + member }
        return text.isEmpty ? nil : text
    }

    /// Records a semantic problem (422) at the current path unless an earlier one was recorded.
    mutating func note(
        _ error: String, _ detail: @autoclosure () -> String, member: String? = nil, droppingLast drop: Int = 0
    ) {
        guard problem == nil else { return }  // the detail is only built for the one problem reported
        problem = ValidationError(
            error: error, field: fieldPath(appending: member, droppingLast: drop), detail: detail(), status: 422)
    }

    func malformed(_ detail: String) -> ValidationError {
        ValidationError(error: "malformed_json", field: fieldPath(), detail: detail, status: 400)
    }

    /// Malformed JSON: something other than `expected` at `pos`.
    func unexpected(_ expected: String) -> ValidationError {
        guard pos < end else { return malformed("the body ends where \(expected) was expected") }
        return malformed("expected \(expected) at byte \(pos), found \(describe(bytes[pos]))")
    }

    func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(describeRaw(byte))'" : "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    func describeRaw(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16, uppercase: true)
    }
}

/// How much of a packet a scan builds.
enum PacketScanMode {
    /// Validates only; the id is found as a token (``ScannedPacket/idToken``), no string is built.
    case shape
    /// Validates and builds the id and source strings.
    case summary
    /// Also builds every message, texts unescaped.
    case decode
}

/// What one pass over a packet found; `messages` stays empty unless decoding, `id` and `source` unless summarizing.
struct ScannedPacket {
    var id = ""
    /// Where the id's string is in the scanned bytes (when valid).
    var idToken: StringToken?
    var timestamp: Int64?
    var source: String?
    var messageCount = 0
    var messages: [LogMessage] = []
}

extension JSONScanner {
    /// Scans a whole packet body, building what `mode` asks for.
    ///
    /// Syntax errors throw at once; the first semantic problem is held until the body is known to be well-formed,
    /// so a body with both gets the 400.
    mutating func scanPacket(limits: PacketLimits, mode: PacketScanMode) throws(ValidationError) -> ScannedPacket {
        let decode = mode == .decode
        skipWhitespace()
        guard pos < end else { throw .emptyBody }
        guard bytes[pos] == JSONByte.openBrace else {
            try skipValue()
            try expectEnd()
            throw ValidationError(error: "wrong_type", field: nil, detail: "a packet is a JSON object", status: 422)
        }
        var packet = ScannedPacket()
        var hasID = false
        var hasMessages = false
        try beginObject()
        if !consume(JSONByte.closeBrace) {
            repeat {
                let key = try readKey()
                switch key.length {
                case 2 where self.key(key, is: "id"):
                    hasID = true
                    packet.idToken = try scanID(limits: limits)
                    if mode != .shape, let token = packet.idToken { packet.id = makeString(token) }
                case 9 where self.key(key, is: "timestamp"):
                    packet.timestamp = try scanTimestamp()
                case 6 where self.key(key, is: "source"):
                    packet.source = try scanOptionalString(build: mode != .shape)
                case 8 where self.key(key, is: "messages"):
                    hasMessages = true
                    try scanMessages(into: &packet, limits: limits, decode: decode)
                default:
                    try skipValue()
                }
            } while try nextMember()
        }
        try endObject()
        if !hasID {
            note("missing_field", "a packet needs an \"id\": a string of 1 to \(limits.maxIDLength) characters", member: "id")
        }
        if !hasMessages {
            note("missing_field", "a packet needs \"messages\": an array of message objects", member: "messages")
        }
        try expectEnd()
        if let problem { throw problem }
        return packet
    }

    private mutating func scanID(limits: PacketLimits) throws(ValidationError) -> StringToken? {
        guard current == JSONByte.quote else {
            note("wrong_type", "\"id\" must be a string of 1 to \(limits.maxIDLength) characters")
            try skipValue()
            return nil
        }
        let token = try scanString()
        if token.length == 0 {
            note("invalid_value", "\"id\" must not be empty")
        } else if token.length > limits.maxIDLength {
            let count = characters(token)
            if count > limits.maxIDLength {
                note("invalid_value", "\"id\" is \(count) characters; at most \(limits.maxIDLength) are allowed")
                return nil
            }
        }
        return token
    }

    /// An optional epoch-milliseconds timestamp: a non-negative integer that fits 64 bits, or null.
    private mutating func scanTimestamp() throws(ValidationError) -> Int64? {
        if try scanNull() { return nil }
        guard let byte = current, byte == JSONByte.minus || isDigit(byte) else {
            note("wrong_type", "\"timestamp\" must be an integer: epoch milliseconds")
            try skipValue()
            return nil
        }
        let number = try scanNumber()
        if !number.isInteger {
            note("wrong_type", "\"timestamp\" must be an integer number of epoch milliseconds (no fractional part)")
        } else if number.overflows {
            note("invalid_value", "\"timestamp\" is too large for epoch milliseconds")
        } else if number.isNegative && number.value != 0 {
            note("invalid_value", "\"timestamp\" must not be negative")
        } else {
            return number.value
        }
        return nil
    }

    /// A string or null; the string is built only when `build` (and then returned), else validated and "".
    private mutating func scanOptionalString(build: Bool) throws(ValidationError) -> String? {
        if try scanNull() { return nil }
        guard current == JSONByte.quote else {
            note("wrong_type", "must be a string")
            try skipValue()
            return nil
        }
        let token = try scanString()
        return build ? makeString(token) : ""
    }

    private mutating func scanMessages(
        into packet: inout ScannedPacket, limits: PacketLimits, decode: Bool
    ) throws(ValidationError) {
        guard current == JSONByte.openBracket else {
            note("wrong_type", "\"messages\" must be an array of message objects")
            try skipValue()
            return
        }
        try beginArray()
        if consume(JSONByte.closeBracket) {
            path.removeLast()
            note("invalid_value", "\"messages\" must hold at least one message")
            return
        }
        var count = 0
        repeat {
            count += 1
            if count > limits.maxMessages {
                note("too_many_messages", "a packet holds at most \(limits.maxMessages) messages", droppingLast: 1)
            }
            if current == JSONByte.openBrace {
                let message = try scanMessage(limits: limits, decode: decode)
                if decode, problem == nil { packet.messages.append(message) }
            } else {
                note("wrong_type", "each message must be a JSON object")
                try skipValue()
            }
        } while try nextElement()
        path.removeLast()
        packet.messageCount = count
    }

    private mutating func scanMessage(limits: PacketLimits, decode: Bool) throws(ValidationError) -> LogMessage {
        var message = LogMessage(level: .info, message: "")
        var hasLevel = false
        var hasText = false
        try beginObject()
        if !consume(JSONByte.closeBrace) {
            repeat {
                let key = try readKey()
                switch key.length {
                case 5 where self.key(key, is: "level"):
                    hasLevel = true
                    message.level = try scanLevel() ?? .info
                case 7 where self.key(key, is: "message"):
                    hasText = true
                    message.message = try scanText(limits: limits, decode: decode)
                case 9 where self.key(key, is: "timestamp"):
                    message.timestamp = try scanTimestamp()
                case 10 where self.key(key, is: "attributes"):
                    message.attributeCount = try scanAttributes()
                default:
                    try skipValue()
                }
            } while try nextMember()
        }
        try endObject()
        if !hasLevel { note("missing_field", "a message needs a \"level\": \(Self.levelNames)", member: "level") }
        if !hasText { note("missing_field", "a message needs a \"message\" string", member: "message") }
        return message
    }

    private static var levelNames: String { "one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL" }

    private mutating func scanLevel() throws(ValidationError) -> LogLevel? {
        guard current == JSONByte.quote else {
            note("wrong_type", "\"level\" must be a string, \(Self.levelNames)")
            try skipValue()
            return nil
        }
        let token = try scanString()
        let level =
            token.isEscaped
            ? LogLevel(caseInsensitive: unescapedBytes(token))
            : LogLevel(caseInsensitive: bytes[token.start..<token.end])
        if level == nil { note("invalid_value", "\"level\" must be \(Self.levelNames) (any letter case)") }
        return level
    }

    private mutating func scanText(limits: PacketLimits, decode: Bool) throws(ValidationError) -> String {
        guard current == JSONByte.quote else {
            note("wrong_type", "\"message\" must be a string")
            try skipValue()
            return ""
        }
        let token = try scanString()
        if token.length > limits.maxMessageLength {
            let count = characters(token)
            if count > limits.maxMessageLength {
                note("too_large", "\"message\" is \(count) characters; at most \(limits.maxMessageLength) are allowed")
                return ""
            }
        }
        return decode ? makeString(token) : ""
    }

    /// An optional object of any values; returns its member count.
    private mutating func scanAttributes() throws(ValidationError) -> Int {
        if try scanNull() { return 0 }
        guard current == JSONByte.openBrace else {
            note("wrong_type", "\"attributes\" must be an object")
            try skipValue()
            return 0
        }
        try beginObject()
        var count = 0
        if !consume(JSONByte.closeBrace) {
            repeat {
                _ = try readKey()
                try skipValue()
                count += 1
            } while try nextMember()
        }
        try endObject()
        return count
    }
}

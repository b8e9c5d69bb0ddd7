/// Validates and decodes packets (see DESIGN.md, "Wire format"), and splits batch bodies into packets.
///
/// A strict byte-level JSON scanner underneath: no Foundation, no intermediate values, no recursion, and no trap on
/// any input. Unknown fields are validated as JSON and otherwise ignored, since the pipeline forwards the bytes.
public enum PacketValidator {
    /// Validates one packet's bytes without building a string per message: the ingest hot path.
    public static func validate(
        _ bytes: UnsafeRawBufferPointer, limits: PacketLimits
    ) throws(ValidationError) -> PacketSummary {
        guard bytes.count <= limits.maxBodyBytes else { throw .bodyTooLarge(bytes.count, limit: limits.maxBodyBytes) }
        var scanner = JSONScanner(bytes, maxDepth: limits.maxDepth)
        let packet = try scanner.scanPacket(limits: limits, decode: false)
        return PacketSummary(
            id: packet.id, messageCount: packet.messageCount, timestamp: packet.timestamp, source: packet.source)
    }

    public static func validate(_ bytes: [UInt8], limits: PacketLimits) throws(ValidationError) -> PacketSummary {
        // `withUnsafeBytes` rethrows untyped errors, so the typed error travels out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(ValidationError) in try validate(raw, limits: limits) } }
            .get()
    }

    /// Fully decodes one packet, message texts unescaped, for the analyser; same rules and errors as `validate`.
    public static func decode(_ bytes: [UInt8], limits: PacketLimits) throws(ValidationError) -> Packet {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(ValidationError) in
                guard raw.count <= limits.maxBodyBytes else {
                    throw .bodyTooLarge(raw.count, limit: limits.maxBodyBytes)
                }
                var scanner = JSONScanner(raw, maxDepth: limits.maxDepth)
                let packet = try scanner.scanPacket(limits: limits, decode: true)
                return Packet(
                    id: packet.id, timestamp: packet.timestamp, source: packet.source, messages: packet.messages)
            }
        }.get()
    }

    /// The byte ranges of each element of a JSON array body (`[ {...}, {...} ]`), whitespace excluded.
    ///
    /// The whole array is checked to be well-formed JSON (400, with `field` like `"[2].id"`); the elements are not
    /// checked to be packets — validate each range for that. Each element may nest as deep as a lone packet.
    public static func splitArray(
        _ bytes: UnsafeRawBufferPointer, limits: PacketLimits
    ) throws(ValidationError) -> [Range<Int>] {
        guard bytes.count <= limits.maxBodyBytes else { throw .bodyTooLarge(bytes.count, limit: limits.maxBodyBytes) }
        var scanner = JSONScanner(bytes, maxDepth: limits.maxDepth)
        scanner.skipWhitespace()
        guard let first = scanner.current else { throw .emptyBody }
        guard first == JSONByte.openBracket else {
            throw ValidationError(
                error: "malformed_json", field: nil,
                detail: "a batch is a JSON array of packets, [ {...}, {...} ], or NDJSON", status: 400)
        }
        scanner.depthBase = 1
        try scanner.beginArray()
        var ranges: [Range<Int>] = []
        if !scanner.consume(JSONByte.closeBracket) {
            repeat {
                let start = scanner.pos
                try scanner.skipValue()
                ranges.append(start..<scanner.pos)
            } while try scanner.nextElement()
        }
        scanner.path.removeLast()
        try scanner.expectEnd()
        guard !ranges.isEmpty else { throw .emptyBatch }
        return ranges
    }

    /// NDJSON: the byte range of each non-blank line, without its `\n` or `\r\n`.
    ///
    /// Lines are not validated here; blank means only spaces, tabs and carriage returns.
    public static func splitLines(_ bytes: UnsafeRawBufferPointer) throws(ValidationError) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var lineStart = 0
        var blank = true
        for index in 0...bytes.count {
            let byte = index < bytes.count ? bytes[index] : JSONByte.newline
            switch byte {
            case JSONByte.newline:
                if !blank {
                    let lineEnd = index > lineStart && bytes[index - 1] == JSONByte.carriageReturn ? index - 1 : index
                    ranges.append(lineStart..<lineEnd)
                }
                lineStart = index + 1
                blank = true
            case JSONByte.space, JSONByte.tab, JSONByte.carriageReturn:
                break
            default:
                blank = false
            }
        }
        guard !ranges.isEmpty else { throw .emptyBatch }
        return ranges
    }
}

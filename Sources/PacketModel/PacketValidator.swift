#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let packet = try scanner.scanPacket(limits: limits, mode: .summary)
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
                let packet = try scanner.scanPacket(limits: limits, mode: .decode)
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
        guard let base = bytes.baseAddress else { throw .emptyBatch }
        let count = bytes.count
        var lineStart = 0
        while lineStart <= count {
            // memchr finds the line's end a vector at a time.
            let newline = lineStart == count ? nil : memchr(base + lineStart, Int32(JSONByte.newline), count - lineStart)
            let lineEnd = newline.map { base.distance(to: UnsafeRawPointer($0)) } ?? count
            var first = lineStart
            while first < lineEnd, bytes[first] == JSONByte.space || bytes[first] == JSONByte.tab || bytes[first] == JSONByte.carriageReturn {
                first += 1
            }
            if first < lineEnd {
                ranges.append(lineStart..<(bytes[lineEnd - 1] == JSONByte.carriageReturn ? lineEnd - 1 : lineEnd))
            }
            lineStart = lineEnd + 1
        }
        guard !ranges.isEmpty else { throw .emptyBatch }
        return ranges
    }

    /// Validates the packets of one batch body and collects their Kafka keys, reusing one scanner's stacks: the
    /// batch hot path, with no allocation per packet.
    public struct KeyCollector: Sendable {
        public let limits: PacketLimits
        /// The keys (ids, unescaped) of the packets validated so far, back to back.
        public private(set) var keys: [UInt8] = []
        /// The message count of the packet validated last.
        public private(set) var lastMessageCount = 0
        private var path: [PathSegment] = []
        private var objectKeys: [StringToken] = []

        public init(limits: PacketLimits, expectedPackets: Int = 0) {
            self.limits = limits
            keys.reserveCapacity(expectedPackets * 24)
        }

        /// Validates `body[range]` as one packet (same rules and errors as `validate`)
        /// and appends its id to ``keys``; returns where in ``keys`` that id is.
        public mutating func validate(
            _ body: UnsafeRawBufferPointer, _ range: Range<Int>
        ) throws(ValidationError) -> Range<Int> {
            let bytes = UnsafeRawBufferPointer(rebasing: body[range])
            guard bytes.count <= limits.maxBodyBytes else { throw .bodyTooLarge(bytes.count, limit: limits.maxBodyBytes) }
            var scanner = JSONScanner(bytes, maxDepth: limits.maxDepth, reusing: &path, &objectKeys)
            defer { scanner.release(into: &path, &objectKeys) }
            let packet = try scanner.scanPacket(limits: limits, mode: .shape)
            lastMessageCount = packet.messageCount
            // A packet without a valid id has thrown above.
            guard let token = packet.idToken else { throw ValidationError(error: "missing_field", field: "id", detail: "no id", status: 422) }
            let start = keys.count
            if token.isEscaped {
                keys += scanner.unescapedBytes(token)
            } else {
                keys.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]))
            }
            return start..<keys.count
        }
    }
}

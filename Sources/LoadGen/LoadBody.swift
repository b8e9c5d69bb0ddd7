import PacketModel

/// The body of one load request — `packets` packets, NDJSON when more than one — built once; each request patches
/// its fixed-width fields in place (the sequence number in each id, the timestamps, the numbers in the message
/// text), so the load tool spends its CPU on HTTP, not on building strings.
///
/// Packet `i` of a request with first sequence `s` has id `<idPrefix><s + i, 12 digits>`, source `load-<(s+i) % 8>`
/// and message text `request <(s+i) % 1000, 3 digits> served in <(s+i) % 97, 2 digits> ms`; its level is
/// `levels[(slot + i + m) % levels.count]` for message `m`.
struct LoadBody {
    private(set) var bytes: [UInt8] = []
    let idPrefix: String
    /// Per field: where it starts, how many digits, and what it holds.
    private var fields: [Field] = []

    private struct Field {
        enum Value { case sequence, timestamp, source, request, millis }
        var offset: Int
        var width: Int
        var value: Value
        var packet: Int
    }

    init(idPrefix: String, packets: Int, messagesPerPacket: Int, levels: [String], slot: Int) {
        self.idPrefix = idPrefix
        for packet in 0..<packets {
            if packet > 0 { bytes.append(0x0A) }
            append(#"{"id":"\#(idPrefix)"#)
            field(.sequence, width: 12, packet: packet)
            append(#"","timestamp":"#)
            field(.timestamp, width: 13, packet: packet)
            append(#","source":"load-"#)
            field(.source, width: 1, packet: packet)
            append(#"","messages":["#)
            for message in 0..<messagesPerPacket {
                if message > 0 { append(",") }
                append(#"{"level":"\#(levels[(slot + packet + message) % levels.count])","message":"request "#)
                field(.request, width: 3, packet: packet)
                append(" served in ")
                field(.millis, width: 2, packet: packet)
                append(#" ms","timestamp":"#)
                field(.timestamp, width: 13, packet: packet)
                append("}")
            }
            append("]}")
        }
        render(firstSequence: 0, now: 1_000_000_000_000)
    }

    /// The id of the packet with this sequence number.
    func id(sequence: Int) -> String {
        let digits = String(sequence % 1_000_000_000_000)
        return idPrefix + String(repeating: "0", count: 12 - digits.count) + digits
    }

    /// Patches every field for packets `firstSequence...` at `now` (epoch ms, 13 digits until the year 2286).
    mutating func render(firstSequence: Int, now: Int64) {
        let fields = fields
        bytes.withUnsafeMutableBufferPointer { bytes in
            for field in fields {
                let sequence = firstSequence + field.packet
                let value: Int
                switch field.value {
                case .sequence: value = sequence
                case .timestamp: value = Int(now)
                case .source: value = sequence % 8
                case .request: value = sequence % 1000
                case .millis: value = sequence % 97
                }
                var rest = value
                for index in stride(from: field.offset + field.width - 1, through: field.offset, by: -1) {
                    bytes[index] = UInt8(48 + rest % 10)
                    rest /= 10
                }
            }
        }
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func field(_ value: Field.Value, width: Int, packet: Int) {
        fields.append(Field(offset: bytes.count, width: width, value: value, packet: packet))
        bytes.append(contentsOf: repeatElement(UInt8(48), count: width))
    }
}

/// Packet ids derived from content: the same records give the same id, so an exporter's retry of a request meets
/// its first copy in the same partition of the packets topic and the dispatcher routes it once (the retry window).
enum OTLPPacketID {
    /// `otlp-` and 32 hex digits of a 128-bit FNV-1a hash of `bytes`, with `-n` for the n-th repeat (n ≥ 2) of the
    /// same content within one request, so identical packets of one request stay distinct.
    static func make(_ bytes: [UInt8], occurrence: Int) -> String {
        var hash: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013b
        // Eight bytes per multiply: a 64-bit word per step keeps the hash fast on megabyte requests, still
        // order-sensitive and length-sensitive (the length is mixed in last).
        bytes.withUnsafeBytes { raw in
            var index = 0
            while index + 8 <= raw.count {
                hash = (hash ^ UInt128(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self).littleEndian)) &* prime
                index += 8
            }
            while index < raw.count {
                hash = (hash ^ UInt128(raw[index])) &* prime
                index += 1
            }
        }
        hash = (hash ^ UInt128(bytes.count)) &* prime
        hash ^= hash >> 64
        hash = hash &* prime
        var text = "otlp-"
        text.reserveCapacity(40)
        let digits = JSONBytes.hexDigits
        for shift in stride(from: 124, through: 0, by: -4) {
            text.unicodeScalars.append(Unicode.Scalar(digits[Int((hash >> UInt128(shift)) & 0xF)]))
        }
        if occurrence > 1 { text += "-\(occurrence)" }
        return text
    }
}

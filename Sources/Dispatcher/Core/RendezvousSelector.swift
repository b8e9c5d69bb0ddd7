import Foundation

/// Weighted rendezvous (highest random weight) hashing: each record goes to the member whose score for the record's
/// key is highest, the score of a member with weight w being −w / ln(h), h a hash of (key, member id) in (0, 1).
///
/// A drain routes this way: the same key always goes to the same member while the members stay the same, so a
/// batch redone after a crash in at-least-once mode reaches the analysers that already have it, and their dedupe
/// windows drop the repeats; shares follow the weights statistically (each member's chance is w / Σw), and a
/// member's departure moves only its own keys. The hash is stable across processes (FNV-1a, then SplitMix64).
struct RendezvousSelector: Sendable {
    let members: [SelectorMember]

    init(members: [SelectorMember]) {
        self.members = members.filter { $0.weight > 0 }.sorted { $0.id < $1.id }
    }

    /// The index into `members` for `key`, nil when no member has weight.
    func pick(_ key: UnsafeRawBufferPointer?) -> Int? {
        guard !members.isEmpty else { return nil }
        let keyHash = Self.fnv1a(key)
        var best = 0
        var bestScore = -Double.infinity
        for (index, member) in members.enumerated() {
            let h = Self.unitInterval(Self.mix(keyHash ^ Self.fnv1a(member.id)))
            let score = -Double(member.weight) / log(h)
            if score > bestScore {
                bestScore = score
                best = index
            }
        }
        return best
    }

    func pick(_ key: [UInt8]) -> Int? {
        key.withUnsafeBytes { pick($0) }
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer?) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes ?? UnsafeRawBufferPointer(start: nil, count: 0) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func fnv1a(_ text: String) -> UInt64 {
        Array(text.utf8).withUnsafeBytes { fnv1a($0) }
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value strictly between 0 and 1 from 53 bits of `value`.
    static func unitInterval(_ value: UInt64) -> Double {
        (Double(value >> 11) + 0.5) / Double(1 << 53)
    }
}

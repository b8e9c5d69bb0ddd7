/// Decides, for one input partition, whether a record repeats a packet id routed shortly before it: a client's
/// retry after a timeout or a 503, or the same batch sent twice. A repeat is not routed again.
///
/// The rule is a pure function of the partition's log, so every dispatcher instance, before and after restarts
/// and rebalances, decides the same for the same record: the record at offset `o` with timestamp `t` repeats when
/// its key occurs at an offset in `o - span ..< o` and the latest such occurrence has a timestamp of at least
/// `t - maxAgeMs`. Ingest partitions `logdist.packets` by the packet id, so every copy of an id lands in the same
/// partition, whichever ingest instance took it.
///
/// The window covers the offsets before `next`; `admit` must see the partition's records in offset order. A
/// window is rebuilt from the log (`RetryWindowLoader`) when its `next` is not where a batch begins, so after a
/// seek, a rebalance or a batch that was not committed it is read again rather than trusted.
///
/// Keys are held as 128-bit SipHash digests (random key per process): the chance that a new id is taken for a
/// repeat is below 2⁻¹⁰⁰ per record, and nobody outside the process can make two ids collide.
struct RetryWindow {
    /// How many offsets back a repeat is looked for.
    let span: Int64
    /// How much older (by record timestamp) the earlier copy may be.
    let maxAgeMs: Int64
    /// The offset after the last record seen; the window covers `next - span ..< next`.
    private(set) var next: Int64

    private var ring: [Entry] = []  // oldest at `head`, `count` entries, wrapping; offsets increasing
    private var head = 0
    private var count = 0
    /// Open addressing (linear probing) from a digest to the ring index of its latest copy; `empty` where free.
    /// The digest is already a keyed hash, so its low bits are the home slot: no second hash per look-up. At most
    /// half full (`capacity ≥ 2 × ring.count`), rebuilt when the ring grows.
    private var slots: [Int32] = []
    private var mask = 0

    private static let empty: Int32 = -1

    private struct Entry {
        var offset: Int64
        var digest: PacketDigest
        var timestampMs: Int64
    }

    /// An empty window that ends at `next` (records before it, if any, were not seen).
    init(span: Int64, maxAgeMs: Int64, next: Int64) {
        precondition(span >= 0 && maxAgeMs >= 0, "RetryWindow bounds must not be negative")
        precondition(span <= DispatcherConfig.maxRetryWindow, "RetryWindow span must be at most \(DispatcherConfig.maxRetryWindow) records")
        self.span = span
        self.maxAgeMs = maxAgeMs
        self.next = next
    }

    /// Remembered records (at most `span + 1`).
    var remembered: Int { count }

    /// Whether the record is new (route it) or a repeat (drop it), remembering it either way.
    ///
    /// - Parameter digest: nil for a record without a key, which is never a repeat and not remembered.
    mutating func admit(offset: Int64, digest: PacketDigest?, timestampMs: Int64) -> Bool {
        precondition(offset >= next, "records must come in offset order (got \(offset), expected at least \(next))")
        next = offset + 1
        evict(before: offset - span)
        guard let digest, span > 0 else { return true }
        if count == ring.count { grow() }
        let index = (head + count) % ring.count
        ring[index] = Entry(offset: offset, digest: digest, timestampMs: timestampMs)
        count += 1
        let slot = find(digest)
        let earlier = slots[slot]
        slots[slot] = Int32(index)
        guard earlier != Self.empty else { return true }
        return ring[Int(earlier)].timestampMs < timestampMs - maxAgeMs
    }

    /// Moves the end of the window to `offset` without a record (offsets with no record: deleted, or transaction
    /// markers).
    mutating func advance(to offset: Int64) {
        precondition(offset >= next, "a window only moves forward (to \(offset) from \(next))")
        next = offset
        evict(before: offset - span)
    }

    /// The slot that holds `digest`'s latest copy, or the free slot where it would go.
    private func find(_ digest: PacketDigest) -> Int {
        var slot = home(of: digest)
        while slots[slot] != Self.empty, ring[Int(slots[slot])].digest != digest {
            slot = (slot + 1) & mask
        }
        return slot
    }

    /// Where a digest's probe run starts.
    private func home(of digest: PacketDigest) -> Int { Int(truncatingIfNeeded: digest.low) & mask }

    /// Forgets entries at offsets below `offset`.
    private mutating func evict(before offset: Int64) {
        while count > 0, ring[head].offset < offset {
            let slot = find(ring[head].digest)
            // A later copy of the same digest keeps the slot; only the latest copy's entry frees it.
            if slots[slot] == Int32(head) { remove(at: slot) }
            head = (head + 1) % ring.count
            count -= 1
        }
    }

    /// Frees `slot`, moving later entries of its probe run back so that every look-up still finds them.
    private mutating func remove(at slot: Int) {
        var hole = slot
        var probe = slot
        while true {
            probe = (probe + 1) & mask
            let index = slots[probe]
            if index == Self.empty { break }
            let home = home(of: ring[Int(index)].digest)
            // The entry at `probe` may move into the hole unless its home lies cyclically in (hole, probe].
            let stays = hole <= probe ? (hole < home && home <= probe) : (hole < home || home <= probe)
            if stays { continue }
            slots[hole] = index
            hole = probe
        }
        slots[hole] = Self.empty
    }

    /// Doubles the ring (at most `span + 1` entries are ever live: the window and the record just admitted),
    /// oldest first at index 0, and rebuilds the slots for the new indexes.
    private mutating func grow() {
        let size = Int(min(span + 1, Int64(max(16, ring.count * 2))))
        var bigger: [Entry] = []
        bigger.reserveCapacity(size)
        for k in 0..<count { bigger.append(ring[(head + k) % ring.count]) }
        let filler = Entry(offset: .min, digest: PacketDigest(high: 0, low: 0), timestampMs: 0)
        bigger.append(contentsOf: repeatElement(filler, count: size - count))
        ring = bigger
        head = 0
        var capacity = 32
        while capacity < 2 * size { capacity *= 2 }
        slots = Array(repeating: Self.empty, count: capacity)
        mask = capacity - 1
        // Oldest first, so a digest's slot ends at its latest copy.
        for index in 0..<count {
            slots[find(ring[index].digest)] = Int32(index)
        }
    }
}

/// A 128-bit digest of a record key: two SipHash-1-3 values with the process's random seed.
struct PacketDigest: Hashable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(_ key: UnsafeRawBufferPointer) {
        var first = Hasher()
        first.combine(0x6c6f_6764_6973_7431 as UInt64)
        first.combine(bytes: key)
        var second = Hasher()
        second.combine(0x7265_7472_7977_696e as UInt64)
        second.combine(bytes: key)
        high = UInt64(bitPattern: Int64(first.finalize()))
        low = UInt64(bitPattern: Int64(second.finalize()))
    }

    init(_ key: [UInt8]) {
        self = key.withUnsafeBytes { PacketDigest($0) }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(low)
    }
}

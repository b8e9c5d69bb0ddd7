/// Remembers the most recent packet ids so a client's retry is counted once.
///
/// Bounded both by `capacity` (entries) and by `maxBytes` (an estimate of the memory the ids take, see
/// `perEntryOverhead`); when either would be exceeded it forgets the oldest ids first (FIFO). A duplicate does
/// not refresh an id's place: the window is about arrival order, not recency of use.
public struct DedupeWindow: Sendable {
    /// Bytes charged per remembered id on top of its UTF-8 length.
    ///
    /// - ring slot: a `String` is 16 bytes; the ring grows by doubling, so up to 32 bytes per live entry;
    /// - `Set` bucket: 16 bytes per element at a load factor between 3/8 (just grown) and 3/4, so 21–43 bytes;
    /// - the string's heap object (ids over 15 UTF-8 bytes; ring and set share it): 32-byte header, and malloc
    ///   rounding of the payload to 16 bytes, about 8 on average.
    /// Typical total ≈ 24 + 30 + 40 ≈ 94; worst ≈ 115. Ids of 15 bytes or fewer live inline and have no heap
    /// object, so for them this overestimates.
    public static let perEntryOverhead = 96

    public let capacity: Int
    public let maxBytes: Int
    /// Ids currently remembered (≤ capacity).
    public private(set) var count = 0
    /// Sum of `utf8.count + perEntryOverhead` over remembered ids (≤ maxBytes).
    public private(set) var approximateBytes = 0
    /// Ids forgotten to make room.
    public private(set) var evictions = 0

    private var ring: [String] = []  // oldest at `head`, `count` entries, wrapping
    private var head = 0
    private var members: Set<String> = []

    public init(capacity: Int, maxBytes: Int) {
        precondition(capacity >= 0 && maxBytes >= 0, "DedupeWindow bounds must not be negative")
        self.capacity = capacity
        self.maxBytes = maxBytes
    }

    /// Returns true if the id was new (and is now remembered), false if it is a duplicate inside the window.
    ///
    /// An id too big to fit in `maxBytes` on its own is reported new and not remembered.
    public mutating func insert(_ id: String) -> Bool {
        guard members.insert(id).inserted else { return false }
        let cost = Self.cost(of: id)
        guard capacity > 0, cost <= maxBytes else {
            members.remove(id)
            return true
        }
        while count >= capacity || approximateBytes + cost > maxBytes {
            evictOldest()
        }
        if count == ring.count { grow() }
        ring[(head + count) % ring.count] = id
        count += 1
        approximateBytes += cost
        return true
    }

    public func contains(_ id: String) -> Bool {
        members.contains(id)
    }

    @inline(__always) private static func cost(of id: String) -> Int {
        id.utf8.count + perEntryOverhead
    }

    private mutating func evictOldest() {
        let old = ring[head]
        ring[head] = ""
        members.remove(old)
        approximateBytes -= Self.cost(of: old)
        head = (head + 1) % ring.count
        count -= 1
        evictions += 1
    }

    /// Doubles the ring (up to `capacity`), oldest first at index 0.
    private mutating func grow() {
        let newSize = min(capacity, max(16, ring.count * 2))
        var bigger: [String] = []
        bigger.reserveCapacity(newSize)
        for k in 0..<count { bigger.append(ring[(head + k) % ring.count]) }
        bigger.append(contentsOf: repeatElement("", count: newSize - count))
        ring = bigger
        head = 0
    }
}

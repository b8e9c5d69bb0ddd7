/// Top-K frequent keys with bounded memory: the Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005).
///
/// Keeps at most `capacity` counters. A new key, when all counters are taken, replaces the key with the smallest
/// count and inherits that count as its error. Guarantees, with N the total added: every key whose true count
/// exceeds N / capacity is tracked, and for each tracked key `count - error ≤ true count ≤ count`.
/// Choose `capacity` around 10 × the K you report.
///
/// `add` costs one dictionary lookup (two more when a key is replaced) plus an O(log capacity) heap fix-up
/// that moves integers only.
public struct TopKCounter: Sendable {
    public let capacity: Int
    /// Sum of every count added (N).
    public private(set) var total: Int = 0

    // Counters live in fixed slots; the min-heap orders slot numbers by count, so sifting never hashes a key.
    private var keys: [String] = []
    private var counts: [Int] = []
    private var errors: [Int] = []
    private var heap: [Int] = []  // slot numbers, smallest count first
    private var position: [Int] = []  // slot → index in heap
    private var slotOf: [String: Int] = [:]

    public init(capacity: Int) {
        precondition(capacity > 0, "TopKCounter needs at least one counter")
        self.capacity = capacity
        slotOf.reserveCapacity(capacity)
    }

    /// How many keys hold a counter (at most `capacity`).
    public var trackedCount: Int { keys.count }

    public mutating func add(_ key: String, count: Int = 1) {
        guard count > 0 else { return }
        total += count
        if let slot = slotOf[key] {
            counts[slot] += count
            siftDown(position[slot])
        } else if keys.count < capacity {
            let slot = keys.count
            keys.append(key)
            counts.append(count)
            errors.append(0)
            heap.append(slot)
            position.append(slot)
            slotOf[key] = slot
            siftUp(slot)
        } else {
            let slot = heap[0]
            slotOf.removeValue(forKey: keys[slot])
            slotOf[key] = slot
            keys[slot] = key
            errors[slot] = counts[slot]
            counts[slot] += count
            siftDown(0)
        }
    }

    /// The `k` keys with the highest counts, sorted by count descending, then key ascending.
    /// `error` bounds the overestimate: the true count is in `count - error ... count`.
    public func top(_ k: Int) -> [(key: String, count: Int, error: Int)] {
        guard k > 0 else { return [] }
        let order = keys.indices.sorted { a, b in
            counts[a] != counts[b] ? counts[a] > counts[b] : keys[a] < keys[b]
        }
        return order.prefix(k).map { (key: keys[$0], count: counts[$0], error: errors[$0]) }
    }

    /// The current estimate for `key`, or nil when it holds no counter.
    public func estimate(_ key: String) -> (count: Int, error: Int)? {
        slotOf[key].map { (count: counts[$0], error: errors[$0]) }
    }

    // MARK: Min-heap over slots

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard counts[heap[i]] < counts[heap[parent]] else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        let n = heap.count
        while true {
            let left = 2 * i + 1
            guard left < n else { return }
            var smallest = left
            if left + 1 < n, counts[heap[left + 1]] < counts[heap[left]] { smallest = left + 1 }
            guard counts[heap[smallest]] < counts[heap[i]] else { return }
            swapAt(i, smallest)
            i = smallest
        }
    }

    @inline(__always) private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        position[heap[a]] = a
        position[heap[b]] = b
    }
}

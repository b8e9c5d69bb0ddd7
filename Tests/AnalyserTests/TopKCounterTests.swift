import Foundation
import LogdistBasics
import Testing

@testable import Analyser

@Suite("TopKCounter")
struct TopKCounterTests {
    @Test func exactWhileUnderCapacity() {
        var counter = TopKCounter(capacity: 10)
        for (key, n) in [("a", 5), ("b", 3), ("c", 3), ("d", 1)] {
            for _ in 0..<n { counter.add(key) }
        }
        counter.add("d", count: 4)
        #expect(counter.trackedCount == 4)
        #expect(counter.total == 16)
        let top = counter.top(3)
        #expect(top.map(\.key) == ["a", "d", "b"])  // d = 5 ties a, key order breaks it; b before c
        #expect(top.map(\.count) == [5, 5, 3])
        #expect(top.allSatisfy { $0.error == 0 })
        #expect(counter.top(0).isEmpty)
        #expect(counter.top(100).count == 4)
    }

    @Test func replacementInheritsTheMinimumAsError() {
        var counter = TopKCounter(capacity: 2)
        counter.add("a", count: 5)
        counter.add("b", count: 2)
        counter.add("c")  // evicts b (2): c = 3 ± 2
        #expect(counter.trackedCount == 2)
        #expect(counter.estimate("b") == nil)
        #expect(counter.estimate("c")! == (count: 3, error: 2))
        #expect(counter.top(2).map(\.key) == ["a", "c"])
        counter.add("x", count: 0)
        counter.add("x", count: -3)
        #expect(counter.total == 8)
    }

    /// Space-Saving: any key with true count > N / capacity is tracked, and count − error ≤ true ≤ count.
    @Test(arguments: [(capacity: 20, seed: UInt64(1)), (capacity: 50, seed: 2), (capacity: 100, seed: 3)])
    func spaceSavingGuarantees(capacity: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var counter = TopKCounter(capacity: capacity)
        var truth: [String: Int] = [:]
        for _ in 0..<200_000 {
            // Zipf-like: a few heavy keys, a long tail of 5 000 rare ones.
            let r = Double(rng.next() % 1_000_000) / 1_000_000
            let key = "k\(Int(pow(5000, r * r * r)))"
            let weight = Int(rng.next() % 3) + 1
            counter.add(key, count: weight)
            truth[key, default: 0] += weight
        }
        let total = truth.values.reduce(0, +)
        #expect(counter.total == total)
        #expect(counter.trackedCount == capacity)
        let tracked = Dictionary(uniqueKeysWithValues: counter.top(capacity).map { ($0.key, $0) })
        for (key, count) in truth where count > total / capacity {
            #expect(tracked[key] != nil, "heavy key \(key) (\(count) of \(total)) not tracked")
        }
        for (key, entry) in tracked {
            let real = truth[key] ?? 0
            #expect(entry.count - entry.error <= real && real <= entry.count, "\(key): \(entry) vs \(real)")
            #expect(entry.error <= total / capacity)
        }
        let top = counter.top(capacity)
        #expect(
            zip(top, top.dropFirst()).allSatisfy { $0.count > $1.count || ($0.count == $1.count && $0.key < $1.key) })
    }
}

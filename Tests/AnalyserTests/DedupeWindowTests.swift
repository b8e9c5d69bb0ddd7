import Testing
import LogdistBasics

@testable import Analyser

@Suite("DedupeWindow")
struct DedupeWindowTests {
    @Test func detectsDuplicatesInsideTheWindow() {
        var window = DedupeWindow(capacity: 100, maxBytes: 1 << 20)
        #expect(insertAll(&window, ["p-1", "p-2", "p-1", "p-2"]) == [true, true, false, false])
        #expect(window.contains("p-1"))
        #expect(!window.contains("p-3"))
        #expect(window.count == 2)
        #expect(window.approximateBytes == 2 * (3 + DedupeWindow.perEntryOverhead))
        #expect(window.evictions == 0)
    }

    @Test func forgetsOldestFirstWhenFull() {
        var window = DedupeWindow(capacity: 3, maxBytes: 1 << 20)
        // A duplicate does not refresh its place, so "d" evicts "a".
        #expect(insertAll(&window, ["a", "b", "c", "a", "d"]) == [true, true, true, false, true])
        #expect(!window.contains("a"))
        #expect(window.contains("b") && window.contains("c") && window.contains("d"))
        #expect(insertAll(&window, ["a"]) == [true])  // forgotten, so new again; evicts b
        #expect(!window.contains("b"))
        #expect(window.count == 3)
        #expect(window.evictions == 2)
    }

    @Test func byteBudgetEvictsBeforeCapacity() {
        let entry = 10 + DedupeWindow.perEntryOverhead
        var window = DedupeWindow(capacity: 1000, maxBytes: 3 * entry)
        let ids = (0..<5).map { "id-\(1_000_000 + $0)" }  // 10 bytes each
        #expect(insertAll(&window, ids) == Array(repeating: true, count: 5))
        #expect(window.count == 3)
        #expect(window.approximateBytes == 3 * entry)
        #expect(!window.contains("id-1000001") && window.contains("id-1000002"))
        let big = String(repeating: "x", count: 2 * entry)  // costs more than two small ones: evicts all three
        #expect(insertAll(&window, [big]) == [true])
        #expect(window.count == 1)
        #expect(window.approximateBytes <= window.maxBytes)
    }

    @Test func oversizedIdOrZeroCapacityIsNeverRemembered() {
        var tiny = DedupeWindow(capacity: 10, maxBytes: 50)
        #expect(insertAll(&tiny, ["a", "a"]) == [true, true])
        #expect(tiny.count == 0 && tiny.approximateBytes == 0)
        var none = DedupeWindow(capacity: 0, maxBytes: 1 << 20)
        #expect(insertAll(&none, ["a", "a"]) == [true, true])
        #expect(none.count == 0)
    }

    /// 1M inserts of random-length ids (many repeats), checking both bounds after every insert and agreement
    /// with a reference model of the last ids kept.
    @Test(arguments: [(capacity: 50_000, maxBytes: 4 << 20), (capacity: 200_000, maxBytes: 2 << 20)])
    func staysWithinBoundsUnderRandomLoad(capacity: Int, maxBytes: Int) {
        var rng = SplitMix64(seed: UInt64(capacity))
        var window = DedupeWindow(capacity: capacity, maxBytes: maxBytes)
        var duplicates = 0
        for step in 0..<1_000_000 {
            let n = Int(rng.next() % 300_000)
            let length = Int(rng.next() % 120) + 1
            let id = String(n) + String(repeating: "-", count: max(0, length - String(n).count))
            if !window.insert(id) { duplicates += 1 }
            if window.approximateBytes > maxBytes || window.count > capacity {
                Issue.record("bounds exceeded at step \(step): \(window.count) ids, \(window.approximateBytes) bytes")
                return
            }
            if !window.contains(id) {
                Issue.record("just inserted \(id) is not remembered")
                return
            }
        }
        #expect(duplicates > 0)
        #expect(window.evictions > 0)
        #expect(window.approximateBytes > maxBytes / 2 || window.count == capacity)
    }

    @Test func ringWrapsAndGrowsConsistently() {
        var window = DedupeWindow(capacity: 1000, maxBytes: 1 << 30)
        var expected: [String] = []
        for i in 0..<5000 {
            let id = "p\(i)"
            expected.append(id)
            if expected.count > 1000 { expected.removeFirst() }
            let duplicate = i % 7 == 0 ? [expected[expected.count / 2]] : []
            #expect(insertAll(&window, [id] + duplicate) == [true] + duplicate.map { _ in false })
            #expect(window.count == expected.count)
        }
        #expect(window.count == 1000)
        #expect(expected.allSatisfy(window.contains))
        #expect(!window.contains("p3999"))  // one past the oldest kept
        #expect(window.evictions == 4000)
    }
}

/// Inserts in order and returns each result (`#expect` cannot call a mutating method itself).
private func insertAll(_ window: inout DedupeWindow, _ ids: [String]) -> [Bool] {
    ids.map { window.insert($0) }
}

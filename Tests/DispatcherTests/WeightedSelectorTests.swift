import LogdistBasics
import Testing

@testable import Dispatcher


private func members(_ weights: [Int]) -> [SelectorMember] {
    weights.enumerated().map {
        SelectorMember(id: "m\($0.offset)", partition: Int32($0.offset), weight: $0.element)
    }
}

private func picks(_ selector: inout WeightedSelector, _ count: Int) -> [String] {
    (0..<count).compactMap { _ in selector.next()?.id }
}

/// NGINX's loop written plainly, with no gcd reduction or buffer tricks: the reference the selector must match.
private func referenceSequence(_ weights: [Int], count: Int) -> [String] {
    let total = weights.filter { $0 > 0 }.reduce(0, +)
    guard total > 0 else { return [] }
    var current = Array(repeating: 0, count: weights.count)
    var result: [String] = []
    for _ in 0..<count {
        var best = -1
        for index in weights.indices where weights[index] > 0 {
            current[index] += weights[index]
            if best < 0 || current[index] > current[best] { best = index }
        }
        current[best] -= total
        result.append("m\(best)")
    }
    return result
}

@Suite("WeightedSelector")
struct WeightedSelectorTests {
    @Test(arguments: [
        ([5, 1, 1], "a a b a c a a"),
        ([1, 1, 1], "a b c"),
        ([2, 1], "a b a"),
        ([1, 2], "b a b"),
        ([3, 0, 1], "a a c a"),
        ([10, 20, 30], "c b a c b c"),
    ])
    func interleaves(weights: [Int], expected: String) {
        let ids = ["a", "b", "c"]
        var selector = WeightedSelector(
            members: weights.enumerated().map {
                SelectorMember(id: ids[$0.offset], partition: 0, weight: $0.element)
            })
        let count = expected.split(separator: " ").count
        #expect(picks(&selector, count).joined(separator: " ") == expected)
        #expect(picks(&selector, count).joined(separator: " ") == expected, "the cycle repeats")
    }

    @Test func nobodyToPick() {
        var empty = WeightedSelector()
        #expect(empty.next() == nil)
        var zeros = WeightedSelector(members: members([0, 0]))
        #expect(zeros.next() == nil)
        #expect(zeros.totalWeight == 0)
        #expect(zeros.members.count == 2)
    }

    @Test(arguments: [[0, 3], [4, 0, 0, 1], [0, 0, 7, 0]])
    func weightZeroIsNeverPicked(weights: [Int]) {
        var selector = WeightedSelector(members: members(weights))
        let zeroIDs = Set(members(weights).filter { $0.weight == 0 }.map(\.id))
        #expect(picks(&selector, 500).allSatisfy { !zeroIDs.contains($0) })
    }

    @Test func nextPickFollowsTheNewSet() {
        var selector = WeightedSelector(members: [SelectorMember(id: "a", partition: 0, weight: 1)])
        #expect(selector.next()?.id == "a")
        selector.update([SelectorMember(id: "b", partition: 1, weight: 1)])
        #expect(selector.next()?.id == "b")
        selector.update([
            SelectorMember(id: "a", partition: 0, weight: 0),
            SelectorMember(id: "c", partition: 2, weight: 2),
        ])
        #expect(picks(&selector, 10) == Array(repeating: "c", count: 10))
        #expect(selector.totalWeight == 2)
        selector.update([])
        #expect(selector.next() == nil)
    }

    @Test func identicalUpdateKeepsTheRotation() {
        var plain = WeightedSelector(members: members([5, 3, 2]))
        var updated = plain
        for _ in 0..<37 {
            updated.update(members([5, 3, 2]))
            #expect(plain.next() == updated.next())
        }
    }

    @Test func returningMemberGetsNoBurst() {
        var selector = WeightedSelector(members: members([1, 1, 1]))
        _ = picks(&selector, 2)
        selector.update(members([1, 1]))  // m2 leaves; it would have had credit from waiting
        _ = picks(&selector, 1_000)
        selector.update(members([1, 1, 1]))
        let window = picks(&selector, 3)
        #expect(Set(window) == ["m0", "m1", "m2"])
    }

    /// A member far down the cycle must not be starved by changes that come faster than its turn.
    @Test func frequentChangesElsewhereDoNotStarve() {
        var selector = WeightedSelector(members: members([9, 1]))
        var sequence: [String] = []
        for round in 0..<40 {
            selector.update(round.isMultiple(of: 2) ? members([9, 1]) : members([9, 1, 1]))
            sequence += picks(&selector, 3)
        }
        let gaps = zip(sequence.indices, sequence).filter { $0.1 == "m1" }.map(\.0)
        #expect(!gaps.isEmpty)
        #expect(zip(gaps, gaps.dropFirst()).allSatisfy { $1 - $0 <= 2 * 11 })
    }

    @Test(arguments: 0..<64)
    func matchesNGINXAndEveryWindowIsExact(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let weights = (0..<Int.random(in: 1...8, using: &rng)).map { _ in
            Int.random(in: 0...10, using: &rng)
        }
        var selector = WeightedSelector(members: members(weights))
        let total = selector.totalWeight
        #expect(total == weights.reduce(0, +))
        let sequence = picks(&selector, 3 * total)
        #expect(sequence == referenceSequence(weights, count: 3 * total))
        for start in 0..<max(0, sequence.count - total + 1) {
            let counts = Dictionary(sequence[start..<start + total].map { ($0, 1) }, uniquingKeysWith: +)
            for member in members(weights) {
                #expect(
                    counts[member.id, default: 0] == member.weight, "window at \(start), weights \(weights)")
            }
        }
    }

    /// Exhaustive over every weight vector of up to 4 members with weights 0...6: from a fresh start, after any m
    /// picks, |count·W − m·w| < W for every member. That is, the running credits stay within (−W, W), which is what
    /// bounds the unevenness after an update (entered at some state of the cycle) below 2 picks.
    @Test(arguments: 1...4)
    func freshPrefixesDeviateLessThanOnePick(memberCount: Int) {
        var weights = Array(repeating: 0, count: memberCount)
        while true {
            var selector = WeightedSelector(members: members(weights))
            let total = selector.totalWeight
            var counts = Array(repeating: 0, count: memberCount)
            for m in stride(from: 1, through: total, by: 1) {
                counts[Int(selector.next()!.partition)] += 1
                for index in weights.indices where abs(counts[index] * total - m * weights[index]) >= total {
                    Issue.record("weights \(weights), after \(m) picks member \(index) has \(counts[index])")
                }
            }
            guard let index = weights.firstIndex(where: { $0 < 6 }) else { break }
            weights[index] += 1
            for lower in 0..<index { weights[lower] = 0 }
        }
    }

    /// Random weights (0...10, 1...8 members) and random health flips and weight changes every k picks.
    @Test(arguments: 0..<48)
    func randomFlipsKeepTheGuarantees(seed: UInt64) {
        var rng = SplitMix64(seed: seed &+ 1_000)
        let pool = (0..<Int.random(in: 1...8, using: &rng)).map { "m\($0)" }
        var weights = Dictionary(
            uniqueKeysWithValues: pool.map { ($0, Int.random(in: 0...10, using: &rng)) })
        var present = Set(pool)
        func eligible() -> [SelectorMember] {
            pool.filter(present.contains).map {
                SelectorMember(id: $0, partition: 0, weight: weights[$0]!)
            }
        }
        var selector = WeightedSelector(members: eligible())
        // pick number of its last pick, or when it became eligible
        var lastSeen = Dictionary(
            uniqueKeysWithValues: eligible().filter { $0.weight > 0 }.map { ($0.id, 0) })
        var totals: [Int] = []  // W at every pick, for the cross-change gap bound
        for epoch in 0..<40 {
            let set = selector.members.filter { $0.weight > 0 }
            let total = selector.totalWeight
            let k = Int.random(
                in: 0...(epoch.isMultiple(of: 3) ? 3 * total : max(1, total / 2)), using: &rng)
            let sequence = picks(&selector, k)
            #expect(sequence.count == (total > 0 ? k : 0))
            let weightOf = Dictionary(uniqueKeysWithValues: set.map { ($0.id, $0.weight) })
            var counts: [String: Int] = [:]
            for (m, id) in sequence.enumerated() {
                #expect((weightOf[id] ?? 0) > 0, "picked \(id), not eligible")
                counts[id, default: 0] += 1
                for member in set
                where abs(counts[member.id, default: 0] * total - (m + 1) * member.weight) >= 2 * total {
                    Issue.record("seed \(seed) epoch \(epoch): \(member.id) uneven after \(m + 1) picks")
                }
                totals.append(total)
                if let since = lastSeen[id] {
                    let gap = totals.count - since
                    let widest = totals[(totals.count - gap)...].max()!
                    #expect(gap <= 2 * widest, "seed \(seed): \(id) waited \(gap) picks, W at most \(widest)")
                }
                lastSeen[id] = totals.count
            }
            if sequence.count >= total {
                for member in set {
                    #expect(
                        sequence.prefix(total).contains(member.id), "\(member.id) starved in the first W picks")
                }
                for start in 0...(sequence.count - total) {
                    let window = Dictionary(
                        sequence[start..<start + total].map { ($0, 1) }, uniquingKeysWith: +)
                    #expect(
                        window == weightOf.filter { $0.value > 0 },
                        "seed \(seed) epoch \(epoch) window \(start)")
                }
            } else {
                for (id, count) in counts {
                    #expect(count <= weightOf[id]!, "burst toward \(id) after a change")
                }
            }

            for id in pool where Int.random(in: 0..<3, using: &rng) == 0 {
                if present.remove(id) == nil { present.insert(id) }
            }
            for id in pool where Int.random(in: 0..<6, using: &rng) == 0 {
                weights[id] = Int.random(in: 0...10, using: &rng)
            }
            selector.update(eligible())
            for member in selector.members
            where member.weight == 0 || !set.contains(where: { $0.id == member.id }) {
                lastSeen[member.id] = totals.count
            }
            for id in lastSeen.keys
            where !selector.members.contains(where: { $0.id == id && $0.weight > 0 }) {
                lastSeen[id] = nil
            }
        }
    }
}

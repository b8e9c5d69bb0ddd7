import LogdistBasics
import Testing

@testable import Dispatcher

@Suite("CostSelector")
struct CostSelectorTests {
    static let members = [
        SelectorMember(id: "a1", partition: 0, weight: 1), SelectorMember(id: "a2", partition: 1, weight: 2),
        SelectorMember(id: "a3", partition: 2, weight: 3),
    ]

    @Test("with every cost 1 it picks exactly as smooth weighted round-robin")
    func unitCostsAreSmoothRoundRobin() {
        var costs = CostSelector(members: Self.members)
        var smooth = WeightedSelector(members: Self.members)
        for _ in 0..<600 { #expect(costs.next(cost: 1) == smooth.nextIndex()) }
    }

    @Test("each member's cost stays within one packet's cost of its share, over random costs and weights")
    func withinOnePacket() {
        var rng = SplitMix64(seed: 0xC057)
        for _ in 0..<200 {
            let count = Int(rng.next() % 5) + 1
            let members = (0..<count).map { SelectorMember(id: "m\($0)", partition: Int32($0), weight: Int(rng.next() % 9) + 1) }
            let total = Double(members.reduce(0) { $0 + $1.weight })
            var selector = CostSelector(members: members)
            var served = [Double](repeating: 0, count: count)
            var all = 0.0
            var largest = 0.0
            for _ in 0..<2000 {
                let cost = Int64(rng.next() % 1000) + 1
                let pick = selector.next(cost: cost)!
                served[pick] += Double(cost)
                all += Double(cost)
                largest = max(largest, Double(cost))
                for (index, member) in members.enumerated() {
                    let share = all * Double(member.weight) / total
                    #expect(abs(served[index] - share) <= largest, "member \(index) served \(served[index]) vs share \(share)")
                }
            }
        }
    }

    @Test("a member that joins or returns starts even: no burst of picks for it")
    func noBurstOnJoin() {
        var selector = CostSelector(members: Array(Self.members.prefix(2)))
        for _ in 0..<1000 { _ = selector.next(cost: 7) }
        selector.update(Self.members)
        var picks = [0, 0, 0]
        for _ in 0..<12 { picks[selector.next(cost: 7)!] += 1 }
        // Over 12 picks of equal cost, a3 (weight 3 of 6) gets its share of 6, not a catch-up burst.
        #expect((5...7).contains(picks[2]), "\(picks)")
        #expect(selector.owed.reduce(0, +).magnitude < 1)
    }

    @Test("no member with weight: no pick")
    func empty() {
        var selector = CostSelector(members: [SelectorMember(id: "z", partition: 0, weight: 0)])
        #expect(selector.next(cost: 5) == nil)
        #expect(selector.pickable.isEmpty)
    }
}

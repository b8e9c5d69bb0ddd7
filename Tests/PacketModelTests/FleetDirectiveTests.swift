import PacketModel
import Testing

@Suite("FleetDirective")
struct FleetDirectiveTests {
    @Test("each directive reads back as written, under its key", arguments: [
        FleetDirective.weight(id: "a2", weight: 5, setAtMs: 1), .weight(id: "a.b-c_d", weight: 0, setAtMs: 2),
        .retired(id: "a3", setAtMs: 3), .drainedSlot(partition: 7, drainedTo: 12_345, from: "a2", setAtMs: 4),
    ])
    func roundTrip(directive: FleetDirective) {
        #expect(FleetDirective.parse(key: directive.key, value: directive.encoded()) == .set(directive))
    }

    @Test("a tombstone withdraws; heartbeats and probes are not directives; garbage under a directive key is ignored")
    func keys() {
        #expect(FleetDirective.parse(key: "~weight.a2", value: nil) == .withdrawn(.weight(id: "a2")))
        #expect(FleetDirective.parse(key: "~retired.a2", value: nil) == .withdrawn(.retired(id: "a2")))
        #expect(FleetDirective.parse(key: "~slot.3", value: nil) == .withdrawn(.drainedSlot(partition: 3)))
        #expect(FleetDirective.parse(key: "a2", value: Array("{}".utf8)) == nil)
        #expect(FleetDirective.parse(key: "~logdist.dispatcher-probe", value: Array("{}".utf8)) == .unknown)
        #expect(FleetDirective.parse(key: "~weight.a2", value: Array("not json".utf8)) == .unknown)
        // The id in the value must be the key's, and weights are not negative.
        let other = FleetDirective.weight(id: "a3", weight: 2, setAtMs: 0).encoded()
        #expect(FleetDirective.parse(key: "~weight.a2", value: other) == .unknown)
        #expect(FleetDirective.parse(key: "~weight.a2", value: Array(#"{"id":"a2","weight":-1,"setAtMs":0}"#.utf8)) == .unknown)
        #expect(FleetDirective.parse(key: "~slot.x", value: nil) == .unknown)
        #expect(FleetDirective.parse(key: "~weight.", value: nil) == .unknown)
    }

    @Test("directives in force follow the log: the latest record of a key wins, a tombstone clears it")
    func inForce() {
        var directives = FleetDirectives()
        directives.apply(.set(.weight(id: "a2", weight: 5, setAtMs: 0)))
        directives.apply(.set(.weight(id: "a2", weight: 7, setAtMs: 1)))
        directives.apply(.set(.retired(id: "a1", setAtMs: 2)))
        #expect(directives.weight(of: "a2", heartbeat: 2) == 7)
        #expect(directives.weight(of: "a3", heartbeat: 3) == 3)
        #expect(directives.retired == ["a1"])
        directives.apply(.withdrawn(.weight(id: "a2")))
        directives.apply(.withdrawn(.retired(id: "a1")))
        #expect(directives.weight(of: "a2", heartbeat: 2) == 2)
        #expect(directives.retired.isEmpty)
    }

    @Test("analyser ids: plain and short", arguments: ["", "~a", "a b", "a/b", String(repeating: "x", count: 65), "é"])
    func badIDs(id: String) {
        #expect(AnalyserID.problem(with: id) != nil)
    }

    @Test("analyser ids that are fine", arguments: ["a1", "A-1_b.c", String(repeating: "x", count: 64)])
    func goodIDs(id: String) {
        #expect(AnalyserID.problem(with: id) == nil)
    }
}

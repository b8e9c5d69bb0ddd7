import PacketModel
import Testing

@testable import Dispatcher

private let t0: Int64 = 1_732_400_000_000

@Suite("HealthTable: operators' directives")
struct HealthTableDirectiveTests {
    func table() -> HealthTable {
        var table = HealthTable(policy: HealthPolicy())
        for (index, id) in ["a1", "a2", "a3"].enumerated() {
            _ = table.apply(
                Heartbeat(id: id, partition: Int32(index), weight: index + 1, state: .up, sentAt: t0, committedOffset: 0),
                observedAtMs: t0)
        }
        return table
    }

    @Test("an operator's weight replaces the analyser's own for routing, and its withdrawal restores it")
    func weight() {
        var table = table()
        table.apply(.set(.weight(id: "a2", weight: 7, setAtMs: t0)))
        #expect(table.healthyMembers(nowMs: t0 + 10).map(\.weight) == [1, 7, 3])
        let row = table.snapshot(nowMs: t0 + 10).first { $0.id == "a2" }
        #expect(row?.weight == 7 && row?.ownWeight == 2 && row?.weightOverridden == true)
        table.apply(.set(.weight(id: "a2", weight: 0, setAtMs: t0)))
        #expect(table.healthyMembers(nowMs: t0 + 10).map(\.id) == ["a1", "a3"])
        #expect(table.snapshot(nowMs: t0 + 10).first { $0.id == "a2" }?.reason == .zeroWeight)
        table.apply(.withdrawn(.weight(id: "a2")))
        #expect(table.healthyMembers(nowMs: t0 + 10).map(\.weight) == [1, 2, 3])
    }

    @Test("a retired analyser gets nothing, whatever its heartbeats say, until the directive is withdrawn")
    func retired() {
        var table = table()
        table.apply(.set(.retired(id: "a1", setAtMs: t0)))
        #expect(table.healthyMembers(nowMs: t0 + 10).map(\.id) == ["a2", "a3"])
        #expect(table.evaluate(nowMs: t0 + 10).contains(.healthChanged(id: "a1", healthy: false, reason: .retired)))
        table.apply(.withdrawn(.retired(id: "a1")))
        #expect(table.healthyMembers(nowMs: t0 + 10).map(\.id) == ["a1", "a2", "a3"])
    }

    @Test("a forgotten analyser leaves the table and its partition")
    func forget() {
        var table = table()
        table.forget("a2", nowMs: t0 + 10)
        #expect(table.snapshot(nowMs: t0 + 10).map(\.id) == ["a1", "a3"])
        #expect(table.partitions == [0, 2])
        table.forget("nobody", nowMs: t0 + 10)
        #expect(table.snapshot(nowMs: t0 + 10).count == 2)
    }
}

import PacketModel
import Testing

@testable import Dispatcher

private let t0: Int64 = 1_732_400_000_000

private func beat(_ id: String, partition: Int32, at sentAt: Int64) -> Heartbeat {
    Heartbeat(id: id, partition: partition, weight: 1, state: .up, sentAt: sentAt, committedOffset: 0)
}

/// Analysers `ids` (a1 on partition 0, a2 on 1, …) heartbeating every 500 ms, and this dispatcher's probe coming
/// back every 500 ms, from `start` up to `end`.
private func steady(
    _ table: inout HealthTable, ids: [String] = ["a1", "a2", "a3"], from start: Int64, until end: Int64,
    probes: Bool = true
) {
    var now = start
    while now <= end {
        for id in ids {
            _ = table.apply(beat(id, partition: Int32(id.dropFirst())! - 1, at: now), observedAtMs: now)
        }
        if probes { table.feedConfirmed(observedAtMs: now) }
        now += 500
    }
}

@Suite("HealthTable: a blind heartbeats feed is not dead analysers")
struct HealthTableFeedTests {
    @Test("without probes, ages are wall-clock time (as before)")
    func noProbes() {
        var table = HealthTable(policy: HealthPolicy())
        steady(&table, from: t0, until: t0 + 2_000, probes: false)
        #expect(table.healthyMembers(nowMs: t0 + 3_000).count == 3)
        #expect(table.healthyMembers(nowMs: t0 + 3_500).isEmpty, "1.5 s of silence: stale")
        #expect(table.feedBlindMs(nowMs: t0 + 10_000) == 0)
    }

    @Test("the whole feed silent and no probe back: analysers keep their health, up to the blindness limit")
    func partitionWithoutLeader() {
        var table = HealthTable(policy: HealthPolicy(maxFeedBlindness: .seconds(30)))
        steady(&table, from: t0, until: t0 + 2_000)
        // The heartbeats partition loses its leader at t0 + 2 000: nothing arrives, probes included.
        for later in stride(from: Int64(2_500), through: 32_000, by: 500) {
            #expect(table.healthyMembers(nowMs: t0 + later).count == 3, "at +\(later) ms")
        }
        #expect(table.feedBlindMs(nowMs: t0 + 12_000) == 12_000 - 2_000 - 750)
        // Past the limit, silence counts again.
        #expect(table.healthyMembers(nowMs: t0 + 2_000 + 750 + 30_000 + 1_500).isEmpty)
    }

    @Test("after the failover the queued heartbeats and probes land, and health carries on without a gap")
    func failoverThenRecovery() {
        var table = HealthTable(policy: HealthPolicy())
        steady(&table, from: t0, until: t0 + 2_000)
        _ = table.evaluate(nowMs: t0 + 2_000)
        // Blind for 11 s; then everything produced meanwhile arrives at once, the probe first.
        let back = t0 + 13_000
        table.feedConfirmed(observedAtMs: back)
        #expect(table.healthyMembers(nowMs: back).count == 3, "probe back before the heartbeats: still healthy")
        #expect(table.healthyMembers(nowMs: back + 1_000).count == 3)
        steady(&table, from: back + 1_200, until: back + 1_200, probes: false)
        steady(&table, from: back + 1_500, until: back + 5_000)
        #expect(table.evaluate(nowMs: back + 5_000).allSatisfy { if case .healthChanged(_, let healthy, _) = $0 { healthy } else { true } })
        #expect(table.healthyMembers(nowMs: back + 5_000).count == 3)
        #expect(table.feedBlindMs(nowMs: back + 5_000) == 0)
    }

    @Test("an analyser that really died is still found while probes come back")
    func deadAnalyserWhileFeedCurrent() {
        var table = HealthTable(policy: HealthPolicy())
        steady(&table, from: t0, until: t0 + 2_000)
        steady(&table, ids: ["a1", "a2"], from: t0 + 2_500, until: t0 + 6_000)
        #expect(table.healthyMembers(nowMs: t0 + 6_000).map(\.id) == ["a1", "a2"])
        #expect(table.snapshot(nowMs: t0 + 6_000).first { $0.id == "a3" }?.reason == .stale)
    }

    @Test("every analyser failed while the feed is current: all stale, so the dispatcher pauses")
    func allFailedFeedCurrent() {
        var table = HealthTable(policy: HealthPolicy())
        steady(&table, from: t0, until: t0 + 2_000)
        steady(&table, ids: [], from: t0 + 2_500, until: t0 + 5_000)
        #expect(table.healthyMembers(nowMs: t0 + 5_000).isEmpty)
    }

    @Test("a stale analyser before the feed went blind stays stale")
    func staleBeforeBlindness() {
        var table = HealthTable(policy: HealthPolicy())
        steady(&table, from: t0, until: t0 + 1_000)
        // a3 stops at t0 + 1 000; a1, a2 and probes go on until t0 + 5 000, then the feed goes blind.
        steady(&table, ids: ["a1", "a2"], from: t0 + 1_500, until: t0 + 5_000)
        for later in [Int64(6_000), 9_000, 15_000] {
            #expect(table.healthyMembers(nowMs: t0 + later).map(\.id) == ["a1", "a2"], "at +\(later) ms")
        }
    }

    @Test("ages never run backwards as the feed goes blind (no flapping)", arguments: [Int64(0), 300, 700, 1_200])
    func monotonicAges(lastOffset: Int64) {
        var table = HealthTable(policy: HealthPolicy())
        table.feedConfirmed(observedAtMs: t0)
        var previous = Int64.min
        for now in stride(from: t0, through: t0 + 20_000, by: 100) {
            let age = table.age(sinceMs: t0 - lastOffset, nowMs: now)
            #expect(age >= previous)
            previous = age
        }
    }
}

import LogdistBasics
import PacketModel
import Foundation
import Testing

@testable import Dispatcher

private let t0: Int64 = 1_732_400_000_000

private func beat(
    _ id: String, partition: Int32 = 0, weight: Int = 1, state: AnalyserState = .up, at sentAt: Int64,
    committed: Int64 = 0
) -> Heartbeat {
    Heartbeat(
        id: id, partition: partition, weight: weight, state: state, sentAt: sentAt,
        committedOffset: committed)
}

private func status(_ table: HealthTable, _ id: String, at now: Int64) -> AnalyserStatus? {
    table.snapshot(nowMs: now).first { $0.id == id }
}

@Suite("HealthTable")
struct HealthTableTests {
    @Test func joinsAndBecomesHealthy() {
        var table = HealthTable(policy: HealthPolicy())
        #expect(
            table.apply(beat("a1", partition: 2, weight: 3, at: t0), observedAtMs: t0) == [
                .joined(id: "a1")
            ])
        #expect(
            table.apply(beat("a1", partition: 2, weight: 3, at: t0 + 500), observedAtMs: t0 + 500) == [])
        #expect(
            table.evaluate(nowMs: t0 + 600) == [.healthChanged(id: "a1", healthy: true, reason: .healthy)]
        )
        #expect(table.evaluate(nowMs: t0 + 700) == [], "no transition, no event")
        #expect(
            table.healthyMembers(nowMs: t0 + 700) == [SelectorMember(id: "a1", partition: 2, weight: 3)])
        #expect(table.partitions == [2])
    }

    @Test(arguments: [(Int64(0), true), (1_499, true), (1_500, false), (60_000, false)])
    func heartbeatTimeout(age: Int64, healthy: Bool) {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("a1", at: t0), observedAtMs: t0)
        #expect(table.healthyMembers(nowMs: t0 + age).isEmpty == !healthy)
        #expect(status(table, "a1", at: t0 + age)?.reason == (healthy ? .healthy : .stale))
        #expect(status(table, "a1", at: t0 + age)?.heartbeatAgeMs == age)
    }

    @Test(arguments: [
        (Duration.seconds(2), Int64(2_000)), (.milliseconds(1500), 1_500), (.microseconds(2_500), 2),
    ])
    func policyTimeoutInMilliseconds(timeout: Duration, ms: Int64) {
        #expect(HealthPolicy(heartbeatTimeout: timeout).timeoutMs == ms)
    }

    @Test func staleThenRecovered() {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("a1", at: t0), observedAtMs: t0)
        _ = table.evaluate(nowMs: t0)
        #expect(
            table.evaluate(nowMs: t0 + 1_500) == [
                .healthChanged(id: "a1", healthy: false, reason: .stale)
            ])
        _ = table.apply(beat("a1", at: t0 + 5_000), observedAtMs: t0 + 5_010)
        #expect(
            table.evaluate(nowMs: t0 + 5_020) == [
                .healthChanged(id: "a1", healthy: true, reason: .healthy)
            ])
    }

    @Test func lagLimitAndBack() {
        var table = HealthTable(policy: HealthPolicy(maxLag: 1_000))
        _ = table.apply(beat("a1", partition: 1, at: t0, committed: 500), observedAtMs: t0)
        #expect(status(table, "a1", at: t0)?.lag == nil, "unknown until an end offset is polled")
        #expect(
            table.evaluate(nowMs: t0) == [.healthChanged(id: "a1", healthy: true, reason: .healthy)])
        table.updateEndOffset(partition: 1, endOffset: 1_499)
        #expect(table.evaluate(nowMs: t0) == [])
        table.updateEndOffset(partition: 1, endOffset: 1_500)
        #expect(
            table.evaluate(nowMs: t0) == [.healthChanged(id: "a1", healthy: false, reason: .lagging)])
        #expect(status(table, "a1", at: t0)?.lag == 1_000)
        _ = table.apply(
            beat("a1", partition: 1, at: t0 + 500, committed: 1_400), observedAtMs: t0 + 500)
        #expect(
            table.evaluate(nowMs: t0 + 500) == [.healthChanged(id: "a1", healthy: true, reason: .healthy)]
        )
        let row = status(table, "a1", at: t0 + 500)
        #expect(row?.endOffset == 1_500 && row?.lag == 100 && row?.committedOffset == 1_400)
    }

    @Test func stateDownAndUp() {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("a1", at: t0), observedAtMs: t0)
        _ = table.evaluate(nowMs: t0)
        _ = table.apply(beat("a1", state: .down, at: t0 + 100), observedAtMs: t0 + 100)
        #expect(
            table.evaluate(nowMs: t0 + 100) == [.healthChanged(id: "a1", healthy: false, reason: .down)])
        #expect(table.evaluate(nowMs: t0 + 10_000) == [], "down stays down once its heartbeats stop")
        _ = table.apply(beat("a1", at: t0 + 20_000), observedAtMs: t0 + 20_000)
        #expect(
            table.evaluate(nowMs: t0 + 20_000) == [
                .healthChanged(id: "a1", healthy: true, reason: .healthy)
            ])
    }

    @Test func weightChanges() {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("a1", weight: 2, at: t0), observedAtMs: t0)
        _ = table.evaluate(nowMs: t0)
        _ = table.apply(beat("a1", weight: 5, at: t0 + 100), observedAtMs: t0 + 100)
        #expect(table.evaluate(nowMs: t0 + 100) == [])
        #expect(table.healthyMembers(nowMs: t0 + 100).map(\.weight) == [5])
        _ = table.apply(beat("a1", weight: 0, at: t0 + 200), observedAtMs: t0 + 200)
        #expect(
            table.evaluate(nowMs: t0 + 200) == [
                .healthChanged(id: "a1", healthy: false, reason: .zeroWeight)
            ])
        #expect(table.healthyMembers(nowMs: t0 + 200).isEmpty)
    }

    @Test func duplicateClaimKeepsTheFirst() {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("b", partition: 0, at: t0), observedAtMs: t0)
        let events = table.apply(beat("a", partition: 0, at: t0 + 10), observedAtMs: t0 + 10)
        #expect(
            events == [.joined(id: "a"), .conflictingClaim(partition: 0, kept: "b", rejected: "a")])
        #expect(
            table.apply(beat("a", partition: 0, at: t0 + 500), observedAtMs: t0 + 500) == [],
            "reported once")
        _ = table.apply(beat("b", partition: 0, at: t0 + 500), observedAtMs: t0 + 500)
        #expect(table.healthyMembers(nowMs: t0 + 600).map(\.id) == ["b"])
        #expect(status(table, "a", at: t0 + 600)?.reason == .conflict)

        // b dies: a, still heartbeating, takes the partition over.
        _ = table.apply(beat("a", partition: 0, at: t0 + 1_900), observedAtMs: t0 + 1_900)
        #expect(
            table.healthyMembers(nowMs: t0 + 1_999).map(\.id) == ["b"],
            "b is not stale yet; a still waits")
        #expect(
            table.evaluate(nowMs: t0 + 2_000).contains(
                .healthChanged(id: "a", healthy: true, reason: .healthy)))
        #expect(table.healthyMembers(nowMs: t0 + 2_000).map(\.id) == ["a"])
        // b comes back: now it is the one rejected.
        let back = table.apply(beat("b", partition: 0, at: t0 + 2_100), observedAtMs: t0 + 2_100)
        #expect(back == [.conflictingClaim(partition: 0, kept: "a", rejected: "b")])
        #expect(table.healthyMembers(nowMs: t0 + 2_100).map(\.id) == ["a"])
    }

    @Test func movingReplacesTheClaim() {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("a", partition: 0, at: t0), observedAtMs: t0)
        _ = table.apply(beat("b", partition: 0, at: t0), observedAtMs: t0)
        #expect(table.apply(beat("a", partition: 3, at: t0 + 100), observedAtMs: t0 + 100) == [])
        _ = table.evaluate(nowMs: t0 + 100)
        #expect(table.healthyMembers(nowMs: t0 + 100).map(\.partition) == [3, 0])
        #expect(table.partitions == [0, 3])
        #expect(table.snapshot(nowMs: t0 + 100).map(\.id) == ["b", "a"], "sorted by partition")
    }

    @Test func replayedHeartbeatsAreStaleAtStartup() {
        var table = HealthTable(policy: HealthPolicy())
        let now = t0 + 600_000
        // The compacted topic still holds a dead analyser's claim on partition 0 and old records of the others.
        var events: [HealthEvent] = []
        for old in [
            beat("dead", partition: 0, at: t0), beat("a1", partition: 1, at: t0 + 10),
            beat("a2", partition: 0, at: t0 + 20),
        ] {
            events += table.apply(old, observedAtMs: now)
        }
        #expect(
            !events.contains { if case .conflictingClaim = $0 { true } else { false } },
            "dead claims are no error")
        #expect(table.healthyMembers(nowMs: now).isEmpty)
        #expect(
            Set(
                table.evaluate(nowMs: now).map {
                    if case .healthChanged(_, let healthy, let reason) = $0 {
                        "\(healthy) \(reason)"
                    } else {
                        ""
                    }
                }) == ["false stale"])
        _ = table.apply(beat("a1", partition: 1, at: now + 5), observedAtMs: now + 10)
        _ = table.apply(beat("a2", partition: 0, at: now + 5), observedAtMs: now + 10)
        #expect(
            table.healthyMembers(nowMs: now + 20).map(\.id) == ["a1", "a2"],
            "the live claimant wins over the dead one")
        #expect(status(table, "dead", at: now + 20)?.reason == .stale)
    }

    @Test func clockAheadIsClamped() {
        var table = HealthTable(policy: HealthPolicy())
        _ = table.apply(beat("fast", at: t0 + 3_600_000), observedAtMs: t0)
        #expect(status(table, "fast", at: t0)?.lastHeartbeatMs == t0)
        #expect(table.healthyMembers(nowMs: t0 + 1_499).count == 1)
        #expect(table.healthyMembers(nowMs: t0 + 1_500).isEmpty)
    }

    @Test func snapshotRoundTripsAsJSON() throws {
        var table = HealthTable(policy: HealthPolicy())
        var heartbeat = beat("a1", partition: 1, weight: 2, at: t0, committed: 7)
        heartbeat.url = "http://127.0.0.1:8101"
        _ = table.apply(heartbeat, observedAtMs: t0)
        table.updateEndOffset(partition: 1, endOffset: 10)
        let rows = table.snapshot(nowMs: t0 + 100)
        #expect(
            rows.first?.url == "http://127.0.0.1:8101" && rows.first?.lag == 3
                && rows.first?.healthy == true)
        let decoded = try JSONDecoder().decode([AnalyserStatus].self, from: JSONEncoder().encode(rows))
        #expect(decoded == rows)
    }

    /// Random heartbeats, moves, state and weight changes, end offsets and clocks: the table stays consistent.
    @Test(arguments: 0..<32)
    func randomHistoriesStayConsistent(seed: UInt64) {
        var rng = SplitMix64(seed: seed &+ 7)
        var table = HealthTable(policy: HealthPolicy(maxLag: 50))
        var now = t0
        var reported: [String: HealthReason] = [:]
        for _ in 0..<400 {
            now += Int64.random(in: 0...400, using: &rng)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<7:
                let id = "a\(Int.random(in: 0..<5, using: &rng))"
                let heartbeat = beat(
                    id, partition: Int32.random(in: 0..<3, using: &rng),
                    weight: Int.random(in: 0...3, using: &rng),
                    state: Int.random(in: 0..<8, using: &rng) == 0 ? .down : .up,
                    at: now + Int64.random(in: -3_000...1_000, using: &rng),
                    committed: Int64.random(in: 0...100, using: &rng))
                for event in table.apply(heartbeat, observedAtMs: now) {
                    if case .conflictingClaim(_, let kept, let rejected) = event {
                        #expect(kept != rejected && rejected == id)
                    }
                }
            case 7:
                table.updateEndOffset(
                    partition: Int32.random(in: 0..<3, using: &rng),
                    endOffset: Int64.random(in: 0...150, using: &rng))
            default:
                for event in table.evaluate(nowMs: now) {
                    guard case .healthChanged(let id, let healthy, let reason) = event else { continue }
                    #expect(reported[id] != reason && healthy == (reason == .healthy))
                    reported[id] = reason
                }
            }
            let healthy = table.healthyMembers(nowMs: now)
            let rows = table.snapshot(nowMs: now)
            #expect(healthy.map(\.id) == rows.filter(\.healthy).map(\.id).sorted())
            #expect(
                Set(healthy.map(\.partition)).count == healthy.count, "one healthy analyser per partition")
            #expect(healthy.allSatisfy { $0.weight > 0 })
            #expect(rows.allSatisfy { $0.healthy == ($0.reason == .healthy) && $0.heartbeatAgeMs >= 0 })
            #expect(
                rows.allSatisfy {
                    !$0.healthy || ($0.heartbeatAgeMs < 1_500 && $0.state == .up && ($0.lag ?? 0) < 50)
                })
            #expect(
                rows.map { "\($0.partition) \($0.id)" }
                    == rows.sorted { ($0.partition, $0.id) < ($1.partition, $1.id) }.map {
                        "\($0.partition) \($0.id)"
                    })
        }
    }
}

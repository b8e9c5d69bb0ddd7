import PacketModel
import Foundation
import Testing

@testable import Dispatcher

@Suite("Heartbeat analysed counts")
struct HeartbeatCountsTests {
    @Test func aRecordFromAnOlderAnalyserStillDecodes() throws {
        let old = #"{"committedOffset":7,"id":"a1","partition":0,"sentAt":1000,"state":"up","weight":2}"#
        let heartbeat = try Heartbeat.decode(Array(old.utf8))
        #expect(heartbeat.analysedPackets == nil && heartbeat.analysedMessages == nil && heartbeat.weight == 2)
    }

    @Test func countsRoundTripAndReachTheTable() throws {
        let sent = Heartbeat(
            id: "a1", partition: 0, weight: 1, state: .up, sentAt: 1_000, committedOffset: 5, analysedPackets: 40,
            analysedMessages: 120)
        let heartbeat = try Heartbeat.decode(sent.encoded())
        #expect(heartbeat == sent)
        var table = HealthTable()
        _ = table.apply(heartbeat, observedAtMs: 1_000)
        let row = try #require(table.snapshot(nowMs: 1_100).first)
        #expect(row.analysedPackets == 40 && row.analysedMessages == 120)
        let json = String(decoding: try JSONEncoder().encode(row), as: UTF8.self)
        #expect(json.contains(#""analysedMessages":120"#))
    }
}

import Foundation
import Testing

@testable import Analyser

@Suite("AnalysisStats")
struct AnalysisStatsTests {
    let t0: Int64 = 1_732_400_000_000

    @Test func emptySnapshotHasAllLevelsAndZeros() {
        let snapshot = AnalysisStats().snapshot(nowMs: t0)
        #expect(snapshot.packets == 0 && snapshot.messages == 0 && snapshot.duplicates == 0)
        #expect(snapshot.levels == ["TRACE": 0, "DEBUG": 0, "INFO": 0, "WARN": 0, "ERROR": 0, "FATAL": 0])
        #expect(snapshot.messagesPerSecond == 0 && snapshot.errorRate == 0)
        #expect(snapshot.windowSeconds == 60)
        #expect(snapshot.topTemplates.isEmpty && snapshot.sources.isEmpty)
    }

    @Test func countsLevelsTemplatesAndSources() {
        var stats = AnalysisStats(windowSeconds: 60, topK: 2, maxSources: 10)
        stats.record(
            packetID: "p-1", source: "web-1",
            messages: [
                (level: "INFO", message: "GET /users/1 in 12ms"), (level: "info", message: "GET /users/2 in 7ms"),
                (level: "ERROR", message: "db timeout after 30s"), (level: "Fatal", message: "exit 1"),
                (level: "NOTICE", message: "hello"),
            ], nowMs: t0)
        stats.record(
            packetID: "p-2", source: nil, messages: [(level: "WARN", message: "GET /users/3 in 1ms")], nowMs: t0)
        stats.record(packetID: "p-3", source: "web-1", messages: [], nowMs: t0)
        stats.recordDuplicate()
        let s = stats.snapshot(nowMs: t0 + 500)
        #expect(s.packets == 3 && s.messages == 6 && s.duplicates == 1)
        #expect(s.levels == ["TRACE": 0, "DEBUG": 0, "INFO": 2, "WARN": 1, "ERROR": 1, "FATAL": 1, "UNKNOWN": 1])
        #expect(s.topTemplates.count == 2)
        #expect(s.topTemplates[0] == TemplateCount(template: "GET /users/<num> in <num>ms", count: 3, errorBound: 0))
        #expect(s.sources == [SourceCount(source: "web-1", count: 2), SourceCount(source: "(none)", count: 1)])
        #expect(abs(s.errorRate - 2.0 / 6.0) < 1e-9)
        #expect(s.messagesPerSecond == 6)  // elapsed under a second counts as one
    }

    @Test func rateAndErrorRateSlideWithTheWindow() {
        var stats = AnalysisStats(windowSeconds: 10)
        // 100 messages a second for 20 s: the first 10 s all ERROR, the last 10 s all INFO.
        for second in 0..<20 {
            if second == 10 { #expect(stats.snapshot(nowMs: t0 + 9_999).errorRate == 1) }
            let level = second < 10 ? "ERROR" : "INFO"
            let messages = Array(repeating: (level: level, message: "m"), count: 100)
            stats.record(packetID: "p\(second)", source: "s", messages: messages, nowMs: t0 + Int64(second) * 1000)
        }
        let atEnd = stats.snapshot(nowMs: t0 + 19_999)
        #expect(atEnd.messages == 2000)
        #expect(atEnd.messagesPerSecond == 100)  // 1000 in window / 10 s
        #expect(atEnd.errorRate == 0)  // the ERROR seconds slid out
        // Half a window since the first record: divide by the elapsed time, not the window.
        var young = AnalysisStats(windowSeconds: 60)
        young.record(
            packetID: "a", source: nil, messages: Array(repeating: (level: "INFO", message: "x"), count: 300), nowMs: t0
        )
        #expect(young.snapshot(nowMs: t0 + 30_000).messagesPerSecond == 10)
        // Long after: everything has slid out.
        let idle = stats.snapshot(nowMs: t0 + 120_000)
        #expect(idle.messagesPerSecond == 0 && idle.errorRate == 0 && idle.messages == 2000)
    }

    @Test func oldRecordsOnlyCountInTotals() {
        var stats = AnalysisStats(windowSeconds: 5)
        stats.record(packetID: "new", source: nil, messages: [(level: "INFO", message: "a")], nowMs: t0 + 10_000)
        // Same slot, ten seconds older: too old for the window.
        stats.record(packetID: "old", source: nil, messages: [(level: "ERROR", message: "b")], nowMs: t0)
        let s = stats.snapshot(nowMs: t0 + 10_000)
        #expect(s.messages == 2)
        #expect(s.errorRate == 0)
    }

    @Test func sourcesBeyondTheLimitGoToOther() {
        var stats = AnalysisStats(topK: 3, maxSources: 2)
        for (source, n) in [("a", 5), ("b", 1), ("c", 2), ("d", 2)] {
            for i in 0..<n { stats.record(packetID: "\(source)\(i)", source: source, messages: [], nowMs: t0) }
        }
        let s = stats.snapshot(nowMs: t0)
        #expect(
            s.sources == [
                SourceCount(source: "a", count: 5), SourceCount(source: "(other)", count: 4),
                SourceCount(source: "b", count: 1),
            ])
    }

    @Test func topTemplatesAreBoundedAndSorted() {
        var stats = AnalysisStats(topK: 5)
        for i in 0..<10_000 {
            let message = i % 2 == 0 ? "hit \(i)" : "unique-\(String(i, radix: 26).map { $0.isNumber ? "q" : $0 })"
            stats.record(packetID: "p\(i)", source: nil, messages: [(level: "INFO", message: message)], nowMs: t0)
        }
        let top = stats.snapshot(nowMs: t0).topTemplates
        #expect(top.count == 5)
        #expect(top[0].template == "hit <num>" && top[0].count == 5000 && top[0].errorBound == 0)
        #expect(zip(top, top.dropFirst()).allSatisfy { $0.count >= $1.count })
    }

    @Test func snapshotRoundTripsThroughJSON() throws {
        var stats = AnalysisStats()
        stats.record(packetID: "p", source: "s", messages: [(level: "ERROR", message: "boom 42")], nowMs: t0)
        let snapshot = stats.snapshot(nowMs: t0 + 2000)
        let decoded = try JSONDecoder().decode(StatsSnapshot.self, from: JSONEncoder().encode(snapshot))
        #expect(decoded == snapshot)
    }
}

import LoadGen
import Testing

@testable import Dispatcher

@Suite("LoadRun")
struct LoadRunTests {
    let request = LoadRequest(rate: 50, packetsPerRequest: 4, messagesPerPacket: 3, durationSeconds: 10)

    func window(_ statuses: [Int: Int], errors: Int = 0, packetsPerRequest: Int = 4) -> LoadTotals {
        var totals = LoadTotals()
        totals.statuses = statuses
        totals.errors = errors
        totals.requests = statuses.values.reduce(errors, +)
        totals.packetsAccepted = (statuses[202] ?? 0) * packetsPerRequest
        for _ in 0..<totals.requests { _ = totals.latency.record(2_000) }
        return totals
    }

    @Test func windowsAddUpWhileItRuns() {
        var run = LoadRun(id: 1, request: request, connections: 4, startedAtMs: 1_000)
        #expect(run.isRunning && run.endsAtMs == 11_000)
        let first = run.record(window: window([202: 48, 503: 2]), nowMs: 2_000)
        #expect(first.ok2xx == 48 && first.non2xx == 2 && first.requests == 50 && first.packetsAccepted == 192)
        _ = run.record(window: window([202: 50], errors: 1), nowMs: 3_000)
        #expect(run.counts.requests == 101 && run.counts.ok2xx == 98 && run.counts.non2xx == 2 && run.counts.errors == 1)
        #expect(run.lastSecond(nowMs: 3_500)?.requests == 51)
        #expect(run.lastSecond(nowMs: 6_000) == nil, "a window seconds old is not a rate")
        let status = LoadStatus(enabled: true, detail: nil, target: "t", limits: LoadLimits(), run: run, nowMs: 3_000)
        #expect(status.run?.requestsPerSecond == 51)
        #expect(status.run?.messagesAccepted == 98 * 4 * 3)
        #expect(status.run?.statuses == ["202": 98, "503": 2])
        #expect(status.run?.latency.p50Ms == 2.0 && status.run?.elapsedSeconds == 2.0)
    }

    @Test func theGeneratorsTotalsReplaceTheWindowsAtTheEnd() {
        var run = LoadRun(id: 1, request: request, connections: 4, startedAtMs: 0)
        _ = run.record(window: window([202: 50]), nowMs: 1_000)
        let remainder = run.finish(final: window([202: 60, 500: 1]), error: nil, nowMs: 1_200)
        #expect(remainder.ok2xx == 10 && remainder.non2xx == 1 && remainder.requests == 11 && remainder.packetsAccepted == 40)
        #expect(!run.isRunning && run.stopReason == .duration && run.counts.requests == 61)
        #expect(run.lastSecond(nowMs: 1_300) == nil)
        #expect(run.record(window: window([202: 5]), nowMs: 1_400) == LoadCounts(), "nothing counts after the end")
        #expect(run.finish(final: nil, error: nil, nowMs: 2_000) == LoadCounts() && run.finishedAtMs == 1_200)
    }

    @Test("the first stop asked for is the reason", arguments: [LoadStopReason.requested, .shutdown])
    func stopReasons(reason: LoadStopReason) {
        var run = LoadRun(id: 2, request: request, connections: 4, startedAtMs: 0)
        run.requestStop(reason)
        run.requestStop(reason == .requested ? .shutdown : .requested)
        _ = run.finish(final: window([202: 3]), error: nil, nowMs: 500)
        #expect(run.stopReason == reason)
    }

    @Test func aFailedGeneratorSaysWhy() {
        var run = LoadRun(id: 3, request: request, connections: 4, startedAtMs: 0)
        _ = run.record(window: window([202: 5]), nowMs: 1_000)
        _ = run.finish(final: nil, error: "connect refused", nowMs: 1_500)
        #expect(run.stopReason == .failed && run.error == "connect refused" && run.counts.ok2xx == 5)
    }

    @Test func statusWithoutARun() {
        let status = LoadStatus(enabled: false, detail: "off", target: nil, limits: LoadLimits(), run: nil, nowMs: 0)
        #expect(!status.enabled && status.detail == "off" && status.run == nil)
    }
}

import Analyser
import AsyncHTTPClient
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Dispatcher
import Foundation
import LoadGen
import Logging
import Synchronization

/// How `logdist demo` runs.
public struct DemoOptions: Sendable {
    public var duration: Duration = .seconds(40)
    /// Packets per second offered (one packet per request).
    public var rate: Double = 1500
    public var connections = 16
    public var analysers = [AnalyserSpec(id: "a1", weight: 1), AnalyserSpec(id: "a2", weight: 2), AnalyserSpec(id: "a3", weight: 3)]
    /// Which analyser fails midway; default the second.
    public var failAnalyser: String?
    /// How long it stays failed; shortened if its backlog would not fit the embedded broker's retention.
    public var outage: Duration = .seconds(8)
    /// How long to wait for every accepted packet to be analysed after the load stops.
    public var settleTimeout: Duration = .seconds(60)
    /// Bytes the embedded broker keeps per partition (librdkafka 2.0.2's mock: about 5 MiB).
    public var retentionBytes = 5 << 20
    public var kafka: KafkaConfig?

    public init() {}
}

/// Runs the pipeline, drives load, fails one analyser through its admin endpoint and brings it back, then checks
/// from the analysers' own records that every accepted packet was analysed exactly once and the weights held.
public struct DemoRunner: Sendable {
    let options: DemoOptions
    let logger: Logger

    public init(options: DemoOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run(say: @escaping @Sendable (String) -> Void) async throws -> DemoReport {
        var config = PipelineConfig()
        config.kafka = options.kafka
        config.analysers = options.analysers
        config.namespace = "demo-\(UUID().uuidString.prefix(6).lowercased())"
        config.ingestPort = 0
        config.dispatcherPort = 0
        config.analyserBasePort = 0
        config.recordIDs = true
        config.heartbeatInterval = .milliseconds(250)
        config.heartbeatTimeout = .milliseconds(1000)
        let pipeline = try Pipeline(config: config, logger: logger)
        try await pipeline.prepare()
        return try await ServiceGroupRunner.with(pipeline.services(), logger: logger) {
            await pipeline.waitUntilListening()
            return try await drive(pipeline, say: say)
        }
    }

    private func drive(_ pipeline: Pipeline, say: @escaping @Sendable (String) -> Void) async throws -> DemoReport {
        let failID = options.failAnalyser ?? options.analysers[min(1, options.analysers.count - 1)].id
        guard let failing = pipeline.analyser(failID) else { throw ValidationFailure("no analyser \(failID)") }
        guard await waitUntil(timeout: .seconds(30), { pipeline.dispatcher.view().analysers.filter(\.status.healthy).count == options.analysers.count }) else {
            throw ValidationFailure("analysers did not become healthy within 30 s")
        }
        guard await waitUntil(timeout: .seconds(30), { !pipeline.dispatcher.view().inputPartitions.isEmpty }) else {
            throw ValidationFailure("the dispatcher got no partitions of \(pipeline.topics.packets) within 30 s")
        }
        let outage = sizedOutage(failing: failID)
        let ingestURL = "http://127.0.0.1:\(pipeline.ingest.boundPort.current ?? 0)/v1/packets"
        let failingURL = "http://127.0.0.1:\(failing.boundPort.current ?? 0)"
        let token = pipeline.config.adminToken.revealed
        say("demo: \(options.analysers.map { "\($0.id)×\($0.weight)" }.joined(separator: " ")), \(Int(options.rate)) packets/s for \(options.duration), \(failID) fails for \(outage) at 30%")

        let startedAt = epochMilliseconds()
        let timeline = Locked<[DemoReport.Sample]>([])
        let events = Locked(FailureEvents())
        let plan = LoadPlan(url: ingestURL, rate: options.rate, duration: options.duration, connections: options.connections, batch: 1)
        let loadResult = try await withThrowingTaskGroup(of: LoadTotals?.self) { group in
            group.addTask {
                let (totals, _) = try await LoadGenerator(plan: plan, keepIDs: true).run { second, window in
                    if second % 5 == 0 { say("  \(second)s: \(window.requests) req/s, statuses \(window.statuses)") }
                }
                return totals
            }
            group.addTask {
                try await sample(pipeline, into: timeline, until: startedAt + Int64(options.duration.milliseconds) + Int64(options.settleTimeout.milliseconds))
                return nil
            }
            group.addTask {
                try await Task.sleep(for: options.duration * 0.3)
                try await admin(failingURL, "fail", token: token)
                let failAt = epochMilliseconds()
                events.withLock { $0.failAt = failAt }
                say("  \(failID) failed (POST /internal/simulate/fail)")
                if await waitUntil(timeout: .seconds(10), every: .milliseconds(20), {
                    pipeline.dispatcher.view().analysers.first { $0.status.id == failID }?.status.healthy == false
                }) {
                    let detected = epochMilliseconds()
                    events.withLock { $0.detectedAt = detected }
                    say("  dispatcher stopped sending to \(failID) after \(detected - failAt) ms")
                }
                try await Task.sleep(until: .now.advanced(by: outage) , clock: .continuous)
                let backlog = failing.stats().offsets.lag
                try await admin(failingURL, "begin", token: token)
                let beginAt = epochMilliseconds()
                events.withLock {
                    $0.beginAt = beginAt
                    $0.backlog = backlog
                }
                say("  \(failID) back (POST /internal/simulate/begin), replaying \(backlog) packets")
                if await waitUntil(timeout: .seconds(60), every: .milliseconds(20), { failing.stats().replay.finishedAtMs != nil && failing.stats().offsets.lag == 0 }) {
                    let caughtUp = epochMilliseconds()
                    events.withLock { $0.caughtUpAt = caughtUp }
                    say("  \(failID) caught up after \(caughtUp - beginAt) ms")
                }
                return nil
            }
            var totals: LoadTotals?
            while true {
                let next: LoadTotals??
                do {
                    next = try await group.next()
                } catch is CancellationError {
                    continue
                }
                guard let finished = next else { break }
                if let result = finished {
                    totals = result
                    say("  load done: \(result.packetsAccepted) accepted; waiting for every packet to be analysed")
                    let accepted = Set(result.acceptedIDs)
                    _ = await waitUntil(timeout: options.settleTimeout, every: .milliseconds(200)) {
                        var seen = 0
                        for analyser in pipeline.analysers { seen += analyser.analysedIDs().keys.filter { accepted.contains($0) }.count }
                        return seen >= accepted.count && events.withLock { $0.caughtUpAt != nil }
                    }
                    group.cancelAll()
                }
            }
            return totals ?? LoadTotals()
        }
        return buildReport(pipeline, load: loadResult, events: events.withLock { $0 }, timeline: timeline.withLock { $0 }, failID: failID, startedAt: startedAt)
    }

    struct FailureEvents: Sendable {
        var failAt: Int64 = 0
        var detectedAt: Int64?
        var beginAt: Int64?
        var caughtUpAt: Int64?
        var backlog: Int64 = 0
    }

    /// Keeps the failed analyser's backlog inside the embedded broker's retention (lz4 roughly halves JSON, but
    /// count it uncompressed for margin).
    private func sizedOutage(failing id: String) -> Duration {
        guard options.kafka == nil else { return options.outage }
        let totalWeight = Double(options.analysers.reduce(0) { $0 + $1.weight })
        let weight = Double(options.analysers.first { $0.id == id }?.weight ?? 1)
        let perSecond = options.rate * weight / max(1, totalWeight) * 260
        let fits = Double(options.retentionBytes) * 0.8 / max(1, perSecond)
        return fits < options.outage.secondsDouble ? .milliseconds(Int64(fits * 1000)) : options.outage
    }

    private func sample(_ pipeline: Pipeline, into timeline: Locked<[DemoReport.Sample]>, until endMs: Int64) async throws {
        var last = pipeline.analysers.map { $0.analysedIDs().count }
        var lastAt = epochMilliseconds()
        while epochMilliseconds() < endMs, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            let now = epochMilliseconds()
            let counts = pipeline.analysers.map { $0.analysedIDs().count }
            var rates: [String: Double] = [:]
            for (index, analyser) in pipeline.analysers.enumerated() {
                rates[analyser.config.id] = Double(counts[index] - last[index]) * 1000 / Double(max(1, now - lastAt))
            }
            timeline.withLock { $0.append(.init(atMs: now, rates: rates)) }
            last = counts
            lastAt = now
        }
    }

    private func admin(_ base: String, _ action: String, token: String) async throws {
        var request = HTTPClientRequest(url: "\(base)/internal/simulate/\(action)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        guard response.status == .ok else { throw ValidationFailure("\(action) answered \(response.status.code)") }
    }

    private func buildReport(
        _ pipeline: Pipeline, load: LoadTotals, events: FailureEvents, timeline: [DemoReport.Sample], failID: String, startedAt: Int64
    ) -> DemoReport {
        var counts: [String: Int] = [:]
        var perAnalyser: [String: Int] = [:]
        for analyser in pipeline.analysers {
            let ids = analyser.analysedIDs()
            perAnalyser[analyser.config.id] = ids.values.reduce(0, +)
            counts.merge(ids, uniquingKeysWith: +)
        }
        let accepted = load.acceptedIDs
        let lost = accepted.filter { counts[$0] == nil }.count
        let duplicated = counts.values.reduce(0) { $0 + max(0, $1 - 1) }
        let totalAnalysed = perAnalyser.values.reduce(0, +)
        var latency = LatencyHistogram.make()
        var steady = latency
        for analyser in pipeline.analysers {
            latency.add(analyser.latencyHistogram())
            if analyser.config.id != failID { steady.add(analyser.latencyHistogram()) }
        }
        let view = pipeline.dispatcher.view()
        let epochs = view.epochs.filter { !$0.counts.isEmpty }
        let maxDeviation = epochs.map(\.maxDeviation).max() ?? 0
        let failedStats = pipeline.analyser(failID)?.stats()
        let analysers = pipeline.analysers.map { analyser in
            let stats = analyser.stats()
            return DemoReport.AnalyserResult(
                id: analyser.config.id, weight: analyser.config.weight, analysed: perAnalyser[analyser.config.id] ?? 0,
                share: totalAnalysed > 0 ? Double(perAnalyser[analyser.config.id] ?? 0) / Double(totalAnalysed) : 0,
                retentionLostPackets: stats.retentionLostPackets, replayPackets: stats.replay.packets, replayMs: stats.replay.durationMs)
        }
        let ms = { (p: Double) in Double(latency.valueAtPercentile(p)) / 1000 }
        let steadyMs = { (p: Double) in Double(steady.valueAtPercentile(p)) / 1000 }
        let ingestMs = { (p: Double) in Double(load.latency.valueAtPercentile(p)) / 1000 }
        let detection = events.detectedAt.map { $0 - events.failAt }
        let replay = events.caughtUpAt.flatMap { caught in events.beginAt.map { caught - $0 } }
        let elapsed = max(0.001, options.duration.secondsDouble)
        let retentionLost = analysers.reduce(Int64(0)) { $0 + $1.retentionLostPackets }
        let timeoutMs = Int64(pipeline.config.heartbeatTimeout.milliseconds)
        var checks: [DemoReport.Check] = []
        checks.append(.init(name: "accepted", passed: !accepted.isEmpty, detail: "\(accepted.count) packets got a 202"))
        checks.append(.init(name: "lost = 0", passed: lost == 0, detail: "\(lost) accepted packets were never analysed"))
        checks.append(.init(name: "duplicated = 0", passed: duplicated == 0, detail: "\(duplicated) extra analyses of an accepted packet"))
        checks.append(.init(
            name: "weights respected", passed: !epochs.isEmpty && maxDeviation <= 3,
            detail: String(format: "%d periods of unchanged health; largest deviation from the exact weighted share %.1f packets (limit 3)", epochs.count, maxDeviation)))
        checks.append(.init(
            name: "failure detected", passed: detection.map { $0 <= timeoutMs + 1000 } ?? false,
            detail: detection.map { "after \($0) ms (heartbeat timeout \(timeoutMs) ms)" } ?? "never"))
        checks.append(.init(
            name: "backlog replayed", passed: replay != nil && (failedStats?.offsets.lag ?? 1) == 0,
            detail: replay.map { "\(events.backlog) packets in \($0) ms" } ?? "the failed analyser did not catch up"))
        checks.append(.init(name: "no retention loss", passed: retentionLost == 0, detail: "\(retentionLost) packets deleted before they were read"))
        return DemoReport(
            delivery: pipeline.dispatcher.mode.rawValue, durationSeconds: elapsed, rateTarget: options.rate, accepted: accepted.count,
            rejected: Dictionary(uniqueKeysWithValues: load.statuses.filter { $0.key != 202 }.map { ("\($0.key)", $0.value) }),
            analysed: totalAnalysed, lost: lost, duplicated: duplicated, failedAnalyser: failID, failAtMs: events.failAt,
            detectedAtMs: events.detectedAt, beginAtMs: events.beginAt, caughtUpAtMs: events.caughtUpAt, detectionMs: detection,
            replayMs: replay, backlogPackets: events.backlog, throughputPacketsPerSecond: Double(accepted.count) / elapsed,
            ingestLatencyMs: ["p50": ingestMs(50), "p90": ingestMs(90), "p99": ingestMs(99), "max": Double(load.latency.maxRecorded) / 1000],
            endToEndLatencyMs: ["p50": ms(50), "p90": ms(90), "p99": ms(99), "p999": ms(99.9), "max": Double(latency.maxRecorded) / 1000],
            steadyEndToEndLatencyMs: ["p50": steadyMs(50), "p90": steadyMs(90), "p99": steadyMs(99), "p999": steadyMs(99.9)],
            maxEpochDeviation: maxDeviation, epochs: epochs, analysers: analysers, timeline: timeline, startedAtMs: startedAt, checks: checks)
    }

    /// Writes report.json and chart.svg into `directory`.
    public static func write(_ report: DemoReport, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: directory).appendingPathComponent("report.json"))
        try Data(DemoChart.svg(report).utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("chart.svg"))
    }
}


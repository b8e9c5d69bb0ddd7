import AsyncHTTPClient
import LogdistBasics
import PacketModel
import Foundation
import Histogram
import NIOCore
import Synchronization

/// An HTTP load generator for the ingest API: open-loop at a fixed rate (latency counted from the moment a request
/// was due, so a slow server cannot hide its queueing), or closed-loop as fast as possible.
public struct LoadGenerator: Sendable {
    let plan: LoadPlan
    let keepIDs: Bool

    public init(plan: LoadPlan, keepIDs: Bool) {
        self.plan = plan
        self.keepIDs = keepIDs
    }

    /// Runs the plan; `progress` is called about once a second with the counts of that second.
    ///
    /// `stop` ends the run early and cleanly: no new request is sent, those in flight are answered and counted, and
    /// the totals are returned. Cancelling the task ends it at once: requests in flight are abandoned, not counted.
    public func run(
        stop: LoadStop = LoadStop(), progress: @escaping @Sendable (Int, LoadTotals) -> Void
    ) async throws -> (LoadTotals, Duration) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: plan.connections)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let window = SharedTotals()
        let started = ContinuousClock.now
        let end = started.advanced(by: plan.duration)
        var url = plan.url
        if plan.batch > 1, url.hasSuffix("/v1/packets") { url += ":batch" }
        let target = url
        let totals: LoadTotals
        do {
            totals = try await withThrowingTaskGroup(of: LoadTotals.self) { group in
                for worker in 0..<plan.connections {
                    group.addTask {
                        try await work(worker: worker, client: client, url: target, start: started, end: end, window: window, stop: stop)
                    }
                }
                group.addTask {
                    var second = 0
                    while ContinuousClock.now < end {
                        second += 1
                        guard await Self.pause(until: started.advanced(by: .seconds(second)), stop: stop) else { break }
                        let snapshot = window.take()
                        progress(second, snapshot)
                    }
                    return LoadTotals()
                }
                var all = LoadTotals()
                for try await part in group { all.merge(part) }
                return all
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return (totals, ContinuousClock.now - started)
    }

    private func work(
        worker: Int, client: HTTPClient, url: String, start: ContinuousClock.Instant, end: ContinuousClock.Instant,
        window: SharedTotals, stop: LoadStop
    ) async throws -> LoadTotals {
        var totals = LoadTotals()
        let interval: Duration? = plan.rate > 0 ? .nanoseconds(Int64(1e9 * Double(plan.connections) / plan.rate)) : nil
        // Spread the workers' schedules over one interval so requests do not arrive in bursts.
        var due = start.advanced(by: (interval ?? .zero) * (Double(worker) / Double(plan.connections)))
        var sequence = 0
        var body = LoadBody(
            idPrefix: "\(plan.runID)-\(worker)-", packets: plan.batch, messagesPerPacket: plan.messagesPerPacket,
            levels: plan.levels, slot: worker)
        while due < end, !stop.isStopped, !Task.isCancelled {
            if interval != nil {
                guard await Self.pause(until: due, stop: stop) else { break }
            } else {
                due = ContinuousClock.now
            }
            body.render(firstSequence: sequence, now: epochMilliseconds())
            let first = sequence
            sequence += plan.batch
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: plan.batch > 1 ? "application/x-ndjson" : "application/json")
            if let token = plan.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            request.body = .bytes(ByteBuffer(bytes: body.bytes))
            var status = 0
            do {
                let response = try await client.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                status = Int(response.status.code)
            } catch {
                if Task.isCancelled { break }
                status = -1
            }
            let latency = UInt64(max(0, (ContinuousClock.now - due).microseconds))
            let accepted = status == 202 ? plan.batch : 0
            totals.record(status: status, accepted: accepted, latency: latency)
            if accepted > 0, keepIDs { totals.acceptedIDs += (first..<(first + plan.batch)).map(body.id(sequence:)) }
            window.record(status: status, accepted: accepted, latency: latency)
            if let interval { due = due.advanced(by: interval) }
        }
        return totals
    }

    /// Sleeps until `deadline`, waking every 50 ms to look at `stop`; false once the run is stopped or cancelled.
    private static func pause(until deadline: ContinuousClock.Instant, stop: LoadStop) async -> Bool {
        while ContinuousClock.now < deadline {
            if stop.isStopped || Task.isCancelled { return false }
            try? await Task.sleep(until: min(deadline, ContinuousClock.now.advanced(by: .milliseconds(50))), clock: .continuous)
        }
        return !(stop.isStopped || Task.isCancelled)
    }
}

/// Ends a `LoadGenerator` run cleanly from outside: no new requests; the ones in flight are answered and counted.
public final class LoadStop: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func stop() { flag.store(true, ordering: .relaxed) }

    public var isStopped: Bool { flag.load(ordering: .relaxed) }
}


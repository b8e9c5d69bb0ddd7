import PacketModel
import ServiceSupport
import Foundation
import LoadGen
import Logging
import ServiceLifecycle
import Synchronization

/// The dashboard's load generator: one run at a time against the operator-configured ingest URL, within
/// `LoadLimits`, stopped when asked, when its duration runs out, or when the dispatcher shuts down.
///
/// A `Service`: runs execute as child tasks of its `run()`, so none outlives the dispatcher.
final class LoadControl: Service, Sendable {
    let limits: LoadLimits
    /// Where load goes; nil turns load control off.
    let target: String?
    /// Why load control is off, for the page and for 403s; nil when on.
    let disabledDetail: String?
    private let ingestToken: String?
    private let metrics: LoadMetrics
    private let logger: Logger
    private let state = Mutex(State())
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation

    private struct State: Sendable {
        var run: LoadRun?
        var nextID = 1
        /// Stops the current run cleanly.
        var stop: LoadStop?
        var shutDown = false
    }

    private struct Command: Sendable {
        let id: Int
        let plan: LoadPlan
        let stop: LoadStop
    }

    init(config: DispatcherConfig, metrics: LoadMetrics, logger: Logger) {
        limits = config.loadLimits
        ingestToken = config.ingestToken?.revealed
        self.metrics = metrics
        self.logger = logger
        if config.adminToken == nil {
            target = nil
            disabledDetail = "load control is off: start the dispatcher with --admin-token (or LOGDIST_ADMIN_TOKEN) and --ingest-url"
        } else if let url = config.ingestURL {
            target = url
            disabledDetail = nil
        } else {
            target = nil
            disabledDetail = "load control is off: start the dispatcher with --ingest-url http://host:port (or LOGDIST_INGEST_URL)"
        }
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
    }

    func status() -> LoadStatus {
        let run = state.withLock { $0.run }
        return LoadStatus(
            enabled: target != nil, detail: disabledDetail, target: target, limits: limits, run: run, nowMs: epochMilliseconds())
    }

    /// Starts a run; 403 when load control is off, 422 outside the limits, 409 while another run is going.
    func start(_ request: LoadRequest) throws(APIError) -> LoadStatus {
        guard let target else { throw APIError(status: .forbidden, error: "load_disabled", detail: disabledDetail ?? "") }
        let plan = try limits.plan(for: request, url: target, token: ingestToken)
        let stop = LoadStop()
        let started: Result<Int, APIError> = state.withLock { s in
            if s.shutDown { return .failure(.unavailable("the dispatcher is shutting down", retryAfterSeconds: 5)) }
            if s.run?.isRunning == true {
                return .failure(
                    APIError(status: .conflict, error: "load_running", detail: "a load run is already going: stop it first (DELETE /v1/load)"))
            }
            let id = s.nextID
            s.nextID += 1
            s.run = LoadRun(id: id, request: request, connections: plan.connections, startedAtMs: epochMilliseconds())
            s.stop = stop
            return .success(id)
        }
        let id = try started.get()
        commandSink.yield(Command(id: id, plan: plan, stop: stop))
        logger.notice(
            "load run started",
            metadata: [
                "load.run": "\(id)", "load.rate": "\(request.rate)", "load.packets_per_request": "\(request.packetsPerRequest)",
                "load.messages_per_packet": "\(request.messagesPerPacket)", "load.duration_s": "\(request.durationSeconds)",
                "load.target": "\(target)",
            ])
        return status()
    }

    /// Stops the run in progress, if any: no new requests; those in flight are answered and counted, and the final
    /// counts follow within moments in `status()`.
    func stop(_ reason: LoadStopReason = .requested) -> LoadStatus {
        state.withLock { s in
            s.run?.requestStop(reason)
            s.stop?.stop()
        }
        return status()
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await command in commands {
                    group.addTask { await self.execute(command) }
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.shutDown = true }
            _ = self.stop(.shutdown)
            self.commandSink.finish()
        }
    }

    private func execute(_ command: Command) async {
        metrics.running.set(1.0)
        defer { metrics.running.set(0.0) }
        let generator = LoadGenerator(plan: command.plan, keepIDs: false)
        var final: LoadTotals?
        var error: String?
        do {
            final = try await generator.run(stop: command.stop) { [self] _, window in
                let counts = state.withLock { $0.run?.record(window: window, nowMs: epochMilliseconds()) }
                if let counts { metrics.add(counts) }
            }.0
        } catch let failure {
            error = "\(failure)"
        }
        let (remainder, run) = state.withLock { s -> (LoadCounts, LoadRun?) in
            guard s.run?.id == command.id else { return (LoadCounts(), nil) }
            let remainder = s.run?.finish(final: final, error: error, nowMs: epochMilliseconds()) ?? LoadCounts()
            s.stop = nil
            return (remainder, s.run)
        }
        metrics.add(remainder)
        if let run {
            let counts = run.counts
            logger.notice(
                "load run ended",
                metadata: [
                    "load.run": "\(run.id)", "load.reason": "\(run.stopReason?.rawValue ?? "?")", "load.requests": "\(counts.requests)",
                    "load.ok_2xx": "\(counts.ok2xx)", "load.non_2xx": "\(counts.non2xx)", "load.errors": "\(counts.errors)",
                ])
            if let error { logger.error("load generator failed", metadata: ["load.run": "\(run.id)", "error": "\(error)"]) }
        }
    }
}

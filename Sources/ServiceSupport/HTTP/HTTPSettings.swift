import LogdistBasics
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif
import Prometheus
import Synchronization

/// Where and how a service listens: address, idle timeout and a cap on concurrent connections.
public struct HTTPSettings: Sendable {
    public var host: String
    /// 0 picks a free port (see `BoundPort`).
    public var port: Int
    /// Connections idle longer than this are closed (slow or stalled clients cannot hold a slot forever).
    public var idleTimeout: Duration = .seconds(30)
    /// Connections beyond this wait in the accept backlog.
    public var maxConnections = 4096

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }

    public var applicationConfiguration: ApplicationConfiguration {
        ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: "logdist",
            availableConnectionsDelegate: MaximumAvailableConnections(maxConnections))
    }

    public var serverBuilder: HTTPServerBuilder {
        .http1(configuration: .init(idleTimeout: .milliseconds(Int64(idleTimeout.milliseconds))))
    }

    /// The HTTP server of a service: reports its port to `boundPort` and logs where it listens.
    /// The HTTP server as a service; a port that is taken ends it with an error naming the address.
    public func application<Responder: HTTPResponder>(
        router: Responder, service: String, boundPort: BoundPort, logger: Logger
    ) -> any Service where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        let app = Application(
            responder: router, server: serverBuilder, configuration: applicationConfiguration,
            onServerRunning: { channel in
                boundPort.set(from: channel)
                logger.info("\(service) listening", metadata: [LogKeys.address: "\(channel.localAddress?.description ?? "?")"])
            }, logger: logger)
        return ListeningService(app: app, service: service, host: host, port: port)
    }
}

/// A server that could not listen: the address and what to do.
public struct ListenError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs an HTTP application; turns "address in use" into an error that names the address and the way out.
struct ListeningService<App: Service>: Service {
    let app: App
    let service: String
    let host: String
    let port: Int

    func run() async throws {
        do {
            try await app.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ListenError(
                description: "\(service) cannot listen on \(host):\(port): the port is taken by another process; "
                    + "stop it or choose another port (--port)")
        }
    }
}

/// The port a server actually bound, known once it runs (for port 0 in tests and `logdist up`).
public final class BoundPort: Sendable {
    private let value = Mutex<Int?>(nil)
    private let waiters = Mutex<[CheckedContinuation<Int, Never>]>([])

    public init() {}

    public func set(from channel: any Channel) {
        guard let port = channel.localAddress?.port else { return }
        let pending: [CheckedContinuation<Int, Never>] = value.withLock { value in
            value = port
            return waiters.withLock { waiters in
                defer { waiters.removeAll() }
                return waiters
            }
        }
        for waiter in pending { waiter.resume(returning: port) }
    }

    public var current: Int? { value.withLock { $0 } }

    /// Suspends until the server is listening.
    public func wait() async -> Int {
        await withCheckedContinuation { continuation in
            let known: Int? = value.withLock { value in
                if let value { return value }
                waiters.withLock { $0.append(continuation) }
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}

extension Router {
    /// `GET /metrics` in Prometheus text format, refreshing gauges first.
    public func addMetricsRoute(registry: PrometheusCollectorRegistry, refresh: @escaping @Sendable () async -> Void = {}) {
        get("/metrics") { _, _ -> Response in
            await refresh()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16_384)
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }

    /// `GET /health/live` (the process serves HTTP) and `GET /health/ready` (`ready()` says why not, or nil).
    public func addHealthRoutes(ready: @escaping @Sendable () async -> String?) {
        get("/health/live") { _, _ in jsonResponse(["status": "live"]) }
        get("/health/ready") { _, _ -> Response in
            if let reason = await ready() {
                return jsonResponse(["status": "not ready", "reason": reason], status: .serviceUnavailable)
            }
            return jsonResponse(["status": "ready"])
        }
    }
}

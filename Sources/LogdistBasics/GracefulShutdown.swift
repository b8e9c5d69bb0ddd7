import ServiceLifecycle

/// Runs a closure until graceful shutdown, then an optional clean-up; for small background loops.
public struct BackgroundService: Service {
    let name: String
    let body: @Sendable () async throws -> Void

    public init(name: String, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.body = body
    }

    public func run() async throws {
        try await runUntilGracefulShutdown(body)
    }
}

/// Runs start-up work that may wait a long time (for a cluster that is still coming up); nil when a graceful
/// shutdown ended the wait, so the service returns instead of waiting on.
public func untilGracefulShutdown<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    do {
        return try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError {
        return nil
    }
}

/// Runs `body` until graceful shutdown cancels it; the cancellation that ends it is not an error.
public func runUntilGracefulShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError {
        return
    }
}

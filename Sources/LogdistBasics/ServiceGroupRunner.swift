import Logging
import ServiceLifecycle

/// Runs services in the background of some work, then shuts them down gracefully.
public enum ServiceGroupRunner {
    public static func with<T: Sendable>(
        _ services: [any Service], logger: Logger, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            do {
                let result = try await body()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                _ = try? await tasks.waitForAll()
                throw error
            }
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func waitUntil(
    timeout: Duration, every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

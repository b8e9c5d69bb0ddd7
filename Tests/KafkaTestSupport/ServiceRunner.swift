import LogdistBasics
import Logging
import ServiceLifecycle

/// Runs services in the background of a test and shuts them down gracefully at the end.
public typealias ServiceRunner = ServiceGroupRunner

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(
    timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    try await waitUntil(timeout: timeout, every: interval, condition)
}

import Foundation
import Histogram
import Synchronization

/// Counts over the whole run and per second.
public struct LoadTotals: Sendable {
    public var requests = 0
    public var packetsAccepted = 0
    public var statuses: [Int: Int] = [:]
    public var errors = 0
    public var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    public var acceptedIDs: [String] = []

    public init() {}

    mutating func record(status: Int, accepted: Int, latency: UInt64) {
        requests += 1
        if status < 0 { errors += 1 } else { statuses[status, default: 0] += 1 }
        packetsAccepted += accepted
        _ = self.latency.record(latency)
    }

    public mutating func merge(_ other: LoadTotals) {
        requests += other.requests
        packetsAccepted += other.packetsAccepted
        statuses.merge(other.statuses, uniquingKeysWith: +)
        errors += other.errors
        latency.add(other.latency)
        acceptedIDs += other.acceptedIDs
    }
}

/// Formats a latency in microseconds for humans.
public func formatLatency(_ microseconds: UInt64) -> String {
    microseconds >= 1_000_000 ? String(format: "%.2fs", Double(microseconds) / 1e6)
        : String(format: "%.2fms", Double(microseconds) / 1000)
}

/// The current second's counts, shared by the workers and the progress reporter.
final class SharedTotals: Sendable {
    private let totals = Mutex(LoadTotals())

    func record(status: Int, accepted: Int, latency: UInt64) {
        totals.withLock { $0.record(status: status, accepted: accepted, latency: latency) }
    }

    func take() -> LoadTotals {
        totals.withLock { current in
            defer { current = LoadTotals() }
            return current
        }
    }
}

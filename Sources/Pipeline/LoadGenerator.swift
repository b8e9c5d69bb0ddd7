import AsyncHTTPClient
import Common
import Foundation
import Histogram
import NIOCore
import Synchronization

/// What to send and how fast.
public struct LoadPlan: Sendable {
    public var url: String
    /// Requests per second across all connections; 0 sends as fast as responses allow.
    public var rate: Double
    public var duration: Duration
    public var connections: Int
    /// Packets per request (NDJSON to the batch route when > 1).
    public var batch: Int
    public var messagesPerPacket = 1
    public var token: String?
    public var runID = String(UUID().uuidString.prefix(8)).lowercased()
    public var levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]

    public init(url: String, rate: Double, duration: Duration, connections: Int, batch: Int, messagesPerPacket: Int = 1, token: String? = nil) {
        self.url = url
        self.rate = rate
        self.duration = duration
        self.connections = connections
        self.batch = batch
        self.messagesPerPacket = messagesPerPacket
        self.token = token
    }
}

/// Counts over the whole run and per second.
public struct LoadTotals: Sendable {
    public var requests = 0
    public var packetsAccepted = 0
    public var statuses: [Int: Int] = [:]
    public var errors = 0
    public var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    public var acceptedIDs: [String] = []

    mutating func record(status: Int, accepted: Int, latency: UInt64) {
        requests += 1
        if status < 0 { errors += 1 } else { statuses[status, default: 0] += 1 }
        packetsAccepted += accepted
        _ = self.latency.record(latency)
    }

    mutating func merge(_ other: LoadTotals) {
        requests += other.requests
        packetsAccepted += other.packetsAccepted
        statuses.merge(other.statuses, uniquingKeysWith: +)
        errors += other.errors
        latency.add(other.latency)
        acceptedIDs += other.acceptedIDs
    }
}

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
    public func run(progress: @escaping @Sendable (Int, LoadTotals) -> Void) async throws -> (LoadTotals, Duration) {
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
                    group.addTask { try await work(worker: worker, client: client, url: target, start: started, end: end, window: window) }
                }
                group.addTask {
                    var second = 0
                    while ContinuousClock.now < end {
                        second += 1
                        try? await Task.sleep(until: started.advanced(by: .seconds(second)), clock: .continuous)
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
        window: SharedTotals
    ) async throws -> LoadTotals {
        var totals = LoadTotals()
        let interval: Duration? = plan.rate > 0 ? .nanoseconds(Int64(1e9 * Double(plan.connections) / plan.rate)) : nil
        // Spread the workers' schedules over one interval so requests do not arrive in bursts.
        var due = start.advanced(by: (interval ?? .zero) * (Double(worker) / Double(plan.connections)))
        var sequence = 0
        var body = LoadBody(
            idPrefix: "\(plan.runID)-\(worker)-", packets: plan.batch, messagesPerPacket: plan.messagesPerPacket,
            levels: plan.levels, slot: worker)
        while due < end {
            if interval != nil {
                if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
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

}

/// The body of one load request — `packets` packets, NDJSON when more than one — built once; each request patches
/// its fixed-width fields in place (the sequence number in each id, the timestamps, the numbers in the message
/// text), so the load tool spends its CPU on HTTP, not on building strings.
///
/// Packet `i` of a request with first sequence `s` has id `<idPrefix><s + i, 12 digits>`, source `load-<(s+i) % 8>`
/// and message text `request <(s+i) % 1000, 3 digits> served in <(s+i) % 97, 2 digits> ms`; its level is
/// `levels[(slot + i + m) % levels.count]` for message `m`.
struct LoadBody {
    private(set) var bytes: [UInt8] = []
    let idPrefix: String
    /// Per field: where it starts, how many digits, and what it holds.
    private var fields: [Field] = []

    private struct Field {
        enum Value { case sequence, timestamp, source, request, millis }
        var offset: Int
        var width: Int
        var value: Value
        var packet: Int
    }

    init(idPrefix: String, packets: Int, messagesPerPacket: Int, levels: [String], slot: Int) {
        self.idPrefix = idPrefix
        for packet in 0..<packets {
            if packet > 0 { bytes.append(0x0A) }
            append(#"{"id":"\#(idPrefix)"#)
            field(.sequence, width: 12, packet: packet)
            append(#"","timestamp":"#)
            field(.timestamp, width: 13, packet: packet)
            append(#","source":"load-"#)
            field(.source, width: 1, packet: packet)
            append(#"","messages":["#)
            for message in 0..<messagesPerPacket {
                if message > 0 { append(",") }
                append(#"{"level":"\#(levels[(slot + packet + message) % levels.count])","message":"request "#)
                field(.request, width: 3, packet: packet)
                append(" served in ")
                field(.millis, width: 2, packet: packet)
                append(#" ms","timestamp":"#)
                field(.timestamp, width: 13, packet: packet)
                append("}")
            }
            append("]}")
        }
        render(firstSequence: 0, now: 1_000_000_000_000)
    }

    /// The id of the packet with this sequence number.
    func id(sequence: Int) -> String {
        let digits = String(sequence % 1_000_000_000_000)
        return idPrefix + String(repeating: "0", count: 12 - digits.count) + digits
    }

    /// Patches every field for packets `firstSequence...` at `now` (epoch ms, 13 digits until the year 2286).
    mutating func render(firstSequence: Int, now: Int64) {
        let fields = fields
        bytes.withUnsafeMutableBufferPointer { bytes in
            for field in fields {
                let sequence = firstSequence + field.packet
                let value: Int
                switch field.value {
                case .sequence: value = sequence
                case .timestamp: value = Int(now)
                case .source: value = sequence % 8
                case .request: value = sequence % 1000
                case .millis: value = sequence % 97
                }
                var rest = value
                for index in stride(from: field.offset + field.width - 1, through: field.offset, by: -1) {
                    bytes[index] = UInt8(48 + rest % 10)
                    rest /= 10
                }
            }
        }
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func field(_ value: Field.Value, width: Int, packet: Int) {
        fields.append(Field(offset: bytes.count, width: width, value: value, packet: packet))
        bytes.append(contentsOf: repeatElement(UInt8(48), count: width))
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

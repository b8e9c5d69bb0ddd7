import Operations
import AsyncHTTPClient
import LogdistBasics
import KafkaClient
import PacketModel
import Foundation
import LoadGen
import Logging

/// How `logdist chaos` runs.
public struct ChaosOptions: Sendable {
    public var duration: Duration = .seconds(25)
    public var rate: Double = 300
    public var connections = 8
    /// Mean time between kills (nil: no service is killed) and between broker faults.
    public var killEvery: Duration? = .seconds(4)
    public var faultEvery: Duration = .seconds(5)
    public var dispatcherBatchSize = 500
    public var seed: UInt64 = UInt64(Date().timeIntervalSince1970)
    public var basePort = 19_000
    /// A real cluster instead of the embedded broker: no broker faults there, the dispatcher runs exactly-once,
    /// and duplicated must be 0.
    public var kafka: KafkaConfig?
    /// On a real cluster: the operator's command that kills and restarts brokers, run as `<command> kill <n>` (SIGKILL
    /// broker n) and `<command> start <n>` (start it again; returns once it is up), n from 1 to `brokers`.
    public var brokerControl: String?
    public var brokers = 3
    /// How long a killed broker stays dead (real cluster), at least.
    public var brokerDowntime: Duration = .seconds(12)
    /// Dispatcher instances (each with its own stable instance id).
    public var dispatchers = 1
    public var workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("logdist-chaos-\(UUID().uuidString.prefix(6))").path

    public init() {}
}

/// Counts the chaos run ends with.
public struct ChaosReport: Codable, Sendable {
    public var accepted: Int
    public var analysed: Int
    public var lost: Int
    public var duplicated: Int
    public var kills: [String: Int]
    public var faults: [String: Int]
    public var duplicateBound: Int
    public var delivery: String
    /// The longest gap between consecutive records of the assigned topic (dispatcher produce time, all partitions):
    /// how long the pipeline as a whole stopped, at worst.
    public var longestPauseMs: Int64
    public var passed: Bool

    public var text: String {
        """
        chaos: accepted \(accepted)  analysed \(analysed)  lost \(lost)  duplicated \(duplicated) (bound \(duplicateBound), \(delivery))
               kills \(kills.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))  faults \(faults.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
               longest pause in dispatching \(longestPauseMs) ms
        \(passed ? "chaos passed" : "chaos FAILED")
        """
    }
}

/// Runs ingest, a dispatcher and three analysers as separate processes on an embedded broker it owns, drives
/// load, SIGKILLs random components and injects broker faults, then checks every accepted packet was analysed.
public struct ChaosRunner: Sendable {
    let options: ChaosOptions
    let binary: URL
    let logger: Logger

    public init(options: ChaosOptions, binary: URL, logger: Logger) {
        self.options = options
        self.binary = binary
        self.logger = logger
    }

    final class Component: @unchecked Sendable {
        // Owned by the chaos task alone; @unchecked because Foundation's Process is not Sendable.
        let name: String
        let arguments: [String]
        let logPath: String
        var process: Process?

        init(name: String, arguments: [String], logPath: String) {
            self.name = name
            self.arguments = arguments
            self.logPath = logPath
        }

        func start(binary: URL) throws {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            try handle.seekToEnd()
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            self.process = process
        }

        func kill() {
            guard let process, process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func terminate() {
            guard let process, process.isRunning else { return }
            process.terminate()
            process.waitUntilExit()
        }
    }

    public func run(say: @escaping @Sendable (String) -> Void) async throws -> ChaosReport {
        try FileManager.default.createDirectory(atPath: options.workDirectory, withIntermediateDirectories: true)
        let broker: EmbeddedBroker? = options.kafka == nil ? try EmbeddedBroker(brokers: 3, logger: logger) : nil
        let kafka = options.kafka ?? KafkaConfig(bootstrapServers: broker!.bootstrapServers, embedded: true)
        let topics = Topics(namespace: "chaos-\(UUID().uuidString.prefix(6).lowercased())")
        let admin = try KafkaAdmin(kafka: kafka, logger: logger)
        try await TopicProvisioner.ensure(
            topics.specs(packetPartitions: 6, analyserSlots: 3, replicationFactor: broker == nil ? -1 : 3), admin: admin,
            embedded: broker, logger: logger)
        await admin.close()
        let bootstrap = kafka.bootstrapServers
        let dir = options.workDirectory
        let properties = kafka.properties.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] }
        let common = ["--bootstrap", bootstrap, "--namespace", topics.namespace, "--log-level", "warning"] + properties
        let ingestPort = options.basePort
        // With broker kills, a killed broker's un-replicated acks must not count: acks=all is the default, and the
        // ack timeout covers a leader failover.
        let ackTimeout = options.brokerControl == nil ? 2000 : 20_000
        var components: [Component] = [
            Component(name: "ingest", arguments: ["ingest"] + common + ["--port", "\(ingestPort)", "--ack-timeout-ms", "\(ackTimeout)", "--otlp-grpc-port", "0"], logPath: "\(dir)/ingest.log")
        ]
        for index in 0..<3 {
            components.append(
                Component(
                    name: "a\(index + 1)",
                    arguments: ["analyse"] + common + [
                        "--id", "a\(index + 1)", "--partition", "\(index)", "--weight", "\(index + 1)", "--port", "\(ingestPort + 1 + index)",
                        "--heartbeat-interval-ms", "250", "--audit-file", "\(dir)/a\(index + 1).audit",
                    ], logPath: "\(dir)/a\(index + 1).log"))
        }
        for index in 0..<max(1, options.dispatchers) {
            let name = options.dispatchers > 1 ? "dispatcher\(index + 1)" : "dispatcher"
            components.append(
                Component(
                    name: name,
                    arguments: ["dispatch"] + common + [
                        "--port", "\(ingestPort + 4 + index)", "--instance-id", "chaos-\(index + 1)",
                        "--batch-size", "\(options.dispatcherBatchSize)", "--commit-interval-ms", "50",
                        "--heartbeat-timeout-ms", "1500", "--session-timeout-ms", "6000",
                    ], logPath: "\(dir)/\(name).log"))
        }
        for component in components { try component.start(binary: binary) }
        defer { for component in components { component.terminate() } }
        say("chaos: ingest, dispatcher, a1..a3 as processes on \(broker == nil ? "the cluster" : "an embedded broker (3 brokers)") at \(bootstrap); logs in \(dir)")
        try await waitForIngest(port: ingestPort)

        var random = SplitMix64(seed: options.seed)
        var kills: [String: Int] = [:]
        var faults: [String: Int] = [:]
        let plan = LoadPlan(
            url: "http://127.0.0.1:\(ingestPort)/v1/packets", rate: options.rate, duration: options.duration,
            connections: options.connections, batch: 1)
        let started = ContinuousClock.now
        let end = started.advanced(by: options.duration)
        let totals = try await withThrowingTaskGroup(of: LoadTotals?.self) { group in
            group.addTask {
                let (totals, _) = try await LoadGenerator(plan: plan, keepIDs: true).run { _, _ in }
                return totals
            }
            let killEvery = options.killEvery ?? .seconds(1_000_000)
            var nextKill = started.advanced(by: killEvery * random.jitter())
            var nextFault = started.advanced(by: options.faultEvery * random.jitter())
            while ContinuousClock.now < end.advanced(by: .seconds(-2)) {
                try await Task.sleep(for: .milliseconds(100))
                let now = ContinuousClock.now
                if now >= nextKill {
                    let victim = components[Int(random.next() % UInt64(components.count))]
                    victim.kill()
                    kills[victim.name, default: 0] += 1
                    say("  SIGKILL \(victim.name)")
                    try await Task.sleep(for: .milliseconds(300 + Int(random.next() % 700)))
                    try victim.start(binary: binary)
                    nextKill = ContinuousClock.now.advanced(by: killEvery * random.jitter())
                }
                if let broker, now >= nextFault {
                    switch random.next() % 3 {
                    case 0:
                        broker.pushRequestErrors(.produce, errors: [KafkaErrorCode.notLeaderForPartition, KafkaErrorCode.requestTimedOut, KafkaErrorCode.notEnoughReplicas])
                        faults["produce-errors", default: 0] += 1
                        say("  fault: produce request errors")
                    case 1:
                        broker.pushRequestErrors(.fetch, errors: [KafkaErrorCode.notLeaderForPartition, KafkaErrorCode.transport])
                        faults["fetch-errors", default: 0] += 1
                        say("  fault: fetch request errors")
                    default:
                        let id = Int32(1 + random.next() % 3)
                        try broker.setBrokerDown(id)
                        say("  fault: broker \(id) down for 2 s")
                        try await Task.sleep(for: .seconds(2))
                        try broker.setBrokerUp(id)
                        faults["broker-down", default: 0] += 1
                    }
                    nextFault = ContinuousClock.now.advanced(by: options.faultEvery * random.jitter())
                } else if let control = options.brokerControl, now >= nextFault {
                    let id = 1 + Int(random.next() % UInt64(max(1, options.brokers)))
                    try await Self.shell("\(control) kill \(id)")
                    say("  broker \(id) SIGKILL (\(control) kill \(id))")
                    faults["broker-kill", default: 0] += 1
                    try await Task.sleep(for: options.brokerDowntime)
                    try await Self.shell("\(control) start \(id)")
                    say("  broker \(id) started again")
                    nextFault = ContinuousClock.now.advanced(by: options.faultEvery * random.jitter())
                }
            }
            var totals = LoadTotals()
            for try await part in group { if let part { totals = part } }
            return totals
        }
        say("  load done: \(totals.packetsAccepted) accepted (statuses \(totals.statuses), connection errors \(totals.errors)); waiting for analysis")
        let accepted = totals.acceptedIDs
        var counts: [String: Int] = [:]
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        repeat {
            try await Task.sleep(for: .seconds(1))
            counts = readAudits(dir)
        } while accepted.contains(where: { counts[$0] == nil }) && ContinuousClock.now < deadline
        let longestPause = try await longestDispatchGap(kafka: kafka, topic: topics.assigned, partitions: 3)
        let lost = accepted.filter { counts[$0] == nil }.count
        let acceptedSet = Set(accepted)
        let duplicated = counts.filter { acceptedSet.contains($0.key) }.values.reduce(0) { $0 + max(0, $1 - 1) }
        // At-least-once: a killed dispatcher redoes at most its uncommitted batch; a failed batch (a fault) is
        // redone whole. Exactly-once (a real cluster): none.
        let exactlyOnce = broker == nil
        let bound = exactlyOnce ? 0 : options.dispatcherBatchSize * ((kills["dispatcher"] ?? 0) + faults.values.reduce(0, +) + 1)
        return ChaosReport(
            accepted: accepted.count, analysed: counts.keys.filter { acceptedSet.contains($0) }.count, lost: lost,
            duplicated: duplicated, kills: kills, faults: faults, duplicateBound: bound,
            delivery: exactlyOnce ? "exactly-once" : "at-least-once", longestPauseMs: longestPause,
            passed: lost == 0 && duplicated <= bound && !accepted.isEmpty)
    }

    /// Runs a shell command without blocking a thread of the cooperative pool; a non-zero exit is an error.
    static func shell(_ command: String) async throws {
        let status = try await Shell.runDetached(command)
        guard status == 0 else { throw ValidationFailure("'\(command)' exited with \(status)") }
    }

    /// The largest gap between consecutive record timestamps of `topic` (read_committed), across its partitions.
    private func longestDispatchGap(kafka: KafkaConfig, topic: String, partitions: Int32) async throws -> Int64 {
        var config = KafkaConsumer.Configuration(kafka: kafka, groupID: nil)
        config.clientName = "chaos-gaps"
        let consumer = try KafkaConsumer(configuration: config, logger: logger)
        try consumer.assign((0..<partitions).map { TopicPartitionOffset(topic, $0, KafkaOffset.beginning) })
        var stamps: [Int64] = []
        var idle = 0
        while idle < 10 {
            let batch = try await consumer.poll(maxMessages: 10_000, timeout: .milliseconds(200))
            if batch.messages.isEmpty { idle += 1 } else { idle = 0 }
            stamps += batch.messages.compactMap(\.timestamp)
        }
        await consumer.close()
        stamps.sort()
        return zip(stamps, stamps.dropFirst()).map { $1 - $0 }.max() ?? 0
    }

    private func waitForIngest(port: Int) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while ContinuousClock.now < deadline {
            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/ready")
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ValidationFailure("ingest did not become ready on port \(port)")
    }

    /// Packet id → times analysed, across the analysers' audit files.
    private func readAudits(_ dir: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for index in 1...3 {
            guard let data = FileManager.default.contents(atPath: "\(dir)/a\(index).audit") else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let space = line.firstIndex(of: " ") else { continue }
                counts[String(line[line.index(after: space)...]), default: 0] += 1
            }
        }
        return counts
    }
}


extension SplitMix64 {
    /// A factor between 0.5 and 1.5, for jittered intervals.
    mutating func jitter() -> Double { 0.5 + Double(next() % 1000) / 1000 }
}

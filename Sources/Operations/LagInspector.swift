import KafkaClient
import PacketModel
import Foundation
import Logging

/// One analyser in `logdist lag`.
public struct AnalyserLagRow: Codable, Sendable, Equatable {
    public var id: String
    public var partition: Int32
    public var state: AnalyserState
    /// The weight routing uses: an operator's override (`logdist weight`), else the analyser's own.
    public var weight: Int
    /// Retired by an operator (`logdist drain`): routed nothing.
    public var retired: Bool
    public var heartbeatAgeMs: Int64
    /// The analyser group's committed offset; nil when it never committed.
    public var committedOffset: Int64?
    public var endOffset: Int64
    public var lag: Int64
    /// Share of the packets assigned since the previous sample, nil without one.
    public var recentShare: Double?
}

/// The dispatcher group's position on the packets topic.
public struct GroupLag: Codable, Sendable, Equatable {
    public struct Partition: Codable, Sendable, Equatable {
        public var partition: Int32
        public var committedOffset: Int64?
        public var endOffset: Int64
        public var lag: Int64
    }

    public var group: String
    public var partitions: [Partition]
    public var totalLag: Int64
}

/// What `logdist lag` shows: every analyser known from heartbeats, and the dispatcher group.
public struct LagReport: Codable, Sendable, Equatable {
    public var namespace: String
    public var generatedAtMs: Int64
    public var analysers: [AnalyserLagRow]
    public var dispatcher: GroupLag
}

/// What the heartbeats topic says of the fleet.
public struct FleetState: Sendable {
    public var heartbeats: [Heartbeat] = []
    public var directives = FleetDirectives()
}

/// Reads lag from Kafka alone (heartbeats, group offsets, watermarks), so it works against any cluster and
/// even when the dispatcher is down. Analysers' groups are found from heartbeats, not by listing groups.
public final class LagInspector: Sendable {
    let kafka: KafkaConfig
    let topics: Topics
    let admin: KafkaAdmin
    let logger: Logger

    public init(kafka: KafkaConfig, topics: Topics, logger: Logger) throws {
        self.kafka = kafka
        self.topics = topics
        self.logger = logger
        self.admin = try KafkaAdmin(kafka: kafka, logger: logger)
    }

    /// The latest heartbeat of every analyser (tombstoned ones dropped).
    public func latestHeartbeats(timeout: Duration = .seconds(10)) async throws -> [Heartbeat] {
        try await fleetState(timeout: timeout).heartbeats
    }

    /// The heartbeats topic read from its start to its end: the latest heartbeat of every analyser (tombstoned ones
    /// dropped, sorted by partition and id) and the operators' directives in force.
    public func fleetState(timeout: Duration = .seconds(10)) async throws -> FleetState {
        let tp = TopicPartition(topics.heartbeats, 0)
        let marks = try await admin.watermarks(tp, timeout: timeout)
        guard marks.high > marks.low else { return FleetState() }
        var config = KafkaConsumer.Configuration(kafka: kafka, groupID: nil)
        config.clientName = "lag-heartbeats"
        config.isolationLevel = .readUncommitted
        let consumer = try KafkaConsumer(configuration: config, logger: logger)
        try consumer.assign([TopicPartitionOffset(tp.topic, 0, marks.low)])
        var latest: [String: Heartbeat] = [:]
        var directives = FleetDirectives()
        var position = marks.low
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while position < marks.high, ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxMessages: 10_000, timeout: .milliseconds(200))
            for message in batch.messages {
                position = max(position, message.offset + 1)
                let key = message.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
                if let directive = FleetDirective.parse(key: key, value: message.value) {
                    directives.apply(directive)
                    continue
                }
                guard let value = message.value else {
                    latest[key] = nil
                    continue
                }
                if let heartbeat = try? Heartbeat.decode(value) { latest[heartbeat.id] = heartbeat }
            }
        }
        await consumer.close()
        return FleetState(
            heartbeats: latest.values.sorted { ($0.partition, $0.id) < ($1.partition, $1.id) }, directives: directives)
    }

    /// A report; with `previous`, each analyser's share of what was assigned in between.
    public func report(previous: LagReport? = nil) async throws -> LagReport {
        let now = epochMilliseconds()
        let fleet = try await fleetState()
        var rows: [AnalyserLagRow] = []
        for heartbeat in fleet.heartbeats {
            let tp = TopicPartition(topics.assigned, heartbeat.partition)
            let marks = try await admin.watermarks(tp)
            let committed = try await admin.committedOffsets(group: topics.analyserGroup(heartbeat.id), partitions: [tp])[tp]
            rows.append(
                AnalyserLagRow(
                    id: heartbeat.id, partition: heartbeat.partition, state: heartbeat.state,
                    weight: fleet.directives.weight(of: heartbeat.id, heartbeat: heartbeat.weight),
                    retired: fleet.directives.retired.contains(heartbeat.id),
                    heartbeatAgeMs: max(0, now - heartbeat.sentAt), committedOffset: committed, endOffset: marks.high,
                    lag: max(0, marks.high - (committed ?? marks.low)), recentShare: nil))
        }
        if let previous {
            let before = Dictionary(previous.analysers.map { ($0.id, $0.endOffset) }, uniquingKeysWith: { a, _ in a })
            let deltas = rows.map { row in max(0, row.endOffset - (before[row.id] ?? row.endOffset)) }
            let total = deltas.reduce(0, +)
            for index in rows.indices {
                rows[index].recentShare = total > 0 ? Double(deltas[index]) / Double(total) : 0
            }
        }
        let group = topics.dispatcherGroup
        var partitions: [GroupLag.Partition] = []
        if let count = try await admin.partitionCount(topic: topics.packets) {
            let tps = (0..<count).map { TopicPartition(topics.packets, Int32($0)) }
            let committed = try await admin.committedOffsets(group: group, partitions: tps)
            for tp in tps {
                let marks = try await admin.watermarks(tp)
                let offset = committed[tp]
                partitions.append(
                    .init(partition: tp.partition, committedOffset: offset, endOffset: marks.high, lag: max(0, marks.high - (offset ?? marks.low))))
            }
        }
        return LagReport(
            namespace: topics.namespace, generatedAtMs: now, analysers: rows,
            dispatcher: GroupLag(group: group, partitions: partitions, totalLag: partitions.reduce(0) { $0 + $1.lag }))
    }

    public func close() async {
        await admin.close()
    }
}

/// Renders a lag report as an aligned text table, like `kafka-consumer-groups --describe`.
public enum LagTable {
    public static func render(_ report: LagReport) -> String {
        var lines: [[String]] = [["ANALYSER", "PARTITION", "STATE", "WEIGHT", "HEARTBEAT", "COMMITTED", "END", "LAG", "SHARE"]]
        for row in report.analysers {
            lines.append([
                row.id, "\(row.partition)", row.retired ? "retired" : row.state.rawValue, "\(row.weight)", formatAge(row.heartbeatAgeMs),
                row.committedOffset.map(String.init) ?? "-", "\(row.endOffset)", "\(row.lag)",
                row.recentShare.map { String(format: "%.1f%%", $0 * 100) } ?? "-",
            ])
        }
        var output = align(lines)
        if report.analysers.isEmpty { output += "(no analyser has sent a heartbeat in namespace \(report.namespace))\n" }
        output += "\nGROUP \(report.dispatcher.group)  total lag \(report.dispatcher.totalLag)\n"
        var groupLines: [[String]] = [["PARTITION", "COMMITTED", "END", "LAG"]]
        for partition in report.dispatcher.partitions {
            groupLines.append([
                "\(partition.partition)", partition.committedOffset.map(String.init) ?? "-", "\(partition.endOffset)", "\(partition.lag)",
            ])
        }
        output += align(groupLines)
        return output
    }

    static func formatAge(_ ms: Int64) -> String {
        ms < 10_000 ? String(format: "%.1fs", Double(ms) / 1000) : (ms < 3_600_000 ? "\(ms / 1000)s" : "\(ms / 3_600_000)h")
    }

    public static func align(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = (0..<first.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

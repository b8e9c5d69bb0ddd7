import Foundation

/// An operator's standing instruction about the analyser fleet, kept on the compacted heartbeats topic beside the
/// heartbeats (under keys that start with `~`, which no analyser id may), so every dispatcher — and every one that
/// starts later — applies the same: a weight that overrides the analyser's own, an analyser retired from routing,
/// or a partition whose backlog was drained to the others.
///
/// A tombstone (null value) on a directive's key withdraws it.
public enum FleetDirective: Sendable, Equatable {
    /// Route to `id` as if its weight were `weight`, whatever its heartbeats say.
    case weight(id: String, weight: Int, setAtMs: Int64)
    /// `id` gets no new packets; its backlog may be drained to the others.
    case retired(id: String, setAtMs: Int64)
    /// `partition` of the assigned topic was drained up to `drainedTo` (exclusive): an analyser that takes the slot
    /// over without a committed offset of its own starts there, not at the log start.
    case drainedSlot(partition: Int32, drainedTo: Int64, from: String, setAtMs: Int64)

    /// The key prefix of every directive (and of the dispatchers' feed probes): never an analyser id.
    public static let prefix = "~"

    /// Keys are `~weight.<id>`, `~retired.<id>` and `~slot.<partition>`.
    public var key: String {
        switch self {
        case .weight(let id, _, _): return Self.weightKey(id)
        case .retired(let id, _): return Self.retiredKey(id)
        case .drainedSlot(let partition, _, _, _): return Self.slotKey(partition)
        }
    }

    public static func weightKey(_ id: String) -> String { "~weight.\(id)" }
    public static func retiredKey(_ id: String) -> String { "~retired.\(id)" }
    public static func slotKey(_ partition: Int32) -> String { "~slot.\(partition)" }

    /// What a record with this key is: a directive (`value` decoded, nil for a tombstone that withdraws it), or not
    /// a directive at all (`nil` result: a heartbeat, a probe).
    public enum Parsed: Sendable, Equatable {
        case set(FleetDirective)
        case withdrawn(Withdrawn)
        /// A `~` key this version does not know (written by a newer logdist): ignored.
        case unknown
    }

    /// A withdrawn directive, known by its key alone.
    public enum Withdrawn: Sendable, Equatable {
        case weight(id: String)
        case retired(id: String)
        case drainedSlot(partition: Int32)
    }

    /// nil when `key` is not a directive's.
    public static func parse(key: String, value: [UInt8]?) -> Parsed? {
        guard key.hasPrefix("~") else { return nil }
        let body = key.dropFirst()
        guard let dot = body.firstIndex(of: ".") else { return .unknown }
        let kind = body[..<dot]
        let subject = String(body[body.index(after: dot)...])
        guard !subject.isEmpty else { return .unknown }
        switch kind {
        case "weight":
            guard let value else { return .withdrawn(.weight(id: subject)) }
            guard let record = try? JSONDecoder().decode(WeightRecord.self, from: Data(value)), record.id == subject,
                record.weight >= 0
            else { return .unknown }
            return .set(.weight(id: subject, weight: record.weight, setAtMs: record.setAtMs))
        case "retired":
            guard let value else { return .withdrawn(.retired(id: subject)) }
            guard let record = try? JSONDecoder().decode(RetiredRecord.self, from: Data(value)), record.id == subject
            else { return .unknown }
            return .set(.retired(id: subject, setAtMs: record.setAtMs))
        case "slot":
            guard let partition = Int32(subject) else { return .unknown }
            guard let value else { return .withdrawn(.drainedSlot(partition: partition)) }
            guard let record = try? JSONDecoder().decode(SlotRecord.self, from: Data(value)), record.partition == partition
            else { return .unknown }
            return .set(.drainedSlot(partition: partition, drainedTo: record.drainedTo, from: record.from, setAtMs: record.setAtMs))
        default:
            return .unknown
        }
    }

    /// The record's value (JSON, sorted keys).
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data?
        switch self {
        case .weight(let id, let weight, let setAtMs):
            data = try? encoder.encode(WeightRecord(id: id, weight: weight, setAtMs: setAtMs))
        case .retired(let id, let setAtMs):
            data = try? encoder.encode(RetiredRecord(id: id, setAtMs: setAtMs))
        case .drainedSlot(let partition, let drainedTo, let from, let setAtMs):
            data = try? encoder.encode(SlotRecord(partition: partition, drainedTo: drainedTo, from: from, setAtMs: setAtMs))
        }
        return Array(data ?? Data())
    }

    private struct WeightRecord: Codable {
        var id: String
        var weight: Int
        var setAtMs: Int64
    }

    private struct RetiredRecord: Codable {
        var id: String
        var setAtMs: Int64
    }

    private struct SlotRecord: Codable {
        var partition: Int32
        var drainedTo: Int64
        var from: String
        var setAtMs: Int64
    }
}

/// The directives in force, as read from the heartbeats topic; pure.
public struct FleetDirectives: Sendable, Equatable {
    public private(set) var weights: [String: Int] = [:]
    public private(set) var retired: Set<String> = []
    /// Per drained partition: where its drain ended, and which analyser it came from.
    public private(set) var drainedSlots: [Int32: DrainedSlot] = [:]

    public struct DrainedSlot: Sendable, Equatable {
        public var drainedTo: Int64
        public var from: String
    }

    public init() {}

    public mutating func apply(_ parsed: FleetDirective.Parsed) {
        switch parsed {
        case .set(.weight(let id, let weight, _)): weights[id] = weight
        case .set(.retired(let id, _)): retired.insert(id)
        case .set(.drainedSlot(let partition, let drainedTo, let from, _)):
            drainedSlots[partition] = DrainedSlot(drainedTo: drainedTo, from: from)
        case .withdrawn(.weight(let id)): weights[id] = nil
        case .withdrawn(.retired(let id)): retired.remove(id)
        case .withdrawn(.drainedSlot(let partition)): drainedSlots[partition] = nil
        case .unknown: break
        }
    }

    /// The weight routing uses for `id`: the operator's, else its own.
    public func weight(of id: String, heartbeat: Int) -> Int { weights[id] ?? heartbeat }
}

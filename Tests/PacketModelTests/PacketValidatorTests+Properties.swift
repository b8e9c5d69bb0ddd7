import Foundation
import Testing

import LogdistBasics
@testable import PacketModel


/// Random valid packets as JSON text, each with the packet it must decode to.
struct PacketGenerator {
    var random: SplitMix64

    private static let scalars: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "-", ":", "{", "]", ",", "\"", "\\", "/", "\n", "\t", "\r", "\u{0}", "\u{1F}", "\u{7F}",
        "é", "ß", "日", "€", "\u{2028}", "\u{FFFF}", "😀", "𝄞", "\u{10FFFF}",
    ]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ percent: Int) -> Bool { int(1...100) <= percent }

    mutating func text(maxScalars: Int) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<int(0...maxScalars) { scalars.append(Self.scalars[int(0...(Self.scalars.count - 1))]) }
        return String(scalars)
    }

    /// `text` as a JSON string literal, escaping at random where escapes are optional.
    mutating func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += chance(50) ? "\\\"" : "\\u0022"
            case "\\": out += chance(50) ? "\\\\" : "\\u005C"
            case "\n": out += chance(50) ? "\\n" : "\\u000a"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "/" where chance(50): out += "\\/"
            case _ where scalar.value < 0x20 || chance(20): out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private mutating func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let upper = chance(50)
        return String(scalar.utf16.map { String(format: upper ? "\\u%04X" : "\\u%04x", $0) }.joined())
    }

    mutating func space() -> String { ["", "", "", " ", "\n", "\t ", "\r\n  "][int(0...6)] }

    /// Any JSON value, nesting at most `depth` more containers.
    mutating func value(depth: Int) -> String {
        switch int(depth > 0 ? 0...7 : 0...5) {
        case 0: return "null"
        case 1: return chance(50) ? "true" : "false"
        case 2: return String(int(-1_000_000...1_000_000))
        case 3: return ["0.5", "-0", "1e9", "2.5E-3", "123456789012345678901234567890", "-0.0e+0"][int(0...5)]
        case 4, 5: return literal(text(maxScalars: 6))
        case 6:
            return "[" + (0..<int(0...3)).map { _ in space() + value(depth: depth - 1) }.joined(separator: ",") + "]"
        default: return object((0..<int(0...4)).map { ("k\($0)", value(depth: depth - 1)) })
        }
    }

    /// An object from members in random order and spacing; keys are spelled with random escapes.
    mutating func object(_ members: [(String, String)]) -> String {
        var members = members
        members.shuffle(using: &random)
        let parts = members.map { member in space() + literal(member.0) + space() + ":" + space() + member.1 + space() }
        return "{" + parts.joined(separator: ",") + "}"
    }

    mutating func timestamp() -> Int64 {
        [0, 1_732_400_000_000, Int64.max, Int64(int(0...Int.max))][int(0...3)]
    }

    mutating func packet() -> (json: String, packet: Packet) {
        var id = text(maxScalars: 20)
        if id.isEmpty || id.utf8.count > 128 { id = "p" }
        var members: [(String, String)] = [("id", literal(id))]
        var packet = Packet(id: id, messages: [])
        if chance(50) {
            packet.timestamp = timestamp()
            members.append(("timestamp", String(packet.timestamp ?? 0)))
        } else if chance(20) {
            members.append(("timestamp", "null"))
        }
        if chance(50) {
            packet.source = text(maxScalars: 8)
            members.append(("source", literal(packet.source ?? "")))
        }
        var messages: [String] = []
        for _ in 0..<int(1...8) {
            let level = LogLevel.allCases[int(0...5)]
            let spelled = String(level.rawValue.map { chance(50) ? Character($0.lowercased()) : $0 })
            var message = LogMessage(level: level, message: text(maxScalars: 30))
            var fields = [("level", literal(spelled)), ("message", literal(message.message))]
            if chance(50) {
                message.timestamp = timestamp()
                fields.append(("timestamp", String(message.timestamp ?? 0)))
            }
            if chance(50) {
                message.attributeCount = int(0...5)
                fields.append(("attributes", object((0..<message.attributeCount).map { ("a\($0)", value(depth: 3)) })))
            }
            if chance(30) { fields.append(("extra", value(depth: 4))) }
            messages.append(object(fields))
            packet.messages.append(message)
        }
        members.append(("messages", "[" + messages.map { space() + $0 + space() }.joined(separator: ",") + "]"))
        if chance(30) { members.append(("unknown", value(depth: 5))) }
        return (space() + object(members) + space(), packet)
    }
}

/// Validates `body` every way the services do; returns validate's outcome. Never traps, whatever the bytes.
private func exercise(_ body: [UInt8], limits: PacketLimits = .init()) -> Result<PacketSummary, ValidationError> {
    let summary = Result { () throws(ValidationError) in try PacketValidator.validate(body, limits: limits) }
    let packet = Result { () throws(ValidationError) in try PacketValidator.decode(body, limits: limits) }
    switch (summary, packet) {
    case (.success(let summary), .success(let packet)):
        #expect(summary.id == packet.id && summary.messageCount == packet.messages.count)
    case (.failure(let a), .failure(let b)):
        #expect(a == b)
    default:
        Issue.record("validate and decode disagree on \(String(decoding: body, as: UTF8.self))")
    }
    body.withUnsafeBytes { raw in
        _ = try? PacketValidator.splitArray(raw, limits: limits)
        _ = try? PacketValidator.splitLines(raw)
    }
    // The batch path (one collector, stacks reused) agrees with validate, also between other packets and after
    // a failure left its stacks mid-way.
    let good = Array(#"{"id":"g\u00e9","messages":[{"level":"INFO","message":"m"}]}"#.utf8)
    var collector = PacketValidator.KeyCollector(limits: limits)
    let all = good + body + good
    let ranges = [0..<good.count, good.count..<(good.count + body.count), (good.count + body.count)..<all.count]
    all.withUnsafeBytes { raw in
        for (index, range) in ranges.enumerated() {
            let keys = collector.keys
            let found = Result { () throws(ValidationError) in try collector.validate(raw, range) }
            switch (index == 1 ? summary : Result { () throws(ValidationError) in try PacketValidator.validate(good, limits: limits) }, found) {
            case (.success(let summary), .success(let key)):
                #expect(Array(collector.keys[key]) == Array(summary.id.utf8))
                #expect(Array(collector.keys[..<key.lowerBound]) == keys)
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
                #expect(collector.keys == keys)
            default:
                Issue.record("validate and the key collector disagree on \(String(decoding: all[range], as: UTF8.self))")
            }
        }
    }
    return summary
}

extension PacketValidatorTests {
    @Test(arguments: 0..<4)
    func randomValidPacketsRoundTrip(seed: UInt64) throws {
        var generator = PacketGenerator(random: SplitMix64(seed: seed))
        for _ in 0..<250 {
            let (json, expected) = generator.packet()
            let body = Array(json.utf8)
            let summary = try PacketValidator.validate(body, limits: .init())
            #expect(summary.id == expected.id)
            #expect(summary.messageCount == expected.messages.count)
            #expect(try PacketValidator.decode(body, limits: .init()) == expected, "\(json)")
            // The generator itself writes JSON that Foundation agrees is valid.
            #expect((try? JSONSerialization.jsonObject(with: Data(body))) != nil, "\(json)")
            // As one element of an array batch, the element's bytes come back exactly.
            let batch = Array(("[" + json + "," + json + "]").utf8)
            let ranges = try batch.withUnsafeBytes { raw in try PacketValidator.splitArray(raw, limits: .init()) }
            #expect(ranges.map { Array(batch[$0]) } == [trimmed(body), trimmed(body)])
        }
    }

    @Test(arguments: 0..<4)
    func randomMutationsNeverTrap(seed: UInt64) {
        var generator = PacketGenerator(random: SplitMix64(seed: 1000 + seed))
        let interesting: [UInt8] =
            Array(#"{}[]":,\u0123456789eE.-+ntf"#.utf8) + [0x00, 0x0A, 0x80, 0xBF, 0xC3, 0xED, 0xF4, 0xFF]
        for _ in 0..<500 {
            var body = Array(generator.packet().json.utf8)
            for _ in 0..<generator.int(1...4) where !body.isEmpty {
                let at = generator.int(0...(body.count - 1))
                let byte =
                    generator.chance(70)
                    ? interesting[generator.int(0...(interesting.count - 1))]
                    : UInt8(truncatingIfNeeded: generator.int(0...255))
                switch generator.int(0...4) {
                case 0: body[at] = byte
                case 1: body.insert(byte, at: at)
                case 2: body.remove(at: at)
                case 3: body.removeSubrange(at...)
                default: body.insert(contentsOf: body[at..<min(body.count, at + generator.int(1...20))], at: at)
                }
            }
            if case .success = exercise(body) {
                // Anything accepted is JSON by Foundation's reading too (which is laxer: it allows duplicate keys).
                #expect(
                    (try? JSONSerialization.jsonObject(with: Data(body))) != nil,
                    "\(String(decoding: body, as: UTF8.self))")
            }
        }
    }

    @Test func randomByteSoupNeverTraps() {
        var random = SplitMix64(seed: 42)
        let alphabet: [UInt8] =
            Array(#"{}[]":,\u0123456789abcdefEe.-+ ntrulsf"#.utf8) + [0x00, 0x09, 0x0A, 0xC3, 0xA9, 0xF0, 0x9F]
        let prefix = Array(#"{"id":"p","messages":[{"level":"INFO","message":"m","attributes":{"k":"#.utf8)
        var tiny = PacketLimits()
        tiny.maxDepth = 4
        tiny.maxMessages = 1
        tiny.maxMessageLength = 2
        for round in 0..<3000 {
            var body = round % 2 == 0 ? prefix : []
            for _ in 0..<Int.random(in: 0...40, using: &random) {
                body.append(alphabet[Int.random(in: 0..<alphabet.count, using: &random)])
            }
            _ = exercise(body)
            _ = exercise(body, limits: tiny)
        }
    }
}

/// `bytes` without JSON whitespace at either end.
private func trimmed(_ bytes: [UInt8]) -> [UInt8] {
    let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }
    return Array(bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
}

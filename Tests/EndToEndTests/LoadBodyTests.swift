import PacketModel
import Testing

@testable import LoadGen

@Suite("Load tool request bodies")
struct LoadBodyTests {
    @Test("every rendered packet is valid, with the id, timestamps and numbers of its sequence", arguments: [1, 3, 100])
    func renderedPacketsAreValid(packets: Int) throws {
        var body = LoadBody(idPrefix: "run1-4-", packets: packets, messagesPerPacket: 2, levels: ["INFO", "DEBUG", "WARN"], slot: 4)
        for (first, now) in [(0, Int64(1_732_400_000_000)), (999_999_999_990, Int64(1_732_400_123_456))] {
            body.render(firstSequence: first, now: now)
            let lines = body.bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
            #expect(lines.count == packets)
            for (index, line) in lines.enumerated() {
                let sequence = first + index
                let packet = try PacketValidator.decode(Array(line), limits: PacketLimits())
                #expect(packet.id == body.id(sequence: sequence))
                #expect(packet.id.hasPrefix("run1-4-") && packet.id.count == "run1-4-".count + 12)
                #expect(packet.timestamp == now)
                #expect(packet.source == "load-\(sequence % 8)")
                #expect(packet.messages.count == 2)
                let millis = sequence % 97 < 10 ? "0\(sequence % 97)" : "\(sequence % 97)"
                let request = String(repeating: "0", count: 3 - String(sequence % 1000).count) + "\(sequence % 1000)"
                #expect(packet.messages[0].message == "request \(request) served in \(millis) ms")
                #expect(packet.messages.allSatisfy { $0.timestamp == now })
                #expect(packet.messages[0].level == [LogLevel.info, .debug, .warn][(4 + index) % 3])
            }
        }
        // Ids of consecutive requests never repeat.
        #expect(body.id(sequence: 7) == "run1-4-000000000007")
        #expect(Set((0..<1000).map(body.id(sequence:))).count == 1000)
    }
}

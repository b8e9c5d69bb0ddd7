import CLogdistKafka
import Testing

/// The sticky partitioner's decision (`logdist_sticky_choose` in the shim), driven with a made-up clock and
/// availability: no sleeps, no broker.
@Suite("Sticky partitioner decision")
struct StickyChoiceTests {
    /// `available[p]` for partition p.
    static func choose(
        now: Int64, current: Int32, until: Int64, stick: Int64 = 1000, available: [Bool]
    ) -> (partition: Int32, until: Int64) {
        let flags = available.map { $0 ? Int32(1) : 0 }
        let choice = flags.withUnsafeBufferPointer { buffer in
            logdist_sticky_choose(
                now, current, until, Int32(available.count), stick,
                { context, partition in context!.assumingMemoryBound(to: Int32.self)[Int(partition)] },
                UnsafeRawPointer(buffer.baseAddress!))
        }
        return (choice.partition, choice.until_us)
    }

    @Test("keeps its partition until the deadline, then moves to the next, sticking from now")
    func sticksThenMoves() {
        let all = [Bool](repeating: true, count: 4)
        #expect(Self.choose(now: 500, current: 2, until: 1000, available: all) == (2, 1000))
        #expect(Self.choose(now: 999, current: 2, until: 1000, available: all) == (2, 1000))
        #expect(Self.choose(now: 1000, current: 2, until: 1000, available: all) == (3, 2000))
        #expect(Self.choose(now: 5000, current: 3, until: 1000, available: all) == (0, 6000))
    }

    @Test("skips partitions without a leader, and leaves one that loses its leader at once")
    func availability() {
        #expect(Self.choose(now: 1000, current: 0, until: 1000, available: [true, false, false, true]) == (3, 2000))
        #expect(Self.choose(now: 10, current: 1, until: 1000, available: [true, false, true, true]) == (2, 1010))
        // None available: the next in turn, where the message waits for a leader.
        #expect(Self.choose(now: 1000, current: 1, until: 1000, available: [false, false, false]) == (2, 2000))
    }

    @Test("the first choice, or one after the partition count shrank, starts at now modulo the count")
    func firstChoice() {
        #expect(Self.choose(now: 1001, current: -1, until: 0, available: [true, true, true]) == (2, 2001))
        #expect(Self.choose(now: 1001, current: 7, until: 5000, available: [true, true, true]) == (2, 2001))
    }

    @Test("over many windows every partition is used in turn", arguments: [1, 2, 3, 6, 13])
    func rotation(partitions: Int) {
        let all = [Bool](repeating: true, count: partitions)
        var current: Int32 = -1
        var until: Int64 = 0
        var order: [Int32] = []
        var now: Int64 = 12_345
        for _ in 0..<(partitions * 3) {
            // Several messages per window: only the first after a deadline moves on.
            for step in 0..<5 {
                (current, until) = Self.choose(now: now + Int64(step), current: current, until: until, available: all)
            }
            order.append(current)
            now = until
        }
        for (a, b) in zip(order, order.dropFirst()) { #expect(b == (a + 1) % Int32(partitions)) }
    }
}

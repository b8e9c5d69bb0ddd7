import LogdistBasics
import Testing

@testable import Dispatcher

/// One record of a partition, as the retry window sees it.
private struct Record {
    var offset: Int64
    var key: UInt8?
    var timestampMs: Int64

    var digest: PacketDigest? { key.map { PacketDigest([$0, 0x2d, $0]) } }
}

/// The rule as its documentation states it, over the whole history: the slow, obviously right version.
private func isRepeat(_ record: Record, after history: ArraySlice<Record>, span: Int64, maxAgeMs: Int64) -> Bool {
    guard let key = record.key else { return false }
    let earlier = history.last { $0.key == key && $0.offset >= record.offset - span && $0.offset < record.offset }
    guard let earlier else { return false }
    return earlier.timestampMs >= record.timestampMs - maxAgeMs
}

/// A random partition: few distinct keys (so repeats are common), gaps in offsets, timestamps that mostly rise
/// but jitter (several ingest instances' clocks), some records without a key.
private func history(_ count: Int, _ rng: inout SplitMix64) -> [Record] {
    var offset = Int64(rng.next() % 1000)
    var clock = Int64(1_700_000_000_000)
    var records: [Record] = []
    for _ in 0..<count {
        offset += rng.next() % 10 == 0 ? Int64(rng.next() % 5) + 2 : 1
        clock += Int64(rng.next() % 40)
        let jitter = Int64(rng.next() % 30) - 15
        let key: UInt8? = rng.next() % 20 == 0 ? nil : UInt8(rng.next() % 24)
        records.append(Record(offset: offset, key: key, timestampMs: clock + jitter))
    }
    return records
}

@Suite("RetryWindow")
struct RetryWindowTests {
    @Test("decides exactly as the documented rule, over random histories")
    func matchesTheRule() {
        checkAgainstTheRule(seed: 0x5EED_0001) { PacketDigest([$0, 0x2d, $0]) }
    }

    /// Digests whose low bits (the index's home slot) pile up at the end of the index and wrap to its start, and
    /// a second pile at its start: long probe runs, removals that move entries back across the wrap.
    @Test("decides as the rule when digests crowd the same slots of the index")
    func matchesTheRuleUnderCollisions() {
        checkAgainstTheRule(seed: 0x5EED_0003) { key in
            let low = key % 2 == 0 ? UInt64.max - UInt64(key % 5) : UInt64(key % 3)
            return PacketDigest(high: UInt64(key), low: low)
        }
    }

    private func checkAgainstTheRule(seed: UInt64, digest: (UInt8) -> PacketDigest) {
        var rng = SplitMix64(seed: seed)
        for round in 0..<300 {
            let span = Int64(rng.next() % 40)
            let maxAgeMs = Int64(rng.next() % 300)
            let records = history(400, &rng)
            var window = RetryWindow(span: span, maxAgeMs: maxAgeMs, next: 0)
            for (index, record) in records.enumerated() {
                let expected = !isRepeat(record, after: records[..<index], span: span, maxAgeMs: maxAgeMs)
                let admitted = window.admit(offset: record.offset, digest: record.key.map(digest), timestampMs: record.timestampMs)
                guard admitted == expected else {
                    Issue.record("round \(round) record \(index) (span \(span), age \(maxAgeMs)): admitted \(admitted)")
                    return
                }
                #expect(window.remembered <= Int(span) + 1)
            }
        }
    }

    @Test("a window read back from the log decides every later record as the one that saw the whole history")
    func readBackEqualsIncremental() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        for _ in 0..<200 {
            let span = Int64(rng.next() % 50) + 1
            let maxAgeMs = Int64(rng.next() % 400)
            let records = history(300, &rng)
            let cut = Int(rng.next() % UInt64(records.count))
            var incremental = RetryWindow(span: span, maxAgeMs: maxAgeMs, next: 0)
            for record in records[..<cut] {
                _ = incremental.admit(offset: record.offset, digest: record.digest, timestampMs: record.timestampMs)
            }
            // What the loader does: resume at the record after the cut, read back `span` offsets before it.
            let resume = records[cut].offset
            var readBack = RetryWindow(span: span, maxAgeMs: maxAgeMs, next: max(0, resume - span))
            for record in records[..<cut] where record.offset >= resume - span {
                _ = readBack.admit(offset: record.offset, digest: record.digest, timestampMs: record.timestampMs)
            }
            readBack.advance(to: resume)
            incremental.advance(to: resume)
            for record in records[cut...] {
                let a = incremental.admit(offset: record.offset, digest: record.digest, timestampMs: record.timestampMs)
                let b = readBack.admit(offset: record.offset, digest: record.digest, timestampMs: record.timestampMs)
                #expect(a == b)
            }
        }
    }

    @Test("a retry inside the window is dropped; outside it by offsets or by age it is routed")
    func bounds() {
        var window = RetryWindow(span: 3, maxAgeMs: 1000, next: 0)
        let a = PacketDigest(Array("a".utf8))
        let records: [(offset: Int64, timestampMs: Int64)] = [
            (0, 0),
            (2, 10),  // a retry
            (6, 20),  // offsets 3..5 hold no a: the latest a, at 2, is more than 3 offsets back
            (7, 1020),  // exactly maxAge after the latest copy: still a retry
            (8, 2021),  // older than maxAge: a new packet
        ]
        let decisions = records.map { window.admit(offset: $0.offset, digest: a, timestampMs: $0.timestampMs) }
        #expect(decisions == [true, false, true, false, true])
    }

    @Test("records without a key, and a window of 0, never drop anything")
    func keylessAndOff() {
        var window = RetryWindow(span: 10, maxAgeMs: 1000, next: 0)
        let keyless = (0..<5).map { window.admit(offset: Int64($0), digest: nil, timestampMs: 0) }
        #expect(keyless.allSatisfy { $0 })
        #expect(window.remembered == 0)
        var off = RetryWindow(span: 0, maxAgeMs: 1000, next: 0)
        let a = PacketDigest(Array("a".utf8))
        let same = (0..<5).map { off.admit(offset: Int64($0), digest: a, timestampMs: 0) }
        #expect(same.allSatisfy { $0 })
    }

    @Test("the digest tells keys apart and is the same for the same bytes")
    func digest() {
        #expect(PacketDigest(Array("p-1".utf8)) == PacketDigest(Array("p-1".utf8)))
        var seen = Set<PacketDigest>()
        for i in 0..<100_000 { seen.insert(PacketDigest(Array("p-\(i)".utf8))) }
        #expect(seen.count == 100_000)
        #expect(PacketDigest([]) != PacketDigest([0]))
    }
}

@Suite("RetryFilter")
struct RetryFilterTests {
    @Test("a window is trusted only where the next batch begins")
    func stale() {
        var filter = RetryFilter(span: 100, maxAgeMs: 1000)
        #expect(filter.stale([0: 5, 1: 0]) == [0: 5, 1: 0])
        filter.install(RetryWindow(span: 100, maxAgeMs: 1000, next: 5), for: 0)
        #expect(filter.stale([0: 5, 1: 0]) == [1: 0])
        let routed = filter.admit(partition: 0, offset: 5, digest: PacketDigest([1]), timestampMs: 0)
        #expect(routed)
        #expect(filter.stale([0: 6]).isEmpty)
        // A seek back (the batch was redone elsewhere) or forward: read again.
        #expect(filter.stale([0: 5]) == [0: 5])
        #expect(filter.stale([0: 9]) == [0: 9])
        filter.forget([0])
        #expect(filter.stale([0: 6]) == [0: 6])
    }

    @Test("off: nothing is stale and everything is admitted")
    func off() {
        var filter = RetryFilter(span: 0, maxAgeMs: 1000)
        #expect(!filter.isEnabled)
        #expect(filter.stale([0: 5]).isEmpty)
        let routed = filter.admit(partition: 0, offset: 5, digest: PacketDigest([1]), timestampMs: 0)
        #expect(routed)
    }
}

import Foundation
import Testing

@testable import PacketModel

/// Replays the fuzzer's seeds (fuzz/corpus, see fuzz/run.sh) with the invariants fuzz/PacketFuzzer.swift checks.
///
/// A crash found by the fuzzer becomes a regression test by copying its artifact into fuzz/corpus (named after what
/// it exposed) and, for a validator bug, adding its bytes with the expected verdict below.
extension PacketValidatorTests {
    private static let fuzzCorpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Tests/PacketModelTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the package root
        .appendingPathComponent("fuzz/corpus")

    /// The fuzzer's tiny limits: small enough that short inputs reach every limit check.
    private static let tinyFuzzLimits: PacketLimits = {
        var limits = PacketLimits()
        limits.maxBodyBytes = 512
        limits.maxMessages = 2
        limits.maxMessageLength = 8
        limits.maxIDLength = 4
        limits.maxDepth = 3
        return limits
    }()

    private static func fuzzSeeds() throws -> [(name: String, bytes: [UInt8])] {
        try FileManager.default.contentsOfDirectory(atPath: fuzzCorpus.path).sorted().map { name in
            (name, Array(try Data(contentsOf: fuzzCorpus.appendingPathComponent(name))))
        }
    }

    /// validate (both overloads) and decode give the same verdict: the same summary, or the same error.
    @discardableResult
    private static func expectEntryPointsAgree(
        _ bytes: [UInt8], limits: PacketLimits, _ name: String
    ) -> Result<PacketSummary, ValidationError> {
        let viaRaw = bytes.withUnsafeBytes { raw in
            Result { () throws(ValidationError) in try PacketValidator.validate(raw, limits: limits) }
        }
        let viaArray = Result { () throws(ValidationError) in try PacketValidator.validate(bytes, limits: limits) }
        let decoded = Result { () throws(ValidationError) in try PacketValidator.decode(bytes, limits: limits) }
        switch (viaRaw, viaArray, decoded) {
        case (.success(let summary), .success(let other), .success(let packet)):
            #expect(summary == other, "\(name)")
            #expect(packet.id == summary.id, "\(name)")
            #expect(packet.messages.count == summary.messageCount, "\(name)")
            #expect(packet.timestamp == summary.timestamp, "\(name)")
            #expect(packet.source == summary.source, "\(name)")
            #expect((1...limits.maxIDLength).contains(packet.id.unicodeScalars.count), "\(name)")
            #expect((1...limits.maxMessages).contains(packet.messages.count), "\(name)")
            #expect(packet.messages.allSatisfy { $0.message.unicodeScalars.count <= limits.maxMessageLength }, "\(name)")
        case (.failure(let error), .failure(let other), .failure(let third)):
            #expect(error == other, "\(name)")
            #expect(error == third, "\(name)")
            #expect([400, 413, 422].contains(error.status), "\(name): \(error)")
        default:
            Issue.record("\(name): validate(raw) \(viaRaw), validate([UInt8]) \(viaArray), decode \(decoded)")
        }
        return viaRaw
    }

    /// Non-empty, in bounds, increasing and disjoint.
    private static func expectOrderedRanges(_ ranges: [Range<Int>], count: Int, _ name: String) {
        var previousEnd = -1
        for range in ranges {
            #expect(!range.isEmpty && range.lowerBound > previousEnd && range.upperBound <= count, "\(name): \(ranges)")
            previousEnd = range.upperBound
        }
    }

    @Test("every fuzz seed gets one verdict from validate (both overloads) and decode, and splits into ordered ranges")
    func fuzzCorpusReplays() throws {
        let seeds = try Self.fuzzSeeds()
        #expect(seeds.count >= 20, "fuzz/corpus at \(Self.fuzzCorpus.path) holds \(seeds.count) seeds")
        for (name, bytes) in seeds {
            let full = Self.expectEntryPointsAgree(bytes, limits: PacketLimits(), name)
            let tiny = Self.expectEntryPointsAgree(bytes, limits: Self.tinyFuzzLimits, "\(name) (tiny limits)")
            if name.hasPrefix("valid-") {
                if case .failure(let error) = full { Issue.record("\(name) must be valid: \(error)") }
            }
            // Tighter limits only refuse more: what passes them passes the defaults with the same summary.
            if case .success(let small) = tiny {
                #expect(full == .success(small), "\(name)")
            }
            for limits in [PacketLimits(), Self.tinyFuzzLimits] {
                let array = bytes.withUnsafeBytes { raw in
                    Result { () throws(ValidationError) in try PacketValidator.splitArray(raw, limits: limits) }
                }
                if case .success(let ranges) = array {
                    Self.expectOrderedRanges(ranges, count: bytes.count, "\(name) splitArray")
                    // The array was checked whole, so an element alone can only be refused for its meaning.
                    for range in ranges {
                        if case .failure(let error) = Self.expectEntryPointsAgree(
                            Array(bytes[range]), limits: limits, "\(name) element \(range)")
                        {
                            #expect(error.status == 422, "\(name) element \(range): \(error)")
                        }
                    }
                }
            }
            let lines = bytes.withUnsafeBytes { raw in
                Result { () throws(ValidationError) in try PacketValidator.splitLines(raw) }
            }
            if case .success(let ranges) = lines {
                Self.expectOrderedRanges(ranges, count: bytes.count, "\(name) splitLines")
                #expect(ranges.allSatisfy { !bytes[$0].contains(UInt8(ascii: "\n")) }, "\(name)")
            }
        }
    }
}

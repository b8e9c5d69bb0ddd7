import LogdistBasics
import Foundation
import GRPCCore
import GRPCProtobuf
import KafkaTestSupport
import OTLPProto
import Testing

@testable import Ingest

@Suite("OTLP/gRPC LogsService/Export", .timeLimit(.minutes(3)))
struct OTLPGRPCTests {
    @Test("Export, plain and gzip-compressed: an empty response once every packet is in Kafka")
    func export() async throws {
        let harness = try await OTLPHarness(label: "otlp-grpc")
        try await harness.withGRPC { port in
            let plain = try await OTLPClient.export(port: port, OTLPFixtures.request(count: 4, prefix: "plain"))
            #expect(plain == OTLPExportLogsServiceResponse())
            let zipped = try await OTLPClient.export(port: port, OTLPFixtures.request(count: 6, prefix: "zipped"), compression: .gzip)
            #expect(zipped == OTLPExportLogsServiceResponse())
        }
        let packets = try await harness.packetsInKafka(expected: 2)
        #expect(packets.map(\.messages.count).sorted() == [4, 6])
        await harness.close()
    }

    @Test("partial success: rejected records counted, with the reason; the rest written")
    func partial() async throws {
        let harness = try await OTLPHarness(label: "otlp-grpc-partial") { $0.limits.maxMessageLength = 5 }
        let response = try await harness.withGRPC { port in
            try await OTLPClient.export(
                port: port, OTLPFixtures.request(records: [OTLPFixtures.record("ok"), OTLPFixtures.record("too long")]))
        }
        #expect(response.partialSuccess.rejectedLogRecords == 1)
        #expect(response.partialSuccess.errorMessage.contains("at most 5"))
        #expect(try await harness.packetsInKafka(expected: 1).first?.messages.map(\.message) == ["ok"])
        await harness.close()
    }

    @Test("a message past the gRPC limit is refused with RESOURCE_EXHAUSTED, nothing written")
    func oversized() async throws {
        let harness = try await OTLPHarness(label: "otlp-grpc-big") { $0.otlp.grpcMaxMessageBytes = 10_000 }
        await harness.withGRPCExpectingError { port in
            _ = try await OTLPClient.export(port: port, OTLPFixtures.request(count: 1000))
        } check: { error in
            #expect(error.code == .resourceExhausted)
        }
        await harness.close()
    }

    @Test(
        "Kafka down: UNAVAILABLE with RetryInfo; a full producer queue: RESOURCE_EXHAUSTED with RetryInfo",
        .enabled(if: TestNeeds.brokerOutage, "a broker outage on a real cluster needs LOGDIST_TEST_BROKER_CONTROL"))
    func backpressure() async throws {
        let harness = try await OTLPHarness(label: "otlp-grpc-503") {
            $0.ackTimeout = .seconds(2)
            $0.queueCapacity = 1
        }
        let broker = try #require(harness.cluster.outage(for: "taking the broker down"))
        try broker.down()
        let errors: [RPCError] = try await harness.withGRPC { port in
            async let first: RPCError? = Self.error { _ = try await OTLPClient.export(port: port, OTLPFixtures.request(count: 1, prefix: "a")) }
            try await Task.sleep(for: .milliseconds(300))
            let second = await Self.error { _ = try await OTLPClient.export(port: port, OTLPFixtures.request(count: 1, prefix: "b")) }
            return [await first, second].compactMap { $0 }
        }
        try broker.up()
        #expect(errors.map(\.code) == [.unavailable, .resourceExhausted])
        for error in errors {
            let status = try #require(try error.unpackGoogleRPCStatus())
            #expect(status.details.contains { $0.retryInfo != nil })
        }
        await harness.close()
    }

    @Test("a taken gRPC port ends the server at once with an error naming the port and the flag")
    func takenPort() async throws {
        let harness = try await OTLPHarness(label: "otlp-grpc-taken")
        try await harness.withGRPC { port in
            let second = OTLPGRPCServer(
                export: OTLPExport(service: harness.service), port: port, host: "127.0.0.1", boundPort: OTLPBoundPort(),
                logger: harness.cluster.logger)
            await #expect {
                try await second.run()
            } throws: { error in
                "\(error)".contains("127.0.0.1:\(port)") && "\(error)".contains("--otlp-grpc-port")
            }
        }
        await harness.close()
    }

    static func error(_ body: () async throws -> Void) async -> RPCError? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError(code: .unknown, message: "\(error)")
        }
    }
}

extension OTLPHarness {
    func withGRPCExpectingError(_ body: @Sendable @escaping (Int) async throws -> Void, check: (RPCError) -> Void) async {
        let error: RPCError? = try? await withGRPC { port in await OTLPGRPCTests.error { try await body(port) } }
        if let error { check(error) } else { Issue.record("the call succeeded") }
    }
}

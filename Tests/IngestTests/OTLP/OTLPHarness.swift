import Operations
import KafkaClient
import PacketModel
import ServiceSupport
import CompressNIO
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import NIOCore
import OTLPProto
import SwiftProtobuf
import Testing

@testable import Ingest

/// An ingest service on a test cluster with OTLP settings of the test's choosing (an ``IngestHarness`` with the
/// OTLP/gRPC server on a free loopback port).
struct OTLPHarness {
    let ingest: IngestHarness
    var cluster: TestCluster { ingest.cluster }
    var service: IngestService { ingest.service }
    var topics: Topics { ingest.topics }

    init(label: String, configure: (inout IngestConfig) -> Void = { _ in }) async throws {
        ingest = try await IngestHarness(label: label) { config in
            config.otlp.grpcPort = 0
            config.otlp.grpcHost = "127.0.0.1"
            configure(&config)
        }
    }

    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await ingest.test(body)
    }

    /// Runs `body` with the OTLP/gRPC server listening on a free loopback port.
    func withGRPC<Value: Sendable>(_ body: @Sendable (Int) async throws -> Value) async throws -> Value {
        let server = OTLPGRPCServer(
            export: OTLPExport(service: service), port: 0, host: "127.0.0.1", boundPort: service.otlpGRPCPort, logger: cluster.logger)
        return try await ServiceRunner.with([server], logger: cluster.logger) {
            try await body(await service.otlpGRPCPort.wait())
        }
    }

    /// Every packet in the packets topic.
    func packetsInKafka(expected: Int, timeout: Duration = .seconds(20)) async throws -> [Packet] {
        try await ingest.packetsInKafka(expected: expected, timeout: timeout)
            .map { try PacketValidator.decode($0.value ?? [], limits: PacketLimits()) }
    }

    func close() async {
        await ingest.close()
    }
}

enum OTLPClient {
    /// One Export call over gRPC.
    static func export(
        port: Int, _ request: OTLPExportLogsServiceRequest, compression: GRPCCore.CompressionAlgorithm? = nil
    ) async throws -> OTLPExportLogsServiceResponse {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
            config: .defaults { $0.compression.enabledAlgorithms = .all })
        return try await withGRPCClient(transport: transport) { client in
            var options = CallOptions.defaults
            options.compression = compression
            options.timeout = .seconds(20)
            return try await client.unary(
                request: ClientRequest(message: request), descriptor: OTLPLogsService.export,
                serializer: ProtobufSerializer<OTLPExportLogsServiceRequest>(),
                deserializer: ProtobufDeserializer<OTLPExportLogsServiceResponse>(), options: options
            ) { try $0.message }
        }
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        return Array(try buffer.compress(with: .gzip()).readableBytesView)
    }
}

extension TestClientProtocol {
    func postOTLP(
        _ bytes: [UInt8], contentType: String? = "application/x-protobuf", encoding: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        if let encoding { headers[.contentEncoding] = encoding }
        return try await execute(uri: "/v1/logs", method: .post, headers: headers, body: ByteBuffer(bytes: bytes))
    }

    func postOTLP(_ request: OTLPExportLogsServiceRequest, gzip: Bool = false) async throws -> TestResponse {
        let bytes: [UInt8] = try request.serializedBytes()
        return try await postOTLP(gzip ? try OTLPClient.gzip(bytes) : bytes, encoding: gzip ? "gzip" : nil)
    }
}

extension TestResponse {
    var otlpResponse: OTLPExportLogsServiceResponse? {
        try? OTLPExportLogsServiceResponse(serializedBytes: Array(body.readableBytesView))
    }

    var rpcStatus: GoogleRPCStatus? { try? GoogleRPCStatus(serializedBytes: Array(body.readableBytesView)) }
}

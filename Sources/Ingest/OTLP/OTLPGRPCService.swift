import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import Logging
import OTLPProto
import ServiceLifecycle
import Synchronization

/// OTLP/gRPC: `opentelemetry.proto.collector.logs.v1.LogsService/Export`, registered by hand (only the messages
/// are generated). Same mapping, durability and partial-success answers as `POST /v1/logs`; under backpressure
/// RESOURCE_EXHAUSTED, when Kafka does not acknowledge UNAVAILABLE, both with RetryInfo (the codes OTLP clients
/// retry on).
struct OTLPLogsService: RegistrableRPCService {
    static let export = MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.logs.v1.LogsService", method: "Export")

    let export: OTLPExport

    /// Refuses a request message over the limit with RESOURCE_EXHAUSTED and a message saying so (the transport's own
    /// limit, set higher, would reset the stream, which clients report as UNAVAILABLE and retry).
    struct LimitedDeserializer: MessageDeserializer {
        let limit: Int
        let inner = ProtobufDeserializer<OTLPExportLogsServiceRequest>()

        func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> OTLPExportLogsServiceRequest {
            guard bytes.count <= limit else {
                throw RPCError(
                    code: .resourceExhausted,
                    message: "the request is \(bytes.count) bytes; at most \(limit) are accepted: send smaller exports")
            }
            do {
                return try inner.deserialize(bytes)
            } catch {
                throw RPCError(code: .invalidArgument, message: "not an ExportLogsServiceRequest: \(error)")
            }
        }
    }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Self.export,
            deserializer: LimitedDeserializer(limit: export.service.config.otlp.grpcMaxMessageBytes),
            serializer: ProtobufSerializer<OTLPExportLogsServiceResponse>()
        ) { request, context in
            let single = try await ServerRequest(stream: request)
            let response = try await self.handle(single.message)
            return StreamingServerResponse(single: ServerResponse(message: response))
        }
    }

    func handle(_ request: OTLPExportLogsServiceRequest) async throws -> OTLPExportLogsServiceResponse {
        switch await export.export(request, transport: .grpc) {
        case .accepted(let response, _):
            export.metrics.request(.grpc, status: "ok")
            return response
        case .unavailable(let busy, let detail):
            export.metrics.request(.grpc, status: busy ? "resource_exhausted" : "unavailable")
            throw GoogleRPCStatus(
                code: busy ? .resourceExhausted : .unavailable, message: detail,
                details: [.retryInfo(delay: .seconds(export.service.config.retryAfterSeconds))])
        }
    }
}

/// The gRPC server as a service of ingest's group: it stops taking calls at graceful shutdown, finishes those in
/// flight, then returns (before the producer is flushed, like the HTTP server).
struct OTLPGRPCServer: Service {
    let export: OTLPExport
    let port: Int
    let host: String
    let boundPort: OTLPBoundPort
    let logger: Logger

    func run() async throws {
        let settings = export.service.config.otlp
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: .plaintext,
            config: .defaults { config in
                config.compression.enabledAlgorithms = .all
                config.rpc.maxRequestPayloadSize = max(settings.grpcMaxMessageBytes * 4, 64 << 20)
            })
        let server = GRPCServer(transport: transport, services: [OTLPLogsService(export: export)])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                guard let address = try? await transport.listeningAddress, let bound = address.ipv4?.port else { return }
                boundPort.set(bound)
                logger.info("OTLP/gRPC listening", metadata: ["otlp.grpc.port": "\(bound)"])
            }
            do {
                try await withGracefulShutdownHandler {
                    try await server.serve()
                } onGracefulShutdown: {
                    server.beginGracefulShutdown()
                }
            } catch {
                // The transport reports a taken port as a bind error inside its own error's description.
                let text = String(describing: error)
                guard text.contains("Address already in use") || text.contains("errno: 98") else { throw error }
                throw OTLPListenError(
                    description: "OTLP/gRPC cannot listen on \(host):\(port): the port is taken by another process; "
                        + "stop it or choose another port (--otlp-grpc-port, 0 = off)")
            }
        }
    }
}

/// A taken OTLP/gRPC port, named with the way out.
struct OTLPListenError: Error, CustomStringConvertible {
    let description: String
}

/// The port the gRPC server bound, once it listens.
public final class OTLPBoundPort: Sendable {
    private let state = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    public init() {}

    func set(_ port: Int) {
        let waiters = state.withLock { state in
            state.port = port
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    public var current: Int? { state.withLock { $0.port } }

    /// Suspends until the server listens.
    public func wait() async -> Int {
        await withCheckedContinuation { continuation in
            let known: Int? = state.withLock { state in
                if let port = state.port { return port }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}

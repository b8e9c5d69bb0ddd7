/// How ingest takes OTLP logs (`POST /v1/logs`, and gRPC on its own port).
public struct OTLPSettings: Sendable {
    /// The OTLP/gRPC port; nil (the library's default): no gRPC server; 0: any free port (tests). The commands
    /// default to OTLP's 4317 (`--otlp-grpc-port`, where 0 means off).
    public var grpcPort: Int?
    /// The address the gRPC server binds.
    public var grpcHost = "0.0.0.0"
    /// At most this many records in one packet (records of one resource and scope share packets).
    public var recordsPerPacket = 1000
    /// A gzip body may inflate to at most this many bytes (a larger one is refused with 413 / RESOURCE_EXHAUSTED).
    public var maxInflatedBytes = 16 << 20
    /// Largest gRPC request message accepted (after decompression).
    public var grpcMaxMessageBytes = 16 << 20

    public init() {}
}

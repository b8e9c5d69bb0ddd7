import Foundation

/// What to send and how fast.
public struct LoadPlan: Sendable {
    public var url: String
    /// Requests per second across all connections; 0 sends as fast as responses allow.
    public var rate: Double
    public var duration: Duration
    public var connections: Int
    /// Packets per request (NDJSON to the batch route when > 1).
    public var batch: Int
    public var messagesPerPacket = 1
    public var token: String?
    public var runID = String(UUID().uuidString.prefix(8)).lowercased()
    public var levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]

    public init(url: String, rate: Double, duration: Duration, connections: Int, batch: Int, messagesPerPacket: Int = 1, token: String? = nil) {
        self.url = url
        self.rate = rate
        self.duration = duration
        self.connections = connections
        self.batch = batch
        self.messagesPerPacket = messagesPerPacket
        self.token = token
    }

    /// The size in bytes of one request body of this plan.
    public var bodyBytes: Int {
        LoadBody(idPrefix: "\(runID)-0-", packets: batch, messagesPerPacket: messagesPerPacket, levels: levels, slot: 0).bytes.count
    }
}

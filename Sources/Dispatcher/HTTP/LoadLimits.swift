import LogdistBasics
import PacketModel
import ServiceSupport
import LoadGen

/// `POST /v1/load`: what load the dashboard asks for.
public struct LoadRequest: Codable, Sendable, Equatable {
    /// Requests per second.
    public var rate: Double
    public var packetsPerRequest: Int
    public var messagesPerPacket: Int
    public var durationSeconds: Double
    /// Concurrent connections; nil picks enough for the rate (see `LoadLimits.connections(for:)`).
    public var connections: Int?

    public init(rate: Double, packetsPerRequest: Int, messagesPerPacket: Int, durationSeconds: Double, connections: Int? = nil) {
        self.rate = rate
        self.packetsPerRequest = packetsPerRequest
        self.messagesPerPacket = messagesPerPacket
        self.durationSeconds = durationSeconds
        self.connections = connections
    }
}

/// The bounds on load the dispatcher generates for the dashboard; a request outside them is refused with a 422 that
/// names the field and the bound, never clipped silently.
public struct LoadLimits: Sendable, Equatable, Codable {
    public var maxRate: Double = 2000
    public var maxDurationSeconds: Double = 600
    public var maxPacketsPerRequest = 1000
    public var maxMessagesPerPacket = 100
    /// rate × packets per request.
    public var maxPacketsPerSecond: Double = 20_000
    /// One request body, as ingest's default `--max-body-bytes`.
    public var maxBodyBytes = PacketLimits().maxBodyBytes
    public var maxConnections = 64

    public init() {}

    /// Enough connections for `rate` while each answer takes up to 100 ms (ingest answers after Kafka's acks; a
    /// loaded cluster answers slower, and the open-loop generator then shows the wait in its latency).
    public func connections(for rate: Double) -> Int {
        min(maxConnections, max(4, Int((rate / 10).rounded(.up))))
    }

    /// The plan for `request` against `url`, or the first bound it breaks.
    public func plan(for request: LoadRequest, url: String, token: String?) throws(APIError) -> LoadPlan {
        func refuse(_ field: String, _ detail: String) -> APIError {
            APIError(status: .unprocessableContent, error: "out_of_bounds", field: field, detail: detail)
        }
        guard request.rate.isFinite, request.rate > 0, request.rate <= maxRate else {
            throw refuse("rate", "rate must be above 0 and at most \(format(maxRate)) requests/s (--load-max-rate)")
        }
        guard (1...maxPacketsPerRequest).contains(request.packetsPerRequest) else {
            throw refuse("packetsPerRequest", "packetsPerRequest must be 1 to \(maxPacketsPerRequest)")
        }
        guard (1...maxMessagesPerPacket).contains(request.messagesPerPacket) else {
            throw refuse("messagesPerPacket", "messagesPerPacket must be 1 to \(maxMessagesPerPacket)")
        }
        guard request.durationSeconds.isFinite, request.durationSeconds >= 1, request.durationSeconds <= maxDurationSeconds else {
            throw refuse(
                "durationSeconds", "durationSeconds must be 1 to \(format(maxDurationSeconds)) (--load-max-duration-seconds)")
        }
        let packetsPerSecond = request.rate * Double(request.packetsPerRequest)
        guard packetsPerSecond <= maxPacketsPerSecond else {
            throw refuse(
                "rate", "rate × packetsPerRequest is \(format(packetsPerSecond)) packets/s; at most "
                    + "\(format(maxPacketsPerSecond)) (--load-max-packets-per-second)")
        }
        let connections = request.connections ?? self.connections(for: request.rate)
        guard (1...maxConnections).contains(connections) else {
            throw refuse("connections", "connections must be 1 to \(maxConnections)")
        }
        let plan = LoadPlan(
            url: url, rate: request.rate, duration: .milliseconds(Int64(request.durationSeconds * 1000)),
            connections: connections, batch: request.packetsPerRequest, messagesPerPacket: request.messagesPerPacket,
            token: token)
        // Every message takes at least 75 bytes: a body surely too large is refused without being built.
        let atLeast = request.packetsPerRequest * request.messagesPerPacket * 75
        let bytes = atLeast > maxBodyBytes ? atLeast : plan.bodyBytes
        guard bytes <= maxBodyBytes else {
            throw refuse(
                "packetsPerRequest", "a request of \(request.packetsPerRequest) packets of \(request.messagesPerPacket) "
                    + "messages is \(bytes == atLeast ? "at least \(bytes)" : "\(bytes)") bytes; ingest takes at most \(maxBodyBytes): "
                    + "send fewer packets or messages")
        }
        return plan
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

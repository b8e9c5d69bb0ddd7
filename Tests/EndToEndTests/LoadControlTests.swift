import Operations
import AsyncHTTPClient
import LogdistBasics
import PacketModel
import ServiceSupport
import Dispatcher
import Foundation
import Hummingbird
import KafkaTestSupport
import Logging
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Testing

/// The dashboard's load control through the dispatcher's HTTP API, against a stand-in ingest that validates every
/// packet, answers 202, and 503 to every seventh request: every answer is counted, once, in the right column; runs end
/// when their time is up, when asked, and when the dispatcher shuts down.
@Suite("Load control", .timeLimit(.minutes(2)))
struct LoadControlTests {
    /// Counts what reaches it; every seventh request gets a 503.
    final class StandInIngest: Sendable {
        struct Counts: Sendable, Equatable {
            var requests = 0, accepted = 0, refused = 0, packets = 0, invalid = 0, messages = 0
        }

        let counts = Mutex(Counts())
        let boundPort = BoundPort()

        var snapshot: Counts { counts.withLock { $0 } }

        func service(logger: Logger) -> any Service {
            let router = Router()
            for path in ["/v1/packets", "/v1/packets:batch"] {
                router.post(RouterPath(path)) { [self] request, _ -> Response in
                    let body = try await request.body.collect(upTo: 1 << 20)
                    let lines = Array(Data(buffer: body)).split(separator: 0x0A)
                    let packets = lines.compactMap { try? PacketValidator.decode(Array($0), limits: PacketLimits()) }
                    let refuse = counts.withLock { c in
                        c.requests += 1
                        c.invalid += lines.count - packets.count
                        let refuse = c.requests % 7 == 0
                        if refuse { c.refused += 1 } else {
                            c.accepted += 1
                            c.packets += packets.count
                            c.messages += packets.reduce(0) { $0 + $1.messages.count }
                        }
                        return refuse
                    }
                    return Response(status: refuse ? .serviceUnavailable : .accepted)
                }
            }
            return HTTPSettings(host: "127.0.0.1", port: 0).application(
                router: router.buildResponder(), service: "stand-in-ingest", boundPort: boundPort, logger: logger)
        }
    }

    /// A running dispatcher with load control pointed at a running stand-in ingest; `afterShutdown` runs once the
    /// dispatcher has shut down, while the stand-in still listens.
    static func withDispatcher(
        _ label: String, _ body: @Sendable (DispatcherService, StandInIngest, String) async throws -> Void,
        afterShutdown: @Sendable (DispatcherService, StandInIngest) async throws -> Void = { _, _ in }
    ) async throws {
        let cluster = try TestCluster(label: label)
        let topics = Topics(namespace: cluster.namespace(label))
        try await cluster.create(topics.specs(packetPartitions: 1, analyserSlots: 1))
        let ingest = StandInIngest()
        try await ServiceRunner.with([ingest.service(logger: cluster.logger)], logger: cluster.logger) {
            let ingestPort = await ingest.boundPort.wait()
            var config = DispatcherConfig(
                kafka: cluster.kafka, topics: topics, http: HTTPSettings(host: "127.0.0.1", port: 0), instanceID: label)
            config.adminToken = BearerToken(token)
            config.ingestURL = "http://127.0.0.1:\(ingestPort)/v1/packets"
            let dispatcher = try DispatcherService(config: config, logger: cluster.logger, embedded: cluster.broker)
            try await dispatcher.prepare()
            try await ServiceRunner.with(dispatcher.services(), logger: cluster.logger) {
                let port = await dispatcher.boundPort.wait()
                try await body(dispatcher, ingest, "http://127.0.0.1:\(port)")
            }
            try await afterShutdown(dispatcher, ingest)
        }
    }

    static let token = "load-control-token"

    static func call(_ method: HTTPMethod, _ url: String, body: String? = nil) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), try JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] ?? [:])
    }

    static func run(_ status: [String: Any]) -> [String: Any] { status["run"] as? [String: Any] ?? [:] }
    static func counts(_ status: [String: Any]) -> [String: Int] { run(status)["counts"] as? [String: Int] ?? [:] }

    /// Polls `GET /v1/load` until the run has ended; its last status.
    static func ended(_ base: String, within timeout: Duration) async throws -> [String: Any] {
        var status: [String: Any] = [:]
        let deadline = ContinuousClock.now.advanced(by: timeout)
        repeat {
            status = try await call(.GET, base + "/v1/load").1
            if run(status)["running"] as? Bool == false { return status }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return status
    }

    @Test("a run ends when its time is up, every answer counted in its column, and the metrics agree")
    func runsForItsDuration() async throws {
        try await Self.withDispatcher("load-duration") { dispatcher, ingest, base in
            let (code, started) = try await Self.call(
                .POST, base + "/v1/load", body: #"{"rate":40,"packetsPerRequest":3,"messagesPerPacket":2,"durationSeconds":3}"#)
            #expect(code == 202 && Self.run(started)["running"] as? Bool == true)
            let status = try await Self.ended(base, within: .seconds(10))
            let run = Self.run(status), counts = Self.counts(status), seen = ingest.snapshot
            #expect(run["stopReason"] as? String == "duration")
            #expect(seen.invalid == 0, "the load's packets are valid")
            #expect((100...125).contains(seen.requests), "40 req/s for 3 s: \(seen.requests) requests")
            #expect(counts["requests"] == seen.requests && counts["ok2xx"] == seen.accepted && counts["non2xx"] == seen.refused)
            #expect(counts["errors"] == 0 && seen.refused > 0)
            #expect(counts["packetsAccepted"] == seen.packets && seen.packets == 3 * seen.accepted)
            #expect(run["messagesAccepted"] as? Int == seen.messages && seen.messages == 2 * seen.packets)
            #expect((run["elapsedSeconds"] as? Double ?? 0) >= 3)
            let metrics = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(10))
            let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
            #expect(text.contains(#"logdist_dispatcher_load_requests_total{outcome="2xx"} \#(seen.accepted)"#), "\(text)")
            #expect(text.contains(#"logdist_dispatcher_load_requests_total{outcome="non_2xx"} \#(seen.refused)"#))
            #expect(text.contains("logdist_dispatcher_load_packets_accepted_total \(seen.packets)"))
            #expect(text.contains("logdist_dispatcher_load_running 0"))
            _ = dispatcher
        }
    }

    @Test("a run stops when asked: no request after it, the ones in flight counted")
    func stopsWhenAsked() async throws {
        try await Self.withDispatcher("load-stop") { _, ingest, base in
            _ = try await Self.call(.POST, base + "/v1/load", body: #"{"rate":100,"packetsPerRequest":1,"messagesPerPacket":1,"durationSeconds":60}"#)
            #expect(await eventually(timeout: .seconds(10)) { ingest.snapshot.requests >= 50 })
            let (code, _) = try await Self.call(.DELETE, base + "/v1/load")
            #expect(code == 200)
            let status = try await Self.ended(base, within: .seconds(5))
            #expect(Self.run(status)["stopReason"] as? String == "requested")
            let after = ingest.snapshot
            try await Task.sleep(for: .seconds(1))
            #expect(ingest.snapshot == after, "requests after the stop")
            #expect(Self.counts(status)["requests"] == after.requests && Self.counts(status)["ok2xx"] == after.accepted)
            let (again, restarted) = try await Self.call(
                .POST, base + "/v1/load", body: #"{"rate":5,"packetsPerRequest":1,"messagesPerPacket":1,"durationSeconds":1}"#)
            #expect(again == 202 && Self.run(restarted)["id"] as? Int == 2, "a new run starts once the last one stopped")
        }
    }

    @Test("a run stops when the dispatcher shuts down, every request it sent counted")
    func stopsOnShutdown() async throws {
        try await Self.withDispatcher("load-shutdown") { _, ingest, base in
            _ = try await Self.call(.POST, base + "/v1/load", body: #"{"rate":100,"packetsPerRequest":1,"messagesPerPacket":1,"durationSeconds":60}"#)
            #expect(await eventually(timeout: .seconds(10)) { ingest.snapshot.requests >= 30 })
        } afterShutdown: { dispatcher, ingest in
            // The dispatcher's services have all returned: the run ended with them.
            let stopped = ingest.snapshot
            try await Task.sleep(for: .seconds(1))
            #expect(ingest.snapshot == stopped, "requests after the dispatcher shut down")
            let status = dispatcher.loadStatus()
            #expect(status.run?.stopReason == .shutdown && status.run?.running == false)
            #expect(status.run?.counts.requests == stopped.requests)
        }
    }
}

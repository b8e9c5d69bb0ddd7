import Operations
import AsyncHTTPClient
import KafkaClient
import PacketModel
import ServiceSupport
import Dispatcher
import Foundation
import KafkaTestSupport
import Testing

/// The dashboard's fail/begin actions: the dispatcher checks the admin token itself and calls analysers only at
/// addresses the operator configured, never at one learned from a heartbeat.
@Suite("Admin actions through the dispatcher", .timeLimit(.minutes(2)))
struct AdminForwardTests {
    @Test("a forged heartbeat pointing at a listener receives nothing; a wrong token is refused by the dispatcher")
    func forgedHeartbeatGetsNoToken() async throws {
        let cluster = try TestCluster(label: "forged")
        let topics = Topics(namespace: cluster.namespace("forged"))
        try await cluster.create(topics.specs(packetPartitions: 1, analyserSlots: 2))
        let listener = ConnectionCounter()
        defer { listener.stop() }
        let realAnalyser = ConnectionCounter()
        defer { realAnalyser.stop() }
        let token = BearerToken.random()
        var config = DispatcherConfig(
            kafka: cluster.kafka, topics: topics, http: HTTPSettings(host: "127.0.0.1", port: 0), instanceID: "forged-1")
        config.adminToken = token
        config.analyserURLs = ["a2": "http://127.0.0.1:\(realAnalyser.port)"]
        let dispatcher = try DispatcherService(config: config, logger: cluster.logger, embedded: cluster.broker)
        try await dispatcher.prepare()
        try await ServiceRunner.with(dispatcher.services(), logger: cluster.logger) {
            let producer = try KafkaProducer(configuration: cluster.producerConfig("forger"), logger: cluster.logger)
            for id in ["a1", "a2"] {
                let forged = Heartbeat(
                    id: id, partition: id == "a1" ? 0 : 1, weight: 1, state: .up, sentAt: epochMilliseconds(), committedOffset: 0,
                    url: "http://127.0.0.1:\(listener.port)")
                _ = try await producer.send(
                    OutgoingMessage(topic: topics.heartbeats, partition: 0, key: Array(id.utf8), value: forged.encoded()))
            }
            await producer.close(timeout: .seconds(5))
            #expect(await eventually(timeout: .seconds(30)) { dispatcher.view().analysers.count == 2 })
            let port = await dispatcher.boundPort.wait()
            func post(_ path: String, token: String?) async throws -> (Int, String) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                request.method = .POST
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 16)))
            }
            for action in ["fail", "begin"] {
                #expect(try await post("/v1/analysers/a1/\(action)", token: nil).0 == 401)
                #expect(try await post("/v1/analysers/a1/\(action)", token: "wrong").0 == 401)
                let (status, body) = try await post("/v1/analysers/a1/\(action)", token: token.revealed)
                #expect(status == 404, "\(body)")
                #expect(body.contains("--analyser-url"))
                // a2 has an operator-configured address: the call goes there, and only there.
                let (configured, _) = try await post("/v1/analysers/a2/\(action)", token: token.revealed)
                #expect(configured == 502, "the stand-in closes the connection without answering")
            }
            #expect(listener.count == 0, "the address from a heartbeat was contacted")
            #expect(realAnalyser.count >= 2, "the configured address was called (the HTTP client may retry a closed connection once)")
        }
    }
}

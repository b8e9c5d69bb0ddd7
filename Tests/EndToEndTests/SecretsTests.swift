import AsyncHTTPClient
import KafkaClient
import ServiceSupport
import Foundation
import KafkaTestSupport
import Pipeline
import Testing

/// Tokens must never reach logs or error bodies, whatever clients send.
@Suite("Secrets stay secret", .timeLimit(.minutes(2)))
struct SecretsTests {
    @Test("ingest and admin tokens never appear in logs (trace level) or error bodies; every route enforces them")
    func tokensNeverLogged() async throws {
        let capture = LogCapture()
        var config = PipelineConfig()
        if let bootstrap = TestCluster.externalBootstrap { config.kafka = KafkaConfig(bootstrapServers: bootstrap) }
        config.namespace = "secrets-\(UUID().uuidString.prefix(6).lowercased())"
        config.ingestPort = 0
        config.dispatcherPort = 0
        config.analyserBasePort = 0
        let ingestToken = "ingest-SECRET-\(UUID().uuidString.prefix(8))"
        let adminToken = "admin-SECRET-\(UUID().uuidString.prefix(8))"
        config.ingestToken = BearerToken(ingestToken)
        config.adminToken = BearerToken(adminToken)!
        let pipeline = try Pipeline(config: config, logger: capture.logger("logdist.secrets"))
        try await pipeline.prepare()
        let bodies = try await ServiceRunner.with(pipeline.services(), logger: capture.logger("logdist.secrets.group")) {
            await pipeline.waitUntilListening()
            let ingest = "http://127.0.0.1:\(pipeline.ingest.boundPort.current!)"
            let analyser = "http://127.0.0.1:\(pipeline.analysers[0].boundPort.current!)"
            let dispatcher = "http://127.0.0.1:\(pipeline.dispatcher.boundPort.current!)"
            var bodies: [String] = []
            let packet = #"{"id":"s-1","messages":[{"level":"INFO","message":"x"}]}"#
            func post(_ url: String, token: String?, body: String = packet) async throws -> (Int, String) {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                request.body = .bytes(.init(string: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                return (Int(response.status.code), text)
            }
            for route in ["/v1/packets", "/v1/packets:batch", "/distributor/packet"] {
                let (none, b1) = try await post(ingest + route, token: nil)
                let (wrong, b2) = try await post(ingest + route, token: adminToken)
                let (almost, b3) = try await post(ingest + route, token: String(ingestToken.dropLast()))
                #expect(none == 401 && wrong == 401 && almost == 401, "\(route)")
                bodies += [b1, b2, b3]
            }
            let (ok, _) = try await post(ingest + "/v1/packets", token: ingestToken)
            #expect(ok == 202)
            let (bad, b4) = try await post(ingest + "/v1/packets", token: ingestToken, body: "{\"id\":\"\(ingestToken)\"")
            #expect(bad == 400)
            bodies.append(b4)
            for action in ["fail", "begin"] {
                let (none, b5) = try await post(analyser + "/internal/simulate/\(action)", token: nil)
                let (wrong, b6) = try await post(analyser + "/internal/simulate/\(action)", token: ingestToken)
                #expect(none == 401 && wrong == 401)
                bodies += [b5, b6]
            }
            #expect(try await post(analyser + "/internal/simulate/fail", token: adminToken).0 == 200)
            #expect(try await post(analyser + "/internal/simulate/begin", token: adminToken).0 == 200)
            // The dashboard's forwarding endpoint passes the caller's token on; a wrong one is refused.
            #expect(await eventually { !pipeline.dispatcher.view().analysers.isEmpty })
            let (forwarded, b7) = try await post(dispatcher + "/v1/analysers/a1/fail", token: "nope")
            #expect(forwarded == 401 || forwarded == 404, "\(forwarded) \(b7)")
            bodies.append(b7)
            return bodies
        }
        let logs = capture.all
        #expect(logs.count > 10, "the capture saw no logs")
        for secret in [ingestToken, adminToken] {
            #expect(!logs.contains { $0.contains(secret) }, "a token reached the logs")
            #expect(!bodies.contains { $0.contains(secret) }, "a token reached an error body")
        }
    }
}

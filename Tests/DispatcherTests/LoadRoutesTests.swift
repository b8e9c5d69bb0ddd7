import PacketModel
import ServiceSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing

@testable import Dispatcher

/// `/v1/load` at the router: off without the admin token or the ingest URL, the token checked, bad bodies and bounds
/// refused, one run at a time. Runs themselves are in the end-to-end `LoadControlTests`.
@Suite("Load routes", .timeLimit(.minutes(1)))
struct LoadRoutesTests {
    static let token = "load-test-token"

    func dispatcher(token: String?, ingestURL: String?) throws -> DispatcherService {
        let cluster = try TestCluster(label: "load-routes")
        var config = DispatcherConfig(
            kafka: cluster.kafka, topics: Topics(namespace: cluster.namespace("load")), http: HTTPSettings(port: 0),
            instanceID: "load-routes")
        config.adminToken = token.flatMap(BearerToken.init)
        config.ingestURL = ingestURL
        return try DispatcherService(config: config, logger: cluster.logger, embedded: cluster.broker)
    }

    static let body = ByteBuffer(string: #"{"rate":10,"packetsPerRequest":2,"messagesPerPacket":3,"durationSeconds":30}"#)
    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] ?? [:]
    }

    @Test("off, with the reason, when the admin token or the ingest URL is missing", arguments: [
        (nil, "http://127.0.0.1:9/v1/packets", "--admin-token"), (Self.token, nil, "--ingest-url"),
    ] as [(String?, String?, String)])
    func offWithoutConfiguration(token: String?, ingestURL: String?, names: String) async throws {
        let service = try dispatcher(token: token, ingestURL: ingestURL)
        try await Application(router: service.makeRouter()).test(.router) { client in
            try await client.execute(uri: "/v1/load", method: .get) { response in
                #expect(response.status == .ok)
                let status = try json(response.body)
                #expect(status["enabled"] as? Bool == false)
                #expect((status["detail"] as? String)?.contains(names) == true, "\(status)")
            }
            for method in [HTTPRequest.Method.post, .delete] {
                try await client.execute(uri: "/v1/load", method: method, headers: Self.bearer(Self.token), body: Self.body) { response in
                    #expect(response.status == .forbidden)
                    let error = try json(response.body)
                    #expect(error["error"] as? String == "load_disabled")
                    #expect((error["detail"] as? String)?.contains(names) == true)
                }
            }
        }
    }

    @Test func tokenBodyBoundsAndOneRunAtATime() async throws {
        let service = try dispatcher(token: Self.token, ingestURL: "http://127.0.0.1:9/v1/packets")
        try await Application(router: service.makeRouter()).test(.router) { client in
            for headers: HTTPFields in [[.contentType: "application/json"], Self.bearer("wrong")] {
                for method in [HTTPRequest.Method.post, .delete] {
                    try await client.execute(uri: "/v1/load", method: method, headers: headers, body: Self.body) { response in
                        #expect(response.status == .unauthorized)
                    }
                }
            }
            try await client.execute(uri: "/v1/load", method: .post, headers: Self.bearer(Self.token), body: ByteBuffer(string: "{")) { response in
                #expect(response.status == .badRequest)
                let error = try json(response.body)["error"] as? String
                #expect(error == "malformed_json")
            }
            let tooFast = ByteBuffer(string: #"{"rate":1e9,"packetsPerRequest":1,"messagesPerPacket":1,"durationSeconds":5}"#)
            try await client.execute(uri: "/v1/load", method: .post, headers: Self.bearer(Self.token), body: tooFast) { response in
                #expect(response.status == .unprocessableContent)
                let field = try json(response.body)["field"] as? String
                #expect(field == "rate")
            }
            try await client.execute(uri: "/v1/load", method: .post, headers: Self.bearer(Self.token), body: Self.body) { response in
                #expect(response.status == .accepted)
                let status = try json(response.body)
                let run = status["run"] as? [String: Any]
                #expect(run?["running"] as? Bool == true && run?["id"] as? Int == 1)
                #expect(status["target"] as? String == "http://127.0.0.1:9/v1/packets")
            }
            try await client.execute(uri: "/v1/load", method: .post, headers: Self.bearer(Self.token), body: Self.body) { response in
                #expect(response.status == .conflict)
                let error = try json(response.body)["error"] as? String
                #expect(error == "load_running")
            }
            try await client.execute(uri: "/v1/load", method: .delete, headers: Self.bearer(Self.token)) { response in #expect(response.status == .ok) }
        }
    }
}

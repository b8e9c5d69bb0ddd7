import Operations
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing
@testable import Ingest

/// An ingest service on a test cluster, tested in process through its router.
struct IngestHarness {
    let cluster: TestCluster
    let service: IngestService
    let topics: Topics

    /// - Parameter configure: changes to the test's configuration, applied last.
    init(
        label: String, token: String? = nil, ackTimeout: Duration = .seconds(3), limits: PacketLimits = PacketLimits(),
        configure: (inout IngestConfig) -> Void = { _ in }
    ) async throws {
        cluster = try TestCluster(label: label)
        topics = Topics(namespace: cluster.namespace(label))
        var config = IngestConfig(kafka: cluster.kafka, topics: topics, http: HTTPSettings(port: 0))
        config.ackTimeout = ackTimeout
        config.limits = limits
        config.token = token.flatMap(BearerToken.init)
        config.layout.packetPartitions = 3
        configure(&config)
        service = try IngestService(config: config, logger: cluster.logger, embedded: cluster.broker)
        try await cluster.create(topics.specs(packetPartitions: 3, analyserSlots: 3))
        try await service.prepare()
    }

    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(responder: service.makeRouter().buildCheckedResponder())
        return try await app.test(.router) { client in try await body(client) }
    }

    /// Runs `body` with the service listening on a loopback port, as a client outside the process sees it.
    func testLive<Value: Sendable>(_ body: @Sendable (Int) async throws -> Value) async throws -> Value {
        let app = Application(responder: service.makeRouter().buildCheckedResponder())
        return try await app.test(.live) { client in try await body(try #require(client.port)) }
    }

    /// Every packet in the packets topic, in no particular order across partitions.
    func packetsInKafka(expected: Int, timeout: Duration = .seconds(20)) async throws -> [KafkaMessage] {
        try await cluster.readAll((0..<3).map { TopicPartition(topics.packets, Int32($0)) }, count: expected, timeout: timeout)
    }

    func close() async {
        await service.producer.close(timeout: .seconds(5))
        await service.admin.close()
    }
}

func packetJSON(id: String, level: String = "INFO", message: String = "hello", extra: String = "") -> String {
    #"{"id":"\#(id)","timestamp":1732400000000,"source":"web-7","messages":[{"level":"\#(level)","message":"\#(message)","timestamp":1732400000000,"attributes":{"k":"v"}}]\#(extra)}"#
}

extension TestClientProtocol {
    func post(_ uri: String, body: String, contentType: String? = "application/json", token: String? = nil) async throws -> TestResponse {
        try await post(uri, bytes: Array(body.utf8), contentType: contentType, token: token)
    }

    func post(_ uri: String, bytes: [UInt8], contentType: String? = "application/json", token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: bytes))
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: body) }
}

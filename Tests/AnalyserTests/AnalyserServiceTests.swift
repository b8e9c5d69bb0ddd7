import Operations
import LogdistBasics
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing

@testable import Analyser

@Suite("Analyser service", .timeLimit(.minutes(3)))
struct AnalyserServiceTests {
    struct Setup {
        let cluster: TestCluster
        let topics: Topics

        init(_ label: String) async throws {
            cluster = try TestCluster(label: label)
            topics = Topics(namespace: cluster.namespace(label))
            try await cluster.create(topics.specs(packetPartitions: 1, analyserSlots: 2))
        }

        func analyser(token: String? = nil) throws -> AnalyserService {
            var config = AnalyserConfig(kafka: cluster.kafka, topics: topics, id: "a1", partition: 0, weight: 1, http: HTTPSettings(port: 0))
            config.recordIDs = true
            config.heartbeatInterval = .milliseconds(100)
            config.adminToken = token.flatMap(BearerToken.init)
            return try AnalyserService(config: config, logger: cluster.logger)
        }

        func feed(_ ids: [String], payload: (String) -> String = { #"{"id":"\#($0)","source":"s","messages":[{"level":"ERROR","message":"disk 42 full"}]}"# }) async throws {
            let producer = try KafkaProducer(configuration: cluster.producerConfig("feeder"), logger: cluster.logger)
            _ = try await producer.sendBatch(ids.map {
                OutgoingMessage(topic: topics.assigned, partition: 0, key: Array($0.utf8), value: Array(payload($0).utf8))
            }).get()
            await producer.close(timeout: .seconds(5))
        }
    }

    @Test("a restarted analyser replays exactly its backlog: nothing lost, nothing counted twice")
    func restartReplaysBacklog() async throws {
        let setup = try await Setup("restart")
        let first = (0..<1000).map { "first-\($0)" }
        try await setup.feed(first)
        let a = try setup.analyser()
        try await ServiceRunner.with(a.services(), logger: setup.cluster.logger) {
            #expect(await eventually { a.analysedIDs().count == 1000 })
        }
        #expect(a.stats().offsets.committed == 1000)

        let backlog = (0..<500).map { "backlog-\($0)" }
        try await setup.feed(backlog)
        let b = try setup.analyser()
        try await ServiceRunner.with(b.services(), logger: setup.cluster.logger) {
            #expect(await eventually { b.analysedIDs().count == 500 })
            try await Task.sleep(for: .milliseconds(500))
            let stats = b.stats()
            #expect(Set(b.analysedIDs().keys) == Set(backlog))
            #expect(b.analysedIDs().values.allSatisfy { $0 == 1 })
            #expect(stats.analysis.packets == 500)
            #expect(stats.analysis.levels["ERROR"] == 500)
            #expect(stats.analysis.topTemplates.first?.template == "disk <num> full")
            #expect(stats.replay.packets == 500)
            #expect(stats.offsets.lag == 0)
        }
        let committed = try await setup.cluster.admin.committedOffsets(
            group: setup.topics.analyserGroup("a1"), partitions: [TopicPartition(setup.topics.assigned, 0)])
        #expect(committed[TopicPartition(setup.topics.assigned, 0)] == 1500)
    }

    @Test("duplicate packet ids inside the window are counted once")
    func duplicatesCountedOnce() async throws {
        let setup = try await Setup("dupes")
        try await setup.feed(["x", "y", "x", "z", "y"])
        let a = try setup.analyser()
        try await ServiceRunner.with(a.services(), logger: setup.cluster.logger) {
            #expect(await eventually { a.stats().offsets.position == 5 })
            let stats = a.stats()
            #expect(stats.analysis.packets == 3)
            #expect(stats.analysis.duplicates == 2)
        }
    }

    @Test(
        "a backlog that outlived retention is reported with the count lost, never skipped silently",
        .enabled(if: TestNeeds.embeddedBroker, "forcing retention needs the embedded broker's 5 MiB partition limit"))
    func retentionLossReported() async throws {
        let setup = try await Setup("retention")
        guard setup.cluster.broker != nil else {
            print("skipped: forcing retention needs the embedded broker's 5 MiB partition limit")
            return
        }
        let tp = TopicPartition(setup.topics.assigned, 0)
        let consumer = try KafkaConsumer(
            configuration: setup.cluster.consumerConfig(group: setup.topics.analyserGroup("a1")), logger: setup.cluster.logger)
        try consumer.assign([TopicPartitionOffset(tp.topic, 0, KafkaOffset.beginning)])
        try await consumer.commit([TopicPartitionOffset(tp.topic, 0, 0)])
        await consumer.close()
        // Incompressible packets, about 8 MiB: more than the embedded broker keeps.
        var generator = SystemRandomNumberGenerator()
        let ids = (0..<4000).map { "r-\($0)" }
        try await setup.feed(ids) { id in
            let noise = (0..<2000).map { _ in String(UnicodeScalar(UInt8(97 + generator.next() % 26))) }.joined()
            return #"{"id":"\#(id)","messages":[{"level":"INFO","message":"\#(noise)"}]}"#
        }
        let marks = try await setup.cluster.admin.watermarks(tp)
        #expect(marks.low > 0, "the embedded broker kept everything; the test needs more data")
        let a = try setup.analyser()
        try await ServiceRunner.with(a.services(), logger: setup.cluster.logger) {
            #expect(await eventually { a.stats().offsets.position == marks.high })
            let stats = a.stats()
            #expect(stats.retentionLostPackets == marks.low)
            #expect(stats.analysis.packets == marks.high - marks.low)
            #expect(a.registry.emitToString().contains(#"logdist_analyser_retention_lost_packets_total{analyser="a1"} \#(marks.low)"#))
        }
    }

    @Test("admin endpoints refuse without the token")
    func adminEndpointsNeedToken() async throws {
        let setup = try await Setup("admin")
        let withToken = try setup.analyser(token: "adm1n-secret")
        try await Application(router: withToken.makeRouter()).test(.router) { client in
            for path in ["/internal/simulate/fail", "/internal/simulate/begin"] {
                let none = try await client.execute(uri: path, method: .post)
                #expect(none.status == .unauthorized)
                let wrong = try await client.execute(uri: path, method: .post, headers: [.authorization: "Bearer nope"])
                #expect(wrong.status == .unauthorized)
                #expect(!String(buffer: wrong.body).contains("adm1n"))
            }
            let ok = try await client.execute(uri: "/internal/simulate/fail", method: .post, headers: [.authorization: "Bearer adm1n-secret"])
            #expect(ok.status == .ok)
            #expect(withToken.isFailed)
            let begin = try await client.execute(uri: "/internal/simulate/begin", method: .post, headers: [.authorization: "Bearer adm1n-secret"])
            #expect(begin.status == .ok)
            #expect(!withToken.isFailed)
        }
        let withoutToken = try setup.analyser()
        try await Application(router: withoutToken.makeRouter()).test(.router) { client in
            let response = try await client.execute(uri: "/internal/simulate/fail", method: .post, headers: [.authorization: "Bearer anything"])
            #expect(response.status == .unauthorized)
            #expect(!withoutToken.isFailed)
        }
    }
}

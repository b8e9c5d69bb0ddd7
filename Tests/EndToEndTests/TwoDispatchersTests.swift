import Analyser
import KafkaClient
import ServiceSupport
import Dispatcher
import Foundation
import KafkaTestSupport
import Testing

@Suite("Several dispatcher instances", .timeLimit(.minutes(3)))
struct TwoDispatchersTests {
    @Test("two dispatchers share the input partitions; each keeps the weights on its share; every packet analysed once")
    func twoInstances() async throws {
        let (cluster, topics, analysers) = try await AnalyserFleet.make(label: "two-dispatchers", namespace: "two")
        let dispatchers = try ["d1", "d2"].map { id in
            var config = DispatcherConfig(kafka: cluster.kafka, topics: topics, http: HTTPSettings(port: 0), instanceID: id)
            config.policy = HealthPolicy(heartbeatTimeout: .seconds(3))
            config.sessionTimeout = .seconds(6)
            return try DispatcherService(config: config, logger: cluster.logger, embedded: cluster.broker)
        }
        for dispatcher in dispatchers { try await dispatcher.prepare() }
        let services = analysers.flatMap { $0.services() } + dispatchers.flatMap { $0.services() }
        try await ServiceRunner.with(services, logger: cluster.logger) {
            // Both in the group, each with part of the six partitions.
            #expect(await eventually(timeout: .seconds(60)) {
                let shares = dispatchers.map { $0.view().inputPartitions }
                return shares.allSatisfy { !$0.isEmpty } && Set(shares.flatMap { $0 }).count == 6
            })
            #expect(await eventually { dispatchers.allSatisfy { $0.view().analysers.filter(\.status.healthy).count == 3 } })
            let producer = try KafkaProducer(configuration: cluster.producerConfig("two-feeder"), logger: cluster.logger)
            let ids = (0..<12_000).map { "t-\($0)" }
            _ = try await producer.sendBatch(ids.map { id in
                OutgoingMessage(topic: topics.packets, key: Array(id.utf8), value: Array(#"{"id":"\#(id)","messages":[{"level":"INFO","message":"m"}]}"#.utf8))
            }).get()
            await producer.close(timeout: .seconds(5))
            #expect(await eventually(timeout: .seconds(60)) {
                var seen = 0
                for analyser in analysers { seen += analyser.analysedIDs().count }
                return seen >= ids.count
            })
            var counts: [String: Int] = [:]
            for analyser in analysers { counts.merge(analyser.analysedIDs(), uniquingKeysWith: +) }
            #expect(counts.count == ids.count)
            #expect(counts.values.allSatisfy { $0 == 1 })
            let totals = dispatchers.map { $0.view().dispatchedTotal }
            #expect(totals.allSatisfy { $0 > 0 }, "one instance did all the work: \(totals)")
            for dispatcher in dispatchers {
                for epoch in dispatcher.view().epochs where !epoch.counts.isEmpty {
                    #expect(epoch.maxDeviation <= 3, "\(dispatcher.config.instanceID): \(epoch.counts)")
                }
            }
        }
    }
}

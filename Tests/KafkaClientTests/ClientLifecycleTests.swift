import Foundation
import KafkaClient
import KafkaTestSupport
import Testing

@Suite("Client lifecycle (pure)")
struct ClientLifecycleTests {
    @Test("starting admits and becomes running; running keeps admitting")
    func admitsUntilClose() {
        var life = ClientLifecycle(role: "producer")
        #expect(life.state == .starting)
        let step1 = life.admit()
        #expect(step1 == .proceed)
        #expect(life.state == .running)
        let step2 = life.admit()
        #expect(step2 == .proceed)
        #expect(life.needsTeardown)
    }

    @Test("a close drains once: closing refuses with .closed, a second close waits, a close after closed does nothing")
    func closeSequence() {
        var life = ClientLifecycle(role: "consumer")
        _ = life.admit()
        let step3 = life.beginClose()
        #expect(step3 == .drain)
        #expect(life.state == .closing)
        let step4 = life.admit()
        #expect(step4 == .refuse(KafkaError.closed("consumer")))
        let step5 = life.beginClose()
        #expect(step5 == .awaitClosed)
        let step6 = life.finishClose()
        #expect(step6)
        #expect(life.state == .closed)
        #expect(!life.needsTeardown)
        let step7 = life.beginClose()
        #expect(step7 == .none)
        let step8 = life.admit()
        #expect(step8 == .refuse(KafkaError.closed("consumer")))
        let step9 = life.finishClose()
        #expect(!step9, "finishing twice changes nothing")
    }

    @Test("a client closed before its first operation drains too")
    func closeWhileStarting() {
        var life = ClientLifecycle(role: "producer")
        let step10 = life.beginClose()
        #expect(step10 == .drain)
        let step11 = life.finishClose()
        #expect(step11)
        let step12 = life.admit()
        #expect(step12 == .refuse(KafkaError.closed("producer")))
    }

    @Test("finishing a close that never began is refused")
    func finishWithoutBegin() {
        var life = ClientLifecycle(role: "producer")
        let step13 = life.finishClose()
        #expect(!step13)
        #expect(life.state == .starting)
    }

    @Test("a fatal error refuses everything after it with that error, the first one kept; closing still drains")
    func fatal() {
        var life = ClientLifecycle(role: "producer")
        _ = life.admit()
        let fenced = KafkaError(kind: .fatal, message: "fenced")
        life.failed(fenced)
        life.failed(KafkaError(kind: .fatal, message: "later"))
        #expect(life.fatalError == fenced)
        let step14 = life.admit()
        #expect(step14 == .refuse(fenced))
        let step15 = life.beginClose()
        #expect(step15 == .drain, "a failed client still releases its resources")
        let step16 = life.finishClose()
        #expect(step16)
        let step17 = life.admit()
        #expect(step17 == .refuse(fenced))
    }
}

@Suite("Client lifecycle (Kafka)", .timeLimit(.minutes(1)))
struct ClientLifecycleKafkaTests {
    @Test("a producer reports starting → running → closed, and sends racing a close complete or fail, none hang")
    func producerRacingClose() async throws {
        let cluster = try TestCluster(label: "life-race")
        let topic = try await cluster.createTopic("life-race", partitions: 1)
        let producer = try KafkaProducer(configuration: cluster.producerConfig(), logger: cluster.logger)
        #expect(producer.state == .starting)
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 0, value: [0]))
        #expect(producer.state == .running)
        let outcomes = await withTaskGroup(of: [Result<DeliveryReport, KafkaError>].self) { group in
            for sender in 0..<8 {
                group.addTask {
                    var mine: [Result<DeliveryReport, KafkaError>] = []
                    for round in 0..<50 {
                        mine += await producer.sendBatch([OutgoingMessage(topic: topic, partition: 0, value: [UInt8(sender), UInt8(round)])])
                    }
                    return mine
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(20))
                await producer.close(timeout: .seconds(5))
                return []
            }
            var all: [Result<DeliveryReport, KafkaError>] = []
            for await part in group { all += part }
            return all
        }
        #expect(outcomes.count == 400)
        for case .failure(let error) in outcomes {
            // A close purges what it could not flush in time: _PURGE_QUEUE (-152) or _PURGE_INFLIGHT (-151).
            #expect(error.kind == .closed || error.code == -152 || error.code == -151, "only .closed or a purge (\(error))")
        }
        #expect(producer.state == .closed)
        // A second close returns at once.
        let again = ContinuousClock.now
        await producer.close(timeout: .seconds(5))
        #expect(ContinuousClock.now - again < .seconds(1))
    }

    @Test("a consumer refuses polls once closed, and closing twice is harmless")
    func consumerAfterClose() async throws {
        let cluster = try TestCluster(label: "life-consumer")
        let topic = try await cluster.createTopic("life-consumer", partitions: 1)
        let configuration = cluster.consumerConfig(group: nil, name: "life-consumer")
        let consumer = try KafkaConsumer(configuration: configuration, logger: cluster.logger)
        #expect(consumer.state == .starting)
        try consumer.assign([TopicPartitionOffset(topic, 0, KafkaOffset.beginning)])
        _ = try await consumer.pollRaw(maxMessages: 10, timeout: .milliseconds(10))
        #expect(consumer.state == .running)
        await consumer.close()
        #expect(consumer.state == .closed)
        await consumer.close()
        await #expect(throws: KafkaError.closed("consumer")) {
            _ = try await consumer.pollRaw(maxMessages: 10, timeout: .milliseconds(10))
        }
    }
}

import KafkaClient
import PacketModel
import ServiceSupport
import Testing

@testable import Dispatcher

@Suite("TransactionTurns")
struct TransactionTurnsTests {
    @Test func twoProducersTakeTurnsTransactionByTransaction() {
        var turns = TransactionTurns(producers: 2)
        #expect((0..<6).map { _ in turns.take() } == [0, 1, 0, 1, 0, 1])
    }

    @Test func oneProducerRunsEveryTransaction() {
        var turns = TransactionTurns(producers: 1)
        #expect((0..<4).map { _ in turns.take() } == [0, 0, 0, 0])
    }

    @Test func aTransactionAfterAnAbortGoesToTheOtherProducer() {
        // Taking is the only step: an aborted transaction's producer is writing abort markers, as a committed one's
        // writes commit markers, so the redo goes to the other producer either way.
        var turns = TransactionTurns(producers: 2)
        let aborted = turns.take()
        let redo = turns.take()
        #expect(aborted != redo)
    }

    @Test func transactionalIDsKeepTheFirstAndFenceEveryOne() {
        var config = DispatcherConfig(
            kafka: KafkaConfig(bootstrapServers: "127.0.0.1:9092"), topics: Topics(namespace: "ns"),
            http: HTTPSettings(port: 0), instanceID: "dispatcher-1")
        #expect(config.transactionalIDs == ["ns.dispatcher.dispatcher-1", "ns.dispatcher.dispatcher-1/2"])
        config.transactionalProducers = 1
        #expect(config.transactionalIDs == ["ns.dispatcher.dispatcher-1"])
        // Restarted with one producer, the instance still fences the id its second producer used.
        #expect(config.fencedTransactionalIDs == ["ns.dispatcher.dispatcher-1", "ns.dispatcher.dispatcher-1/2"])
    }
}

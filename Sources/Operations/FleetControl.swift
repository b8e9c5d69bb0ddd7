import KafkaClient
import PacketModel
import Logging

/// Writes operators' directives (weights, retirements, drained slots) to the heartbeats topic, where every dispatcher
/// reads them: `logdist weight`, `logdist drain` and the dispatcher's weight API go through here. Works against any
/// cluster, as Kafka's own tools do, with the rights to write that topic.
public final class FleetControl: Sendable {
    let topics: Topics
    private let producer: KafkaProducer
    private let inspector: LagInspector

    public init(kafka: KafkaConfig, topics: Topics, logger: Logger) throws {
        self.topics = topics
        var config = KafkaProducer.Configuration(kafka: kafka)
        config.clientName = "fleet-control"
        config.linger = .zero
        config.deliveryTimeout = .seconds(15)
        producer = try KafkaProducer(configuration: config, logger: logger)
        inspector = try LagInspector(kafka: kafka, topics: topics, logger: logger)
    }

    /// Publishes `directive`; returns once Kafka acknowledged it (acks=all).
    public func publish(_ directive: FleetDirective) async throws {
        _ = try await producer.send(
            OutgoingMessage(topic: topics.heartbeats, partition: 0, key: Array(directive.key.utf8), value: directive.encoded()))
    }

    /// Withdraws the directive under `key` (a tombstone; compaction removes both in time).
    public func withdraw(key: String) async throws {
        _ = try await producer.send(OutgoingMessage(topic: topics.heartbeats, partition: 0, key: Array(key.utf8), value: nil))
    }

    /// Removes an analyser's heartbeat from the table (a tombstone on its id): dispatchers forget it.
    public func forget(analyser id: String) async throws {
        try await withdraw(key: id)
    }

    /// The fleet as the heartbeats topic has it now.
    public func state(timeout: Duration = .seconds(10)) async throws -> FleetState {
        try await inspector.fleetState(timeout: timeout)
    }

    /// Runs `body` with a fleet control that is closed afterwards, whatever `body` does.
    public static func with<T: Sendable>(
        kafka: KafkaConfig, topics: Topics, logger: Logger, _ body: (FleetControl) async throws -> T
    ) async throws -> T {
        let control = try FleetControl(kafka: kafka, topics: topics, logger: logger)
        do {
            let result = try await body(control)
            await control.close()
            return result
        } catch {
            await control.close()
            throw error
        }
    }

    public func close() async {
        await producer.close(timeout: .seconds(5))
        await inspector.close()
    }
}

import Operations
import ArgumentParser
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation
import ServiceLifecycle

struct Broker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the embedded broker (librdkafka's mock cluster) on loopback until SIGINT/SIGTERM.",
        discussion: """
            For development and tests. It keeps about 5 MiB per partition (older batches are deleted), does not honour
            transactions, and does not answer CreateTopics, so it creates logdist's topics itself (--no-topics to skip).
            """)

    @Option(help: "Number of brokers.") var brokers = 1
    @Option(help: "A fixed bootstrap port (a proxy to broker 1); default: the mock's own free port.") var port: Int?
    @Option(help: "Namespace whose topics are created (env LOGDIST_NAMESPACE; default logdist).") var namespace: String?
    @Option(help: "Partitions of <namespace>.packets.") var partitions = 6
    @Option(help: "Analyser slots: partitions of <namespace>.assigned.") var analyserSlots = 3
    @Flag(help: "Do not create logdist's topics.") var noTopics = false
    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = try log.bootstrap(label: "logdist.broker")
        let broker = try EmbeddedBroker(brokers: brokers, logger: logger)
        let topics = Topics(namespace: try setting(namespace, "LOGDIST_NAMESPACE", default: "logdist"))
        if !noTopics {
            try broker.createTopics(topics.specs(packetPartitions: partitions, analyserSlots: analyserSlots))
        }
        var services: [any Service] = []
        var bootstrap = broker.bootstrapServers
        if let port {
            let proxy = BootstrapProxy(listenPort: port, target: broker.bootstrapServers, logger: logger)
            services.append(proxy)
            bootstrap = "127.0.0.1:\(port)"
        }
        print("bootstrap: \(bootstrap)")
        if !noTopics {
            print("topics: \(topics.packets) (\(partitions)), \(topics.assigned) (\(analyserSlots)), \(topics.heartbeats) (1)")
        }
        print("limits: about 5 MiB kept per partition; transactions are not honoured (dispatcher runs at-least-once)")
        flushOutput()
        services.append(WaitForShutdown())
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        _ = broker
    }
}

/// Does nothing until the group shuts down.
struct WaitForShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}

import LogdistBasics
import Logging
import ServiceLifecycle

/// Runs a producer for the life of a `ServiceGroup`: on graceful shutdown it flushes what is in flight.
///
/// Put it before the HTTP server in the group so it shuts down after the server stopped taking requests.
public struct ProducerService: Service {
    let producer: KafkaProducer
    let flushTimeout: Duration
    let logger: Logger

    public init(producer: KafkaProducer, flushTimeout: Duration = .seconds(10), logger: Logger) {
        self.producer = producer
        self.flushTimeout = flushTimeout
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        let pending = producer.queueDepth
        await producer.close(timeout: flushTimeout)
        logger.info("producer flushed", metadata: [LogKeys.count: "\(pending)"])
    }
}

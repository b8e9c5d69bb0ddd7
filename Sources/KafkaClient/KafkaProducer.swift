import LogdistBasics
import CLogdistKafka
import CRdKafka
import Foundation
import Logging
import Synchronization

/// An idempotent Kafka producer whose sends complete when the broker acknowledges them.
///
/// One family of sends, by what the caller holds, each suspending once until every record has its outcome:
/// - ``send(_:)`` and ``sendBatch(_:)`` (KafkaProducer+Send.swift): Swift values, a report per message;
/// - ``sendSlices(topic:values:keys:slices:header:timestamp:countHeader:)`` and ``forward(_:picks:routes:)``
///   (KafkaProducer+Records.swift): records already in a buffer, copied by C loops, one ``CountedOutcome``.
///
/// A full local queue is a `KafkaError` of kind `.queueFull` (backpressure) after at most `enqueueTimeout`, never a
/// silent drop or an unbounded wait. Delivery reports are read by one dedicated thread (``EventPoller``) from
/// librdkafka's event queue, a batch of reports per event, and resolved in ``ProducerCore``, which also holds the
/// producer's ``ClientLifecycle``: once a close begins, sends are refused with `.closed`.
public final class KafkaProducer: Sendable {
    let client: RDKafkaClient
    let core: ProducerCore
    let configuration: Configuration
    private let executor: BlockingExecutor
    private let topicHandles = Mutex<[String: TopicHandle]>([:])
    let poller: EventPoller

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.client = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER, properties: configuration.properties(), logger: logger,
            name: configuration.clientName, events: Int32(RD_KAFKA_EVENT_DR))
        self.core = ProducerCore()
        self.executor = BlockingExecutor(label: "logdist.kafka.\(configuration.clientName)")
        let client = self.client
        let core = self.core
        self.poller = EventPoller(client: client, name: configuration.clientName) { event in
            core.handle(event: event)
        }
    }

    deinit {
        topicHandles.withLock { handles in
            for handle in handles.values { rd_kafka_topic_destroy(handle.pointer) }
            handles.removeAll()
        }
        poller.stop()
        core.finishClose(KafkaError.closed("producer"))
    }

    /// Messages enqueued locally and not yet acknowledged or failed.
    public var queueDepth: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// The fatal error that ended this producer, if any (for example a fenced transactional id).
    public var fatalError: KafkaError? { client.fatalError }

    /// Where the producer is in its life: starting, running, closing, closed.
    public var state: ClientLifecycle.State { core.lifecycle.state }

    /// The last broker-connection error librdkafka reported, if any.
    public var lastError: KafkaError? { client.context.lastError.withLock { $0 } }

    /// Asks the cluster for its metadata through this producer's own connections, so records can go to partitions
    /// added since it last looked (librdkafka refreshes by itself only every `topic.metadata.refresh.interval.ms`,
    /// 5 minutes); returns `topic`'s partition count as the cluster now has it.
    public func refreshMetadata(topic: String, timeout: Duration = .seconds(5)) async throws -> Int? {
        let client = client
        return try await executor.query(deadline: timeout + .seconds(1)) { try client.partitionCount(topic: topic, timeout: timeout) }
    }

    /// Waits until every enqueued message is acknowledged or failed, at most `timeout`.
    /// - Returns: the number of messages still outstanding (0 when everything was delivered).
    @discardableResult
    public func flush(timeout: Duration) async -> Int {
        let client = client
        do {
            _ = try await executor.run { rd_kafka_flush(client.handle, timeout.milliseconds).rawValue }
        } catch {
            client.logger.warning("flush did not run", metadata: [LogKeys.error: "\(error)"])
        }
        // In event mode flush waits for the queue to drain; give the poller time to hand out the last reports.
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(500))
        while core.pendingCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        return max(queueDepth, core.pendingCount)
    }

    /// Flushes for up to `timeout`, then fails whatever is left (purged) so no caller waits forever. Sends from the
    /// moment it begins fail at once with `.closed`. A close while another runs returns when that one has finished.
    public func close(timeout: Duration) async {
        switch core.beginClose() {
        case .drain: break
        case .none: return
        case .awaitClosed:
            while core.lifecycle.state != .closed { try? await Task.sleep(for: .milliseconds(5)) }
            return
        }
        let left = await flush(timeout: timeout)
        if left > 0 {
            client.logger.warning(
                "producer closed with undelivered messages; they fail with a purge error",
                metadata: [LogKeys.count: "\(left)", LogKeys.client: "\(configuration.clientName)"])
            rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            _ = await flush(timeout: .milliseconds(500))
        }
        poller.stop()
        core.finishClose(KafkaError.closed("producer"))
    }

    func runBlocking<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let client = client
        return try await executor.run { try body(client.handle) }
    }

    func topicHandle(_ name: String) -> OpaquePointer {
        topicHandles.withLock { handles in
            if let known = handles[name] { return known }
            let conf: OpaquePointer? = configuration.stickyPartitioning.flatMap { logdist_sticky_topic_conf(client.handle, Int64($0 / .microseconds(1))) }
            let created = TopicHandle(pointer: rd_kafka_topic_new(client.handle, name, conf))
            handles[name] = created
            return created
        }.pointer
    }
}

/// A cached `rd_kafka_topic_t*`.
/// - Important: destroyed by the producer before its client; librdkafka topic handles are thread-safe.
struct TopicHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

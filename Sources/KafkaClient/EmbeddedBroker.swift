import LogdistBasics
import CRdKafka
import Foundation
import Logging

/// The embedded broker: librdkafka's mock cluster, speaking the Kafka protocol on loopback TCP.
///
/// For development, tests and the demo. Know its limits (librdkafka 2.0.2): it keeps about 5 MiB or 100 000
/// batches per partition and deletes older batches; it does not answer CreateTopics (use `createTopic`);
/// its transactions succeed as calls but write no markers and store no offsets, so exactly-once cannot be
/// had on it — `isEmbedded` lets services pick at-least-once.
public final class EmbeddedBroker: Sendable {
    /// The `bootstrap.servers` list of the cluster's brokers.
    public let bootstrapServers: String
    public let brokerCount: Int
    /// Always true: services ask this to choose a delivery mode the broker can honour.
    public var isEmbedded: Bool { true }

    private let client: RDKafkaClient
    private let cluster: MockClusterHandle
    private let logger: Logger

    public init(brokers: Int = 1, logger: Logger) throws {
        precondition(brokers >= 1, "a cluster needs at least one broker")
        self.logger = logger
        self.brokerCount = brokers
        // The mock cluster needs a client handle for its bookkeeping; this one never talks to a broker.
        self.client = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER, properties: ["client.id": "logdist-embedded-broker", "log.connection.close": "false", "log_level": "3"],
            logger: logger, name: "embedded-broker")
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, Int32(brokers)) else {
            throw KafkaError(kind: .configuration, message: "cannot start the embedded broker (rd_kafka_mock_cluster_new failed)")
        }
        self.cluster = MockClusterHandle(pointer: cluster)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        let ports = Set(bootstrapServers.split(separator: ",").compactMap { $0.split(separator: ":").last.flatMap { UInt16($0) } })
        let patched = Self.disableNagleOnListeners(ports: ports)
        if patched < ports.count {
            logger.warning(
                "could not set TCP_NODELAY on every embedded broker listener; small responses may wait ~40 ms (delayed ACK)",
                metadata: ["patched": "\(patched)", "brokers": "\(ports.count)"])
        }
        logger.info("embedded broker started", metadata: [LogKeys.bootstrap: "\(bootstrapServers)", "brokers": "\(brokers)"])
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster.pointer)
    }

    /// The mock cluster writes responses without `TCP_NODELAY`: under steady traffic a response segment then waits
    /// for the client's delayed ACK (40 ms on Linux), so sends that usually take 1.5 ms take 45 ms. Linux copies
    /// `TCP_NODELAY` from a listening socket to the sockets it accepts, so setting it on the mock's listeners (found
    /// among this process's descriptors by their port) fixes every connection made afterwards.
    /// - Returns: how many listeners were changed.
    static func disableNagleOnListeners(ports: Set<UInt16>) -> Int {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return 0 }
        var patched = 0
        for entry in entries {
            guard let fd = Int32(entry) else { continue }
            var accepting: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting == 1 else { continue }
            var address = sockaddr_in()
            var addressLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &addressLength) }
            }
            guard named == 0, address.sin_family == sa_family_t(AF_INET), ports.contains(UInt16(bigEndian: address.sin_port)) else { continue }
            var on: Int32 = 1
            if setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 { patched += 1 }
        }
        return patched
    }

    /// A cluster id of librdkafka's mock cluster starts with this.
    public static func isEmbeddedClusterID(_ id: String) -> Bool {
        id.hasPrefix("mockCluster")
    }

    /// Creates a topic (the embedded broker does not answer the CreateTopics API).
    /// Topic configs such as `cleanup.policy` are not honoured by the mock and are ignored here.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws {
        let err = rd_kafka_mock_topic_create(
            cluster.pointer, name, Int32(partitions), Int32(min(max(replicationFactor, 1), brokerCount)))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "create topic \(name)") }
    }

    public func createTopics(_ specs: [TopicSpec]) throws {
        for spec in specs {
            try createTopic(spec.name, partitions: spec.partitions, replicationFactor: spec.replicationFactor)
        }
    }

    /// Disconnects broker `id` (1-based; -1 for all) and refuses new connections. No leader change happens.
    public func setBrokerDown(_ id: Int32 = -1) throws {
        let err = rd_kafka_mock_broker_set_down(cluster.pointer, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "broker \(id) down") }
        logger.info("embedded broker down", metadata: ["broker": "\(id)"])
    }

    /// Lets broker `id` (-1 for all) accept connections again.
    public func setBrokerUp(_ id: Int32 = -1) throws {
        let err = rd_kafka_mock_broker_set_up(cluster.pointer, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "broker \(id) up") }
        logger.info("embedded broker up", metadata: ["broker": "\(id)"])
    }

    /// Adds latency to every response of broker `id` (-1 for all).
    public func setRoundTripTime(_ id: Int32 = -1, milliseconds: Int) throws {
        let err = rd_kafka_mock_broker_set_rtt(cluster.pointer, id, Int32(milliseconds))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: err, context: "broker \(id) rtt") }
    }

    /// Makes the next `errors.count` requests of type `api` fail, in order, with these librdkafka error codes.
    /// `KafkaAPI.transportError` disconnects the client instead of answering.
    public func pushRequestErrors(_ api: KafkaAPI, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t($0) }
        codes.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster.pointer, api.rawValue, buffer.count, buffer.baseAddress)
        }
    }

    /// Forgets pending injected errors for `api`.
    public func clearRequestErrors(_ api: KafkaAPI) {
        rd_kafka_mock_clear_request_errors(cluster.pointer, api.rawValue)
    }
}

/// Kafka protocol request types, for error injection.
public struct KafkaAPI: Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let produce = KafkaAPI(rawValue: 0)
    public static let fetch = KafkaAPI(rawValue: 1)
    public static let listOffsets = KafkaAPI(rawValue: 2)
    public static let metadata = KafkaAPI(rawValue: 3)
    public static let offsetCommit = KafkaAPI(rawValue: 8)
    public static let offsetFetch = KafkaAPI(rawValue: 9)
    public static let findCoordinator = KafkaAPI(rawValue: 10)
    public static let joinGroup = KafkaAPI(rawValue: 11)
    public static let heartbeat = KafkaAPI(rawValue: 12)
    public static let initProducerID = KafkaAPI(rawValue: 22)
    public static let endTxn = KafkaAPI(rawValue: 26)
}

/// Error codes worth injecting, as librdkafka numbers them.
public enum KafkaErrorCode {
    /// Disconnect instead of answering.
    public static let transport = RD_KAFKA_RESP_ERR__TRANSPORT.rawValue
    public static let notLeaderForPartition = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue
    public static let requestTimedOut = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue
    public static let notEnoughReplicas = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue
    public static let coordinatorNotAvailable = RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue
    public static let topicAuthorizationFailed = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED.rawValue
    /// A permanent per-message failure: the record was refused.
    public static let invalidRecord = RD_KAFKA_RESP_ERR_INVALID_RECORD.rawValue
}

/// `rd_kafka_mock_cluster_t*`. - Important: the mock's calls post to its own thread, so they are thread-safe.
struct MockClusterHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

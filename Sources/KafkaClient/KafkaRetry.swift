import LogdistBasics
import CRdKafka
import Logging

/// Waits out what a Kafka cluster says while it is still starting or failing over, and gives up on nothing else.
///
/// A fresh or recovering cluster answers `NOT_COORDINATOR`, "coordinator load in progress", `UNKNOWN_PARTITION` or
/// `NOT_LEADER_FOR_PARTITION` for seconds; a service that exits on them needs a restart policy to ever come up. The
/// decision is a pure function of the error (`decision(for:)`); `run` applies it with a capped backoff, says the
/// condition once when it starts and once when it clears, and publishes what it waits for to a readiness probe.
public enum KafkaRetry {
    public enum Decision: Sendable, Equatable {
        /// The cluster is still getting there: try again after a pause.
        case retry
        /// Retrying cannot help (configuration, authorisation, fatal client state): fail with the error.
        case fail
    }

    /// Broker answers that mean "not yet": leadership, coordinators and new topics settling, brokers unreachable.
    static let transientCodes: Set<Int32> = Set([
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
        RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__NODE_UPDATE,
        RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE, RD_KAFKA_RESP_ERR__RESOLVE,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_NOT_CONTROLLER, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
        RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND,
        RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH, RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH,
        RD_KAFKA_RESP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_ELECTION_NOT_NEEDED,
    ].map(\.rawValue))

    /// Retry what librdkafka flags retriable and the transient broker answers above; never a fatal error.
    public static func decision(for error: any Error) -> Decision {
        guard let error = error as? KafkaError else { return .fail }
        if error.isFatal { return .fail }
        if error.isRetriable { return .retry }
        switch error.kind {
        case .timedOut, .queueFull, .unknownTopicOrPartition: return .retry
        case .broker: return transientCodes.contains(error.code) ? .retry : .fail
        case .configuration, .fatal, .closed, .unsupported, .invalidArgument: return .fail
        }
    }

    /// The pause before attempt `attempt + 1`: 100 ms doubling to at most `cap`.
    public static func backoff(attempt: Int, cap: Duration = .seconds(2)) -> Duration {
        let shift = min(max(attempt, 0), 10)
        let delay = Duration.milliseconds(100 * (1 << shift))
        return min(delay, cap)
    }

    /// Runs `body` until it succeeds, waiting out retriable errors; a non-retriable error is rethrown, and
    /// cancellation ends the wait with `CancellationError`.
    ///
    /// - Parameters:
    ///   - what: what is being waited for, as `/health/ready` and the log should say it ("committed offsets of …").
    ///   - waiting: told `"waiting for Kafka: <what> (<error>)"` while retrying and nil once done.
    public static func run<T: Sendable>(
        _ what: String, logger: Logger, waiting: (@Sendable (String?) -> Void)? = nil,
        _ body: () async throws -> T
    ) async throws -> T {
        var attempt = 0
        var said: String?
        let started = ContinuousClock.now
        while true {
            do {
                let value = try await body()
                if said != nil {
                    logger.info(
                        "Kafka ready: \(what)",
                        metadata: ["waited_ms": "\((ContinuousClock.now - started).milliseconds)", "attempts": "\(attempt + 1)"])
                }
                waiting?(nil)
                return value
            } catch let error as CancellationError {
                throw error
            } catch {
                guard decision(for: error) == .retry else { throw error }
                let condition = (error as? KafkaError).map { $0.code == 0 ? $0.kind.rawValue : $0.codeName } ?? "\(error)"
                if said != condition {
                    // Once per condition: a cluster electing leaders for a minute logs two lines, not six hundred.
                    logger.warning(
                        "waiting for Kafka: \(what)", metadata: [LogKeys.kafkaError: "\(error)", "retry": "until it answers"])
                    said = condition
                }
                waiting?("waiting for Kafka: \(what) (\(condition))")
                try await Task.sleep(for: backoff(attempt: attempt))
                attempt += 1
            }
        }
    }
}

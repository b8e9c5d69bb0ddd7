import CRdKafka
import LogdistBasics
import KafkaClient
import KafkaTestSupport
import Logging
import Synchronization
import Testing

@Suite("KafkaRetry: start-up waits out a cluster that is still coming up")
struct KafkaRetryTests {
    @Test("what a starting or failing-over cluster answers is retried", arguments: [
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR_NOT_CONTROLLER,
        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
    ])
    func retried(code: rd_kafka_resp_err_t) {
        let error = KafkaError(kind: .broker, code: code.rawValue, message: "x")
        #expect(KafkaRetry.decision(for: error) == .retry, "\(error.codeName)")
    }

    @Test("configuration, authorisation and fatal errors are not", arguments: [
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, RD_KAFKA_RESP_ERR_POLICY_VIOLATION,
        RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, RD_KAFKA_RESP_ERR_INVALID_CONFIG,
    ])
    func notRetried(code: rd_kafka_resp_err_t) {
        #expect(KafkaRetry.decision(for: KafkaError(kind: .broker, code: code.rawValue, message: "x")) == .fail)
    }

    @Test func flagsWin() {
        #expect(KafkaRetry.decision(for: KafkaError(kind: .broker, code: 9999, message: "x", isRetriable: true)) == .retry)
        #expect(KafkaRetry.decision(for: KafkaError(kind: .timedOut, message: "x", isFatal: true)) == .fail)
        #expect(KafkaRetry.decision(for: KafkaError(kind: .unsupported, message: "x")) == .fail)
        #expect(KafkaRetry.decision(for: CancellationError()) == .fail)
    }

    @Test func backoffDoublesToTheCap() {
        #expect(KafkaRetry.backoff(attempt: 0) == .milliseconds(100))
        #expect(KafkaRetry.backoff(attempt: 1) == .milliseconds(200))
        #expect(KafkaRetry.backoff(attempt: 4) == .milliseconds(1600))
        #expect(KafkaRetry.backoff(attempt: 5) == .seconds(2))
        #expect(KafkaRetry.backoff(attempt: 1_000) == .seconds(2))
    }

    @Test("run retries until success, says the condition once, and reports what it waits for", .timeLimit(.minutes(1)))
    func runRetries() async throws {
        let attempts = Atomic<Int>(0)
        let reasons = Mutex<[String?]>([])
        let capture = LogCapture()
        let logger = capture.logger("retry")
        let value = try await KafkaRetry.run("coordinator", logger: logger, waiting: { reason in reasons.withLock { $0.append(reason) } }) {
            if attempts.add(1, ordering: .relaxed).newValue < 4 {
                throw KafkaError(kind: .broker, code: RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue, message: "loading")
            }
            return 42
        }
        #expect(value == 42)
        #expect(attempts.load(ordering: .relaxed) == 4)
        #expect(capture.all.filter { $0.contains("waiting for Kafka") }.count == 1, "\(capture.all)")
        #expect(reasons.withLock { $0.last } == .some(nil))
        #expect(reasons.withLock { $0.first }??.contains("NOT_COORDINATOR") == true)
    }

    @Test("a non-retriable error ends the wait at once")
    func runFails() async {
        let attempts = Atomic<Int>(0)
        await #expect(throws: KafkaError.self) {
            try await KafkaRetry.run("topics", logger: Logger(label: "t")) {
                attempts.add(1, ordering: .relaxed)
                throw KafkaError(kind: .broker, code: RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED.rawValue, message: "denied")
            }
        }
        #expect(attempts.load(ordering: .relaxed) == 1)
    }
}

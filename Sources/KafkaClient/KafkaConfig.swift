import LogdistBasics
import Logging

/// librdkafka properties for one client: the bootstrap servers, logdist's defaults, and anything passed with
/// `-X key=value` (TLS, SASL, tuning), which wins over the defaults.
public struct KafkaConfig: Sendable, Equatable {
    public var bootstrapServers: String
    /// Properties passed through unchanged to librdkafka, applied after the defaults.
    public var properties: [String: String]
    /// Whether the cluster is the embedded broker (librdkafka's mock), whose fetch behaviour differs from Kafka's:
    /// clients tune for it (see `KafkaConsumer.Configuration`). Set by whoever started it, or by `probed(logger:)`.
    public var embedded: Bool

    public init(bootstrapServers: String, properties: [String: String] = [:], embedded: Bool = false) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.embedded = embedded
    }

    /// Parses `key=value` as kcat's `-X` does.
    public static func parseProperty(_ text: String) throws -> (key: String, value: String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw KafkaError(
                kind: .configuration, message: "librdkafka property '\(text)' must be key=value, e.g. -X security.protocol=SSL")
        }
        return (String(text[..<eq]), String(text[text.index(after: eq)...]))
    }

    /// Parses a list of `key=value`; a later key wins.
    public static func parseProperties(_ list: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in list {
            let (key, value) = try parseProperty(item)
            result[key] = value
        }
        return result
    }

    /// The full property set for a client: bootstrap, then `defaults`, then the pass-through properties.
    func resolved(defaults: [String: String]) -> [String: String] {
        // Reconnect within a second of a broker's return (librdkafka's default backs off up to 10 s). A request a
        // broker leaves unanswered is given up and retried after 10 s, not librdkafka's 60: with one of three brokers
        // killed, a transaction coordinator held an EndTxn for a minute and the pipeline stood still 30 s (measured
        // with `logdist chaos --broker-control`; 7–10 s with this setting, the cluster's own failover).
        var all = ["reconnect.backoff.ms": "100", "reconnect.backoff.max.ms": "1000", "socket.timeout.ms": "10000"]
        for (key, value) in defaults { all[key] = value }
        all["bootstrap.servers"] = bootstrapServers
        for (key, value) in properties { all[key] = value }
        return all
    }

    /// Keys whose values must never reach logs.
    static func isSecret(_ key: String) -> Bool {
        let lower = key.lowercased()
        return lower.contains("password") || lower.contains("secret") || lower.contains("token")
            || lower.hasSuffix(".key.pem") || lower.contains("sasl.oauthbearer.config")
    }
}

extension KafkaConfig {
    /// This config with `embedded` told by the cluster's id. A cluster that does not answer within `timeout` (still
    /// starting, unreachable) is taken for Kafka: the services then wait for it as they would anyway.
    public func probed(logger: Logger, timeout: Duration = .seconds(3)) async -> KafkaConfig {
        guard !embedded else { return self }
        var config = self
        do {
            let admin = try KafkaAdmin(kafka: self, logger: logger)
            config.embedded = try await admin.isEmbeddedBroker(timeout: timeout)
        } catch {
            logger.debug("cluster id not read; taking the cluster for Kafka", metadata: [LogKeys.kafkaError: "\(error)"])
        }
        return config
    }
}

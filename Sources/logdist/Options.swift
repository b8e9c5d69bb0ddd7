import ArgumentParser
import KafkaClient
import PacketModel
import ServiceSupport
import Foundation
import Logging

/// An environment variable, nil when unset or empty.
func env(_ name: String) -> String? {
    let value = ProcessInfo.processInfo.environment[name] ?? ""
    return value.isEmpty ? nil : value
}

/// A flag's value, else its environment variable parsed as `T`, else the default.
func setting<T: LosslessStringConvertible>(_ flag: T?, _ variable: String, default value: T) throws -> T {
    if let flag { return flag }
    guard let text = env(variable) else { return value }
    guard let parsed = T(text) else { throw ValidationError("\(variable)=\(text) is not a valid value") }
    return parsed
}

/// A flag's value, else its environment variable parsed as `T`, else nil (the service picks its own default).
func setting<T: LosslessStringConvertible>(_ flag: T?, _ variable: String) throws -> T? {
    if let flag { return flag }
    guard let text = env(variable) else { return nil }
    guard let parsed = T(text) else { throw ValidationError("\(variable)=\(text) is not a valid value") }
    return parsed
}

/// Where Kafka is and how to talk to it.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers, host:port[,host:port] (env LOGDIST_BOOTSTRAP).")
    var bootstrap: String?

    @Option(
        name: .customShort("X"),
        help: ArgumentHelp(
            "A librdkafka property key=value, repeatable, as kcat's -X: TLS, SASL, tuning (env LOGDIST_KAFKA_PROPERTIES, comma-separated).",
            valueName: "key=value"))
    var properties: [String] = []

    @Option(help: "Namespace prefixed to every topic and group (env LOGDIST_NAMESPACE; default logdist).")
    var namespace: String?

    var topics: Topics { Topics(namespace: (try? setting(namespace, "LOGDIST_NAMESPACE", default: "logdist")) ?? "logdist") }

    /// The cluster's config, told whether it is the embedded broker (asked once, by its cluster id; a cluster that
    /// does not answer in time is taken for Kafka, the reference).
    func probedKafkaConfig(logger: Logger) async throws -> KafkaConfig {
        try await kafkaConfig().probed(logger: logger)
    }

    func kafkaConfig() throws -> KafkaConfig {
        guard let servers = bootstrap ?? env("LOGDIST_BOOTSTRAP") else {
            throw ValidationError("no Kafka: pass --bootstrap host:port or set LOGDIST_BOOTSTRAP (`logdist broker` prints one)")
        }
        var list = env("LOGDIST_KAFKA_PROPERTIES").map { $0.split(separator: ",").map(String.init) } ?? []
        list += properties
        do {
            return KafkaConfig(bootstrapServers: servers, properties: try KafkaConfig.parseProperties(list))
        } catch let error as KafkaError {
            throw ValidationError(error.message)
        }
    }
}

/// How logdist's topics are created when the service finds them missing (every service creates them: whichever
/// starts first on an empty cluster sets them up).
struct TopicLayoutOptions: ParsableArguments {
    @Option(help: "Partitions of <namespace>.packets if it is created (env LOGDIST_PACKET_PARTITIONS; default 6).")
    var partitions: Int?
    @Option(help: "Partitions of <namespace>.assigned, one per analyser slot, if it is created (env LOGDIST_ANALYSER_SLOTS; default 3).")
    var analyserSlots: Int?
    @Option(help: "Replication factor of created topics; -1: the broker's default (env LOGDIST_REPLICATION_FACTOR; default -1).")
    var replicationFactor: Int?

    func layout() throws -> TopicLayout {
        let layout = TopicLayout(
            packetPartitions: try setting(partitions, "LOGDIST_PACKET_PARTITIONS", default: 6),
            analyserSlots: try setting(analyserSlots, "LOGDIST_ANALYSER_SLOTS", default: 3),
            replicationFactor: try setting(replicationFactor, "LOGDIST_REPLICATION_FACTOR", default: -1))
        guard layout.packetPartitions > 0, layout.analyserSlots > 0 else {
            throw ValidationError("--partitions and --analyser-slots take 1 or more")
        }
        guard layout.replicationFactor == -1 || layout.replicationFactor > 0 else {
            throw ValidationError("--replication-factor takes -1 (the broker's default) or 1 or more")
        }
        return layout
    }
}

/// Log level and format.
struct LogOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical (env LOGDIST_LOG_LEVEL; default info).")
    var logLevel: String?

    func bootstrap(label: String) throws -> Logger {
        let text = try setting(logLevel, "LOGDIST_LOG_LEVEL", default: "info")
        guard let level = Logger.Level(rawValue: text) else { throw ValidationError("unknown log level \(text)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Where an HTTP server listens.
struct HTTPOptions: ParsableArguments {
    @Option(help: "Address to listen on (env LOGDIST_HOST; default 127.0.0.1; 0.0.0.0 for all).")
    var host: String?

    @Option(help: "Seconds a connection may stay idle before it is closed (env LOGDIST_IDLE_TIMEOUT; default 30).")
    var idleTimeout: Int?

    @Option(help: "Concurrent connections at most; more wait in the backlog (env LOGDIST_MAX_CONNECTIONS; default 4096).")
    var maxConnections: Int?

    func settings(port: Int) throws -> HTTPSettings {
        var settings = HTTPSettings(host: try setting(host, "LOGDIST_HOST", default: "127.0.0.1"), port: port)
        settings.idleTimeout = .seconds(try setting(idleTimeout, "LOGDIST_IDLE_TIMEOUT", default: 30))
        settings.maxConnections = try setting(maxConnections, "LOGDIST_MAX_CONNECTIONS", default: 4096)
        return settings
    }
}

extension BearerToken {
    static func option(value: String?, file: String?, env variable: String) throws -> BearerToken? {
        do {
            return try BearerToken.load(value: value, file: file, env: variable)
        } catch let error as APIError {
            throw ValidationError(error.detail)
        }
    }
}

/// Flushes standard output, so banners show up at once when piped.
func flushOutput() {
    fflush(nil)
}

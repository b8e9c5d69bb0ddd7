import ArgumentParser
import KafkaClient
import PacketModel
import Foundation
import Pipeline

struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kill components and break the broker under load; prove that nothing accepted is lost.",
        discussion: """
            Runs ingest, a dispatcher and three analysers as separate processes on an embedded broker it owns, drives
            load recording every id that got a 202, SIGKILLs a random component every few seconds and restarts it,
            injects produce/fetch request errors and takes a broker down and up. Then counts, from the analysers'
            audit files (kept consistent with their commits): accepted, analysed, lost (must be 0), duplicated
            (at-least-once on the embedded broker: bounded by the dispatcher's uncommitted batches).
            """)

    @Flag(help: "Run for minutes (3 min) instead of the short form.") var long = false
    @Option(help: "Seconds of load (default 25, or 180 with --long).") var seconds: Int?
    @Option(help: "Packets per second offered.") var rate: Double = 300
    @Option(help: "Random seed, to replay a run.") var seed: UInt64?
    @Option(help: "First of six consecutive ports to use.") var basePort = 19_000
    @Option(help: "A real cluster instead of the embedded broker (env LOGDIST_BOOTSTRAP): no broker faults, the dispatcher runs exactly-once, and duplicated must be 0.")
    var bootstrap: String?
    @Option(name: .customShort("X"), help: ArgumentHelp("librdkafka property for the real cluster, repeatable.", valueName: "key=value"))
    var properties: [String] = []
    @Option(help: "With --bootstrap: the command that kills and restarts brokers, run as '<command> kill <n>' and '<command> start <n>' (n from 1 to --brokers; start returns once the broker is up). logdist does not own your brokers (env LOGDIST_CHAOS_BROKER_CONTROL).")
    var brokerControl: String?
    @Option(help: "Brokers the broker control knows, numbered from 1 (default 3).") var brokers = 3
    @Option(help: "Seconds a killed broker stays dead (default 12).") var brokerDowntime = 12
    @Option(help: "Mean seconds between broker faults (default 5).") var faultEvery: Int?
    @Option(help: "Mean seconds between SIGKILLs of logdist's processes; 0: none, to measure broker faults alone (default 4).") var killEvery: Int?
    @Option(help: "Dispatcher instances (default 1).") var dispatchers = 1

    func run() async throws {
        var logger = Logger(label: "logdist.chaos")
        logger.logLevel = .error
        var options = ChaosOptions()
        options.duration = .seconds(seconds ?? (long ? 180 : 25))
        options.rate = rate
        options.basePort = basePort
        if let seed { options.seed = seed }
        if let servers = bootstrap ?? env("LOGDIST_BOOTSTRAP") {
            options.kafka = KafkaConfig(bootstrapServers: servers, properties: try KafkaConfig.parseProperties(properties))
        }
        options.brokerControl = brokerControl ?? env("LOGDIST_CHAOS_BROKER_CONTROL")
        if options.brokerControl != nil, options.kafka == nil {
            throw ValidationError("--broker-control needs --bootstrap: the embedded broker's faults are built in")
        }
        options.brokers = brokers
        options.brokerDowntime = .seconds(brokerDowntime)
        if let faultEvery { options.faultEvery = .seconds(faultEvery) }
        if let killEvery { options.killEvery = killEvery > 0 ? .seconds(killEvery) : nil }
        options.dispatchers = dispatchers
        print("seed \(options.seed)  (replay with --seed \(options.seed))")
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let report = try await ChaosRunner(options: options, binary: binary, logger: logger).run { line in
            print(line)
            flushOutput()
        }
        print(report.text)
        if !report.passed { throw ExitCode(1) }
    }
}

import Logging

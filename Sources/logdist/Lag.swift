import ArgumentParser
import LogdistBasics
import Operations
import Foundation

struct Lag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each analyser's lag (and the dispatcher group's), from Kafka alone.",
        discussion: """
            Analysers are found from <namespace>.heartbeats; committed offsets are those of their groups
            <namespace>.analyser.<id>; SHARE is each analyser's share of packets assigned over the last second.
            """)

    @OptionGroup var kafka: KafkaOptions
    @Flag(help: "Redraw every second until Ctrl-C.") var watch = false
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Seconds between the two samples used for SHARE (0: no share).") var sample: Double = 1

    func run() async throws {
        var logger = Logger(label: "logdist.lag")
        logger.logLevel = .error
        let inspector = try LagInspector(kafka: try kafka.kafkaConfig(), topics: kafka.topics, logger: logger)
        var previous: LagReport?
        if sample > 0 {
            previous = try await inspector.report()
            try await Task.sleep(for: .milliseconds(Int(sample * 1000)))
        }
        repeat {
            let report = try await inspector.report(previous: previous)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(LagTable.render(report), terminator: "")
                if watch { print("\nnamespace \(report.namespace) — refreshed every second, Ctrl-C to stop") }
            }
            flushOutput()
            previous = report
            if watch { try await Task.sleep(for: .seconds(1)) }
        } while watch
        await inspector.close()
    }
}

import Logging

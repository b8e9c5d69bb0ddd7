import ArgumentParser
import Foundation
import Pipeline

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove the pipeline: weights respected, an analyser fails and comes back, nothing lost, with numbers.",
        discussion: """
            Runs the pipeline on the embedded broker, drives load over HTTP, fails one analyser through its admin
            endpoint midway and brings it back, waits until everything is analysed, then checks from the analysers'
            records: per-analyser counts against the weights, lost = 0, duplicated = 0, detection and replay times,
            throughput and latency. Writes report.json and chart.svg; exits non-zero if any check fails.
            """)

    @Option(help: "How long to drive load, e.g. 40s.") var duration = "40s"
    @Option(help: "Packets per second offered.") var rate: Double = 1500
    @Option(help: "HTTP connections.") var connections = 16
    @Option(help: "Analysers as id:weight, comma-separated.") var analysers = "a1:1,a2:2,a3:3"
    @Option(help: "The analyser to fail (default the second).") var fail: String?
    @Option(help: "How long it stays failed, e.g. 8s (shortened to fit the embedded broker's retention).") var outage = "8s"
    @Option(help: "Directory for report.json and chart.svg.") var out = "demo-out"
    @OptionGroup var log: LogOptions

    func run() async throws {
        var logOptions = log
        if logOptions.logLevel == nil, env("LOGDIST_LOG_LEVEL") == nil { logOptions.logLevel = "error" }
        let logger = try logOptions.bootstrap(label: "logdist.demo")
        var options = DemoOptions()
        options.duration = try parseDuration(duration)
        options.rate = rate
        options.connections = connections
        options.analysers = try AnalyserSpec.parse(analysers)
        options.failAnalyser = fail
        options.outage = try parseDuration(outage)
        let report = try await DemoRunner(options: options, logger: logger).run { line in
            print(line)
            flushOutput()
        }
        print("")
        print(report.text)
        try DemoRunner.write(report, to: out)
        print("report: \(out)/report.json   chart: \(out)/chart.svg")
        if !report.passed { throw ExitCode(1) }
    }
}

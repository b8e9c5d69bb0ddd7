import ArgumentParser
import LogdistBasics
import PacketModel
import Dispatcher
import Foundation
import Logging

struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retire an analyser for good and move its unprocessed backlog to the others, by weight.",
        discussion: """
            The analyser must be stopped. Marks it retired (dispatchers route it nothing within a heartbeat interval), moves
            its partition's backlog — from its group's committed offset to the end — to the healthy analysers, then records
            the drained slot and removes the analyser from the fleet. On a real cluster every batch is one transaction
            (exactly-once): a drain stopped or killed midway finishes when started again. On the embedded broker it is
            at-least-once, and analysers' dedupe windows drop what a redone batch repeats.
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var log: LogOptions
    @Argument(help: "The analyser to retire.") var id: String
    @Option(help: "An analyser whose last heartbeat is younger than this many milliseconds is still running (default 1500).")
    var heartbeatTimeoutMs = 1500
    @Option(help: "The partition's end must stay put this many milliseconds once reached (default 5000).") var quietMs = 5000
    @Option(help: "Records per batch (default 5000).") var batchSize = 5000
    @Flag(help: "Print progress and the result as JSON lines.") var json = false

    func validate() throws {
        if let problem = AnalyserID.problem(with: id) { throw ValidationError(problem) }
        guard heartbeatTimeoutMs > 0, quietMs >= 0, batchSize > 0 else {
            throw ValidationError("--heartbeat-timeout-ms and --batch-size must be positive, --quiet-ms 0 or more")
        }
    }

    func run() async throws {
        let logger = try log.bootstrap(label: "logdist.drain")
        var options = BacklogDrain.Options()
        options.heartbeatTimeout = .milliseconds(heartbeatTimeoutMs)
        options.quietPeriod = .milliseconds(quietMs)
        options.batchSize = batchSize
        let drain = BacklogDrain(kafka: try await kafka.probedKafkaConfig(logger: logger), topics: kafka.topics, analyser: id, options: options, logger: logger)
        let printer = ProgressPrinter(id: id, json: json)
        do {
            let result = try await drain.run { printer.show($0) }
            printer.finish(result)
        } catch let error as DrainError where error.isAlreadyDone {
            print(error.description)
        } catch let error as DrainError {
            throw ValidationError(error.description)
        }
    }
}

/// Progress at most once a second, and the final line.
final class ProgressPrinter: Sendable {
    let id: String
    let json: Bool
    private let last = Locked(ContinuousClock.now - .seconds(10))

    init(id: String, json: Bool) {
        self.id = id
        self.json = json
    }

    func show(_ progress: BacklogDrain.Progress) {
        let now = ContinuousClock.now
        guard progress.done || last.withLock({ previous in
            guard now - previous >= .seconds(1) else { return false }
            previous = now
            return true
        }) else { return }
        print(line(progress))
        flushOutput()
    }

    func finish(_ progress: BacklogDrain.Progress) {
        print(json ? line(progress) : "\(id) drained: \(progress.moved) packets moved (\(targets(progress))); partition drained to offset \(progress.end); \(id) removed from the fleet")
        flushOutput()
    }

    private func targets(_ progress: BacklogDrain.Progress) -> String {
        progress.perTarget.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    private func line(_ p: BacklogDrain.Progress) -> String {
        if json {
            let perTarget = p.perTarget.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
            return #"{"analyser":"\#(id)","moved":\#(p.moved),"position":\#(p.position),"end":\#(p.end),"perTarget":{\#(perTarget)},"done":\#(p.done)}"#
        }
        let left = max(0, p.end - p.position)
        return "draining \(id): \(p.moved) moved, \(left) left (offset \(p.position) of \(p.end))\(p.perTarget.isEmpty ? "" : "; \(targets(p))")"
    }
}

import ArgumentParser
import PacketModel
import Operations
import Foundation
import Logging

struct Weight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or change analysers' weights, live: every dispatcher applies a change within a heartbeat interval.",
        discussion: """
            logdist weight                  every analyser's own weight, the operator's, and the one routing uses
            logdist weight a2 5             route to a2 as if its weight were 5 (0: no new packets)
            logdist weight a2 --reset       a2 routes by its own weight (--weight) again
            The change is a record on <namespace>.heartbeats (key ~weight.<id>), so it holds for dispatchers started later
            and survives restarts; analysers keep their own --weight. The selector moves to the new weights without a burst.
            """)

    @OptionGroup var kafka: KafkaOptions
    @Argument(help: "Analyser id.") var id: String?
    @Argument(help: "New weight, 0 to \(1_000_000).") var weight: Int?
    @Flag(help: "Withdraw the operator's weight: the analyser's own applies again.") var reset = false

    func validate() throws {
        if let id, let problem = AnalyserID.problem(with: id) { throw ValidationError(problem) }
        if let weight, !(0...1_000_000).contains(weight) { throw ValidationError("a weight is a whole number from 0 to 1000000") }
        if reset, weight != nil { throw ValidationError("give a weight or --reset, not both") }
        if id == nil, weight != nil || reset { throw ValidationError("name the analyser: logdist weight <id> <weight>") }
        if id != nil, weight == nil, !reset { throw ValidationError("give the new weight (logdist weight \(id!) 5) or --reset") }
    }

    func run() async throws {
        var logger = Logger(label: "logdist.weight")
        logger.logLevel = .error
        let topics = kafka.topics
        try await FleetControl.with(kafka: try kafka.kafkaConfig(), topics: topics, logger: logger) { control in
            if let id, let weight {
                let known = try await control.state().heartbeats.contains { $0.id == id }
                try await control.publish(.weight(id: id, weight: weight, setAtMs: epochMilliseconds()))
                print("\(id): weight \(weight) (every dispatcher applies it within a heartbeat interval)")
                if !known { print("note: no analyser \(id) has sent a heartbeat in namespace \(topics.namespace) yet; the weight waits for it") }
            } else if let id, reset {
                try await control.withdraw(key: FleetDirective.weightKey(id))
                print("\(id): its own weight applies again")
            } else {
                let state = try await control.state()
                var rows = [["ANALYSER", "PARTITION", "OWN", "OPERATOR", "ROUTED BY", "STATE"]]
                for heartbeat in state.heartbeats {
                    let set = state.directives.weights[heartbeat.id]
                    rows.append([
                        heartbeat.id, "\(heartbeat.partition)", "\(heartbeat.weight)", set.map(String.init) ?? "-",
                        "\(set ?? heartbeat.weight)", state.directives.retired.contains(heartbeat.id) ? "retired" : heartbeat.state.rawValue,
                    ])
                }
                print(LagTable.align(rows), terminator: "")
                if state.heartbeats.isEmpty { print("(no analyser has sent a heartbeat in namespace \(topics.namespace))") }
            }
        }
    }
}

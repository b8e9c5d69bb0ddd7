import LogdistBasics
import KafkaClient
import Foundation

/// Takes every broker of the test cluster away and brings them back.
///
/// On the embedded broker, its own switch (connections refused). On a real cluster, the operator's command in
/// `LOGDIST_TEST_BROKER_CONTROL`, run as `<command> down` (stop or kill every broker process; returns once they are
/// gone) and `<command> up` (start them again; returns once they accept connections). logdist does not own a real
/// cluster's brokers, so it never guesses how to stop them.
public struct BrokerOutage: Sendable {
    private let change: @Sendable (_ up: Bool) throws -> Void

    init(change: @escaping @Sendable (_ up: Bool) throws -> Void) {
        self.change = change
    }

    public func down() throws { try change(false) }
    public func up() throws { try change(true) }

    /// The command in `LOGDIST_TEST_BROKER_CONTROL`, or nil.
    public static var controlCommand: String? {
        let value = ProcessInfo.processInfo.environment["LOGDIST_TEST_BROKER_CONTROL"] ?? ""
        return value.isEmpty ? nil : value
    }

    static func embedded(_ broker: EmbeddedBroker) -> BrokerOutage {
        BrokerOutage { up in up ? try broker.setBrokerUp() : try broker.setBrokerDown() }
    }

    static func command(_ command: String) -> BrokerOutage {
        BrokerOutage { up in try run(command, up ? "up" : "down") }
    }

    /// Runs `<command> <verb>` through the shell and waits for it; a non-zero exit is an error naming the command.
    static func run(_ command: String, _ verb: String) throws {
        let status = try Shell.run("\(command) \(verb)")
        guard status == 0 else {
            throw KafkaError(
                kind: .configuration, message: "LOGDIST_TEST_BROKER_CONTROL '\(command) \(verb)' exited with \(status)")
        }
    }
}

extension TestCluster {
    /// A way to take the cluster down for a test (`need` says what for); nil, after printing that the test is skipped
    /// and why, on a real cluster without `LOGDIST_TEST_BROKER_CONTROL`.
    public func outage(for need: String) -> BrokerOutage? {
        if let broker { return .embedded(broker) }
        if let command = BrokerOutage.controlCommand { return .command(command) }
        print("skipped: \(need) on a real cluster needs LOGDIST_TEST_BROKER_CONTROL (a command taking down|up)")
        return nil
    }
}

/// Conditions for `.enabled(if:_:)`, so a run's summary counts the tests it skipped, with the reason.
public enum TestNeeds {
    /// The embedded broker (`LOGDIST_TEST_BOOTSTRAP` unset): its fault injection or its 5 MiB partition limit.
    public static var embeddedBroker: Bool { TestCluster.externalBootstrap == nil }
    /// A real cluster (`LOGDIST_TEST_BOOTSTRAP` set).
    public static var realCluster: Bool { TestCluster.externalBootstrap != nil }
    /// A cluster the test may take down: the embedded broker, or a real one with `LOGDIST_TEST_BROKER_CONTROL`.
    public static var brokerOutage: Bool { embeddedBroker || BrokerOutage.controlCommand != nil }
}

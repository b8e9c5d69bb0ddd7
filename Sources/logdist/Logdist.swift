import ArgumentParser

@main
struct Logdist: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logdist",
        abstract: "A log packet distributor on Kafka: HTTP ingest, weighted health-aware dispatch, per-analyser replay.",
        discussion: """
            Every flag has an environment-variable fallback named in its help (LOGDIST_BOOTSTRAP, …).
            Start everything on the embedded broker with `logdist up`.
            """,
        subcommands: [Up.self, Broker.self, IngestCommand.self, Dispatch.self, Analyse.self, Lag.self, Load.self, Demo.self, Chaos.self, Perf.self]
    )
}

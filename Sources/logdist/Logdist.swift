import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

@main
struct Logdist: AsyncParsableCommand {
    /// Caps glibc's malloc arenas before any thread starts: NIO's and librdkafka's threads would otherwise each
    /// get an arena that keeps freed memory, which multiplies resident memory for no throughput.
    static func main() async {
        #if canImport(Glibc)
        if getenv("MALLOC_ARENA_MAX") == nil { _ = glibcMallopt(-8 /* M_ARENA_MAX */, 2) }
        #endif
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "logdist",
        abstract: "A log packet distributor on Kafka: HTTP ingest, weighted health-aware dispatch, per-analyser replay.",
        discussion: """
            Every flag has an environment-variable fallback named in its help (LOGDIST_BOOTSTRAP, …).
            Start everything on the embedded broker with `logdist up`.
            """,
        subcommands: [Up.self, Broker.self, IngestCommand.self, Dispatch.self, Analyse.self, Lag.self, Weight.self, Drain.self, Load.self, Demo.self, Chaos.self, Perf.self]
    )
}

#if canImport(Glibc)
/// glibc's `mallopt` (from <malloc.h>, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

import Dispatch
import Foundation
import KafkaTestSupport
import Pipeline
import Testing

/// Loads the dispatcher's dashboard in headless Chromium (Debian's `chromium`) while packets flow.
@Suite("Dashboard", .timeLimit(.minutes(3)))
struct DashboardTests {
    static var chromium: String? {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }

    /// The DOM after the page's scripts ran for a while; Chromium runs on a Dispatch thread, since blocking the
    /// cooperative pool for seconds would starve the servers under test.
    static func dumpDOM(_ chromium: String, url: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try dumpDOMBlocking(chromium, url: url) })
            }
        }
    }

    static func dumpDOMBlocking(_ chromium: String, url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--virtual-time-budget=4000", "--run-all-compositor-stages-before-draw", "--dump-dom", url,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func total(in dom: String) -> Int? {
        guard let range = dom.range(of: #"id="dispatched-total"[^>]*>([0-9]+)<"#, options: .regularExpression) else { return nil }
        return Int(dom[range].split(separator: ">").last!.dropLast())
    }

    @Test("the page lists the analysers and its numbers move")
    func pageShowsLiveTable() async throws {
        guard let chromium = Self.chromium else {
            print("skipped: no chromium (./logdist test installs Debian's chromium)")
            return
        }
        let harness = try PipelineHarness(label: "dashboard")
        try await harness.run { h in
            #expect(await h.waitHealthy(3))
            let url = "http://127.0.0.1:\(h.pipeline.dispatcher.boundPort.current ?? 0)/"
            try await h.produce(600, prefix: "d1")
            #expect(await eventually { h.pipeline.dispatcher.view().dispatchedTotal >= 600 })
            let first = try await Self.dumpDOM(chromium, url: url)
            for id in ["a1", "a2", "a3"] { #expect(first.contains(#"data-analyser="\#(id)""#), "row \(id) missing") }
            let before = try #require(Self.total(in: first), "no dispatched total in the page")
            try await h.produce(900, prefix: "d2")
            #expect(await eventually { h.pipeline.dispatcher.view().dispatchedTotal >= 1500 })
            let second = try await Self.dumpDOM(chromium, url: url)
            let after = try #require(Self.total(in: second))
            #expect(after > before, "the dispatched total did not move: \(before) → \(after)")
            #expect(after >= 1500)
        }
    }
}

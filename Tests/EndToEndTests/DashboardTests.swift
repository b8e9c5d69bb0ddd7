import Foundation
import KafkaTestSupport
import Pipeline
import Testing

/// The dispatcher's dashboard in headless Chromium, driven through its own controls: load started from the page
/// moves its counters, an analyser failed from the page turns unhealthy and its share goes to the others, begun
/// again it replays its backlog; the page's message counts agree with what the analysers analysed.
@Suite(
    "Dashboard in a real browser", .timeLimit(.minutes(4)),
    .enabled(if: HeadlessChromium.executable != nil, "needs Debian's chromium (./logdist test installs it)"))
struct DashboardTests {
    /// Where the screenshots go: `.build/artefacts/` of the package.
    static let artefacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/artefacts")

    static func cell(_ id: String, _ column: String) -> String { #"#analyser-rows tr[data-analyser="\#(id)"] td.\#(column)"# }
    static func message(_ id: String, _ column: String) -> String { #"#msg-dist-rows tr[data-analyser="\#(id)"] td.\#(column)"# }

    @Test("load, messages, fail and begin, all from the page")
    func drivePage() async throws {
        let harness = try PipelineHarness(label: "dashboard", heartbeatTimeout: .milliseconds(1500), operatorAddresses: true)
        let browser = try HeadlessChromium(executable: try #require(HeadlessChromium.executable))
        defer { print("chromium log: \(browser.logURL.path)") }
        do {
            try await harness.run { h in
                #expect(await h.waitHealthy(3))
                try await drive(h, browser: browser)
            }
        } catch {
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    func drive(_ h: PipelineHarness, browser: HeadlessChromium) async throws {
        let origin = "http://127.0.0.1:\(h.pipeline.dispatcher.boundPort.current ?? 0)"
        let page = try await browser.open(origin + "/")
        let cell = Self.cell, message = Self.message
        try await page.wait("three healthy analysers, live") {
            let live = try await page.text("#conn") == "live"
            var healthy = 0
            for id in ["a1", "a2", "a3"] where try await page.text(cell(id, "health"))?.hasSuffix("healthy") == true { healthy += 1 }
            return live && healthy == 3
        }

        // Load from the page: no token, then a wrong one, then the right one.
        try await page.type("#load-rate", "100")
        try await page.type("#load-packets", "5")
        try await page.type("#load-messages", "3")
        try await page.type("#load-duration", "180")
        try await page.click("#load-start")
        try await page.wait("that the token is missing") { try await page.text("#load-status")?.contains("admin token") == true }
        try await page.type("#admin-token", "not-the-token")
        try await page.click("#load-start")
        try await page.wait("a 401") { try await page.text("#load-status")?.contains("HTTP 401") == true }
        try await page.type("#admin-token", h.pipeline.config.adminToken.revealed)
        try await page.click("#load-start")
        try await page.wait("the run going, requests answered 2xx") {
            let state = try await page.text("#load-state"), ok = try await page.number("#load-2xx") ?? 0
            let rps = try await page.number("#load-rps") ?? 0, p99 = try await page.number("#load-p99") ?? 0
            return state == "running" && ok >= 100 && rps > 0 && p99 > 0
        }

        // Messages as well as packets: every analyser's counts from its heartbeats, 3 messages per packet.
        try await page.wait("messages analysed by every analyser, with a rate") {
            for id in ["a1", "a2", "a3"] {
                let messages = try await page.number(cell(id, "messages")) ?? 0, rate = try await page.number(cell(id, "msgrate")) ?? 0
                guard messages >= 300, rate > 0 else { return false }
            }
            return true
        }
        for id in ["a1", "a2", "a3"] {
            let counts = try await page.evaluate(
                "[\(ChromiumPage.quote(cell(id, "analysed"))), \(ChromiumPage.quote(cell(id, "messages")))].map((s) => Number(document.querySelector(s).textContent))")
                as? [NSNumber]
            let (packets, messages) = (counts?[0].intValue ?? -1, counts?[1].intValue ?? -2)
            #expect(messages == 3 * packets, "\(id): \(packets) packets, \(messages) messages in one row")
        }
        try await page.wait("message shares near 1:2:3 beside the expected ones") {
            for (id, expected) in [("a1", 1.0 / 6), ("a2", 2.0 / 6), ("a3", 3.0 / 6)] {
                guard let share = try await page.number(message(id, "share")), let shown = try await page.number(message(id, "expected")),
                    abs(share / 100 - expected) < 0.05, abs(shown / 100 - expected) < 0.002
                else { return false }
            }
            return true
        }
        for chart in ["#chart", "#msg-chart"] {
            let lines = try await page.evaluate("document.querySelectorAll('\(chart) polyline[data-series]').length") as? Int
            #expect(lines == 3, "\(chart) draws one line per analyser")
        }
        let slices = try await page.evaluate("document.querySelectorAll('#msg-pie [data-ring=observed]').length") as? Int
        #expect(slices == 3, "the pie has a slice per analyser")

        // Fail a1 from the page: it turns unhealthy, gets nothing more, and the others share its part.
        try await page.click(#"#analyser-rows tr[data-analyser="a1"] button.fail"#)
        try await page.wait("a1 failed") { try await page.text("#action-status")?.contains("a1 is failed") == true }
        try await page.wait("a1 unhealthy", timeout: .seconds(15)) {
            try await page.text(cell("a1", "health"))?.hasSuffix("healthy") == false
        }
        try await page.wait("the expected shares moved to a2 and a3") {
            var shown: [String] = []
            for id in ["a1", "a2", "a3"] { shown.append(try await page.text(message(id, "expected")) ?? "") }
            return shown == ["0.0%", "40.0%", "60.0%"]
        }
        let frozen = try #require(try await page.number(cell("a1", "dispatched")))
        let others = (try await page.number(cell("a2", "dispatched")) ?? 0) + (try await page.number(cell("a3", "dispatched")) ?? 0)
        try await page.wait("a1's recent share at 0 while a2 and a3 take the packets", timeout: .seconds(30)) {
            try await page.text(cell("a1", "share")) == "0.0% / 0.0%"
        }
        #expect(try await page.number(cell("a1", "dispatched")) == frozen, "packets were dispatched to the failed a1")
        let later = (try await page.number(cell("a2", "dispatched")) ?? 0) + (try await page.number(cell("a3", "dispatched")) ?? 0)
        #expect(later > others + 500, "a2 and a3 did not take over: \(others) → \(later)")
        let backlog = try #require(try await page.number(cell("a1", "lag")))
        let analysedBefore = try #require(try await page.number(cell("a1", "analysed")))
        #expect(backlog > 0, "a1 should have a backlog: the packets dispatched to it before it was found failed")
        #expect(analysedBefore < frozen, "a1 analysed everything dispatched to it before it failed: no backlog to replay")
        try await page.screenshot(to: Self.artefacts.appendingPathComponent("dashboard-failed.png"))

        // Begin a1 from the page: healthy again, its backlog replayed (it analysed every packet dispatched to it up to
        // its failure). Its lag is not asked to read 0 here: the load goes on and a1 gets packets again as soon as it is
        // healthy, so lag 0 holds only between two batches. Lag 0 is checked once the load has stopped, below.
        try await page.click(#"#analyser-rows tr[data-analyser="a1"] button.begin"#)
        try await page.wait("a1 healthy again", timeout: .seconds(15)) {
            try await page.text(cell("a1", "health"))?.hasSuffix("healthy") == true
        }
        try await page.wait("a1's backlog replayed", timeout: .seconds(30)) {
            (try await page.number(cell("a1", "analysed")) ?? 0) >= frozen
        }
        try await page.wait("a1 getting packets again") { (try await page.number(cell("a1", "dispatched")) ?? 0) > frozen }
        try await Task.sleep(for: .seconds(3))
        let shot = Self.artefacts.appendingPathComponent("dashboard.png")
        try await page.screenshot(to: shot)
        print("dashboard screenshot: \(shot.path)")

        // Stop from the page: the counters stop, and the analysers account for every packet ingest accepted.
        try await page.click("#load-stop")
        try await page.wait("the run stopped") { try await page.text("#load-state") == "stopped" }
        let requests = try #require(try await page.number("#load-requests"))
        try await Task.sleep(for: .seconds(2))
        #expect(try await page.number("#load-requests") == requests, "requests went on after Stop")
        let ok = try await page.number("#load-2xx"), non2xx = try await page.number("#load-non2xx"), errors = try await page.number("#load-errors")
        #expect(ok == requests && non2xx == 0 && errors == 0, "2xx \(ok ?? -1), non-2xx \(non2xx ?? -1), no answer \(errors ?? -1) of \(requests)")
        let accepted = try #require(try await page.number("#load-packets-ok"))
        #expect(accepted == requests * 5)
        try await page.wait("every accepted packet analysed, no analyser behind", timeout: .seconds(30)) {
            var analysed = 0.0, lags: [Double?] = []
            for id in ["a1", "a2", "a3"] {
                analysed += try await page.number(cell(id, "analysed")) ?? 0
                lags.append(try await page.number(cell(id, "lag")))
            }
            let messages = try await page.number("#messages-total")
            return analysed == accepted && messages == accepted * 3 && lags.allSatisfy { $0 == 0 }
        }
        try await page.screenshot(to: Self.artefacts.appendingPathComponent("dashboard-stopped.png"))

        #expect(browser.pageErrors.isEmpty, "the page reported errors: \(browser.pageErrors)")
        let foreign = browser.requestedURLs.filter { !$0.hasPrefix(origin + "/") && $0 != "about:blank" }
        #expect(foreign.isEmpty, "the page fetched something other than its dispatcher: \(foreign)")
    }
}

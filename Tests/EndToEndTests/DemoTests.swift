import Foundation
import Logging
import Pipeline
import Testing

@Suite("Demo", .timeLimit(.minutes(3)))
struct DemoTests {
    @Test("a short demo passes its own checks and writes its report and chart")
    func shortDemo() async throws {
        var options = DemoOptions()
        options.duration = .seconds(10)
        options.rate = 300
        options.connections = 8
        options.outage = .seconds(3)
        var logger = Logger(label: "logdist.test.demo")
        logger.logLevel = .critical
        let report = try await DemoRunner(options: options, logger: logger).run { _ in }
        for check in report.checks { #expect(check.passed, "\(check.name): \(check.detail)") }
        #expect(report.lost == 0)
        #expect(report.accepted > 2_000)
        #expect(report.epochs.count >= 2)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString.prefix(6))").path
        try DemoRunner.write(report, to: directory)
        let svg = try String(contentsOfFile: directory + "/chart.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("a2 failed"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json"))) as? [String: Any]
        #expect(json?["lost"] as? Int == 0)
    }
}

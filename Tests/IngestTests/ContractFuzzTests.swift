import LogdistBasics
import Foundation
import Hummingbird
import HummingbirdTesting
import KafkaTestSupport
import Testing

@testable import Ingest

/// docs/openapi.json is exactly what ingest accepts: schemathesis (PyPI) generates requests from it — valid ones,
/// invalid ones, other methods — and checks every answer against it, with all of its checks on.
@Suite("OpenAPI contract fuzzing", .timeLimit(.minutes(6)))
struct ContractFuzzTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `LOGDIST_SCHEMATHESIS`, else the one `./logdist test` installs under `.build/tools`.
    static var schemathesis: String? {
        let path = ProcessInfo.processInfo.environment["LOGDIST_SCHEMATHESIS"]
            ?? root.appendingPathComponent(".build/tools/venv/bin/schemathesis").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    @Test(
        "schemathesis finds no failure against a live ingest, all checks on",
        .enabled(if: schemathesis != nil, "needs schemathesis: ./logdist test installs it under .build/tools (or set LOGDIST_SCHEMATHESIS)"))
    func noContractFailures() async throws {
        let tool = try #require(Self.schemathesis)
        let harness = try await IngestHarness(label: "contract")
        let seed = ProcessInfo.processInfo.environment["LOGDIST_CONTRACT_SEED"] ?? "20261202"
        let examples = ProcessInfo.processInfo.environment["LOGDIST_CONTRACT_EXAMPLES"] ?? "30"
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("logdist-schemathesis-\(UUID().uuidString.prefix(6)).txt")
        let status = try await harness.testLive { port in
            try await Shell.runDetached(
                "cd \(FileManager.default.temporaryDirectory.path) && '\(tool)' --config-file '\(Self.root.path)/Tests/IngestTests/contract/schemathesis.toml' "
                    + "run '\(Self.root.path)/docs/openapi.json' -u http://127.0.0.1:\(port) --checks all "
                    + "--max-examples \(examples) --seed \(seed) --continue-on-failure --no-color > '\(report.path)' 2>&1")
        }
        let output = (try? String(contentsOf: report, encoding: .utf8)) ?? ""
        print("schemathesis (seed \(seed), \(examples) examples per operation): " + (output.split(separator: "\n").last.map(String.init) ?? ""))
        #expect(status == 0, "schemathesis found failures (report \(report.path)):\n\(output.suffix(6000))")
        #expect(output.contains("passed"), "no test cases ran:\n\(output.suffix(2000))")
        await harness.close()
    }
}

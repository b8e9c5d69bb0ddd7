import Foundation
import Testing

@testable import Dispatcher

@Suite("Dashboard page")
struct DashboardPageTests {
    static let page = String(decoding: DashboardPage.html, as: UTF8.self)

    @Test func theBinaryCarriesTheResourceFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Dispatcher/HTTP/Resources/dashboard.html")
        #expect(try Data(contentsOf: file) == Data(DashboardPage.html))
    }

    @Test("no external asset: no script, style, font or image from anywhere", arguments: [
        "<script src", "<link", "<img", "<iframe", "@import", "url(", "//cdn", "fonts.g",
    ])
    func selfContained(needle: String) {
        #expect(!Self.page.lowercased().contains(needle), "the page refers to something outside itself: \(needle)")
    }

    @Test func theOnlyAbsoluteURLIsTheSVGNamespace() {
        let urls = Self.page.matches(of: /https?:\/\/[^\s"'<>]+/).map { String($0.output) }
        #expect(Set(urls) == ["http://www.w3.org/2000/svg"], "\(urls)")
    }

    @Test("the page's controls and figures are there", arguments: [
        "load-start", "load-stop", "load-rate", "load-packets", "load-messages", "load-duration", "admin-token",
        "load-2xx", "load-non2xx", "load-errors", "load-rps", "load-p50", "load-p99", "msg-pie", "msg-chart", "chart",
        "msg-dist-rows", "analyser-rows",
    ])
    func hasControl(id: String) {
        #expect(Self.page.contains(#"id="\#(id)""#))
    }
}

import Foundation

/// One tab of `HeadlessChromium`: reads what the page shows and uses its controls as a person would — mouse clicks
/// at an element's position, text typed into a focused field — never by calling the page's functions.
struct ChromiumPage: Sendable {
    let browser: HeadlessChromium
    let session: String

    func navigate(_ url: String) async throws {
        try await browser.send("Page.navigate", ["url": url], session: session)
    }

    /// The value of a JavaScript expression (JSON-compatible results only).
    func evaluate(_ expression: String) async throws -> Any? {
        let result = try await browser.send(
            "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true], session: session)
        if let details = result["exceptionDetails"] as? [String: Any] {
            let exception = details["exception"] as? [String: Any]
            throw HeadlessChromium.Failure(description: "\(expression): \(exception?["description"] ?? details["text"] ?? "exception")")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// The text of the first element matching `selector`; nil when there is none.
    func text(_ selector: String) async throws -> String? {
        try await evaluate("(() => { const e = document.querySelector(\(Self.quote(selector))); return e ? e.textContent.trim() : null; })()")
            as? String
    }

    /// The text of `selector` as a number (nil when absent or not a number, like "–").
    func number(_ selector: String) async throws -> Double? {
        guard let text = try await text(selector) else { return nil }
        return Double(text.split(separator: " ").first.map(String.init)?.replacingOccurrences(of: "%", with: "") ?? "")
    }

    /// Polls `condition` every 250 ms until it holds; after `timeout`, throws what was awaited and what the page
    /// showed of `context` (by default, the analysers table and the load state).
    func wait(
        _ what: String, timeout: Duration = .seconds(30), context: String = "#analysers, #load .status-line",
        _ condition: @Sendable () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if try await condition() { return }
            guard ContinuousClock.now < deadline else {
                let shown = try? await evaluate(
                    "[...document.querySelectorAll(\(Self.quote(context)))].map((e) => e.innerText).join('\\n')") as? String
                throw HeadlessChromium.Failure(description: "the page did not show \(what) within \(timeout); it showed:\n\(shown ?? "?")")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// A left click in the middle of the element matching `selector`, scrolled into view first.
    func click(_ selector: String) async throws {
        let found = try await evaluate(
            """
            (() => { const e = document.querySelector(\(Self.quote(selector))); if (!e) return null;
              e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect();
              return [r.left + r.width / 2, r.top + r.height / 2, e.disabled === true]; })()
            """) as? [Any]
        guard let found, let x = (found[0] as? NSNumber)?.doubleValue, let y = (found[1] as? NSNumber)?.doubleValue else {
            throw HeadlessChromium.Failure(description: "no element \(selector) to click")
        }
        guard found[2] as? Bool != true else { throw HeadlessChromium.Failure(description: "\(selector) is disabled") }
        try await browser.send("Input.dispatchMouseEvent", ["type": "mouseMoved", "x": x, "y": y], session: session)
        for type in ["mousePressed", "mouseReleased"] {
            try await browser.send(
                "Input.dispatchMouseEvent", ["type": type, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1],
                session: session)
        }
    }

    /// Clicks the field, selects what it holds, and types `text` over it.
    func type(_ selector: String, _ text: String) async throws {
        try await click(selector)
        _ = try await evaluate("document.querySelector(\(Self.quote(selector))).select()")
        try await browser.send("Input.insertText", ["text": text], session: session)
    }

    /// The whole page as PNG.
    func screenshot(to url: URL) async throws {
        let shot = try await browser.send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true], session: session)
        guard let base64 = shot["data"] as? String, let data = Data(base64Encoded: base64) else {
            throw HeadlessChromium.Failure(description: "Page.captureScreenshot: no image")
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    static func quote(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text])
        return data.map { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) } ?? "\"\""
    }
}

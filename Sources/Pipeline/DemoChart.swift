import Foundation

/// A self-contained SVG of packets/s per analyser over time, with the failure window shaded.
enum DemoChart {
    static let colors = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]

    static func svg(_ report: DemoReport) -> String {
        let width = 900.0
        let height = 380.0
        let left = 60.0
        let right = 20.0
        let top = 40.0
        let bottom = 50.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let start = report.startedAtMs
        let end = max((report.timeline.last?.atMs ?? start) , start + 1)
        let ids = report.analysers.map(\.id)
        let maxRate = max(1, report.timeline.flatMap { $0.rates.values }.max() ?? 1) * 1.1
        func x(_ ms: Int64) -> Double { left + Double(ms - start) / Double(end - start) * plotWidth }
        func y(_ rate: Double) -> Double { top + plotHeight - rate / maxRate * plotHeight }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="system-ui, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="\(left)" y="22" font-size="15" font-weight="600">Packets/s analysed per analyser</text>

            """
        if let failAt = Optional(report.failAtMs), let until = report.caughtUpAtMs ?? report.beginAtMs {
            svg += "<rect x=\"\(r(x(failAt)))\" y=\"\(top)\" width=\"\(r(max(1, x(until) - x(failAt))))\" height=\"\(plotHeight)\" fill=\"#fee2e2\"/>\n"
            svg += "<text x=\"\(r(x(failAt) + 4))\" y=\"\(top + 14)\" fill=\"#b91c1c\">\(escape(report.failedAnalyser)) failed → replayed</text>\n"
        }
        if let detected = report.detectedAtMs {
            svg += "<line x1=\"\(r(x(detected)))\" x2=\"\(r(x(detected)))\" y1=\"\(top)\" y2=\"\(top + plotHeight)\" stroke=\"#b91c1c\" stroke-dasharray=\"4 3\"/>\n"
        }
        if let begin = report.beginAtMs {
            svg += "<line x1=\"\(r(x(begin)))\" x2=\"\(r(x(begin)))\" y1=\"\(top)\" y2=\"\(top + plotHeight)\" stroke=\"#15803d\" stroke-dasharray=\"4 3\"/>\n"
        }
        for tick in 0...4 {
            let rate = maxRate * Double(tick) / 4
            svg += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(r(y(rate)))\" y2=\"\(r(y(rate)))\" stroke=\"#e5e7eb\"/>\n"
            svg += "<text x=\"\(left - 8)\" y=\"\(r(y(rate) + 4))\" text-anchor=\"end\" fill=\"#374151\">\(Int(rate))</text>\n"
        }
        let seconds = Int((end - start) / 1000)
        let step = max(1, seconds / 10)
        for second in stride(from: 0, through: seconds, by: step) {
            let px = x(start + Int64(second) * 1000)
            svg += "<text x=\"\(r(px))\" y=\"\(top + plotHeight + 18)\" text-anchor=\"middle\" fill=\"#374151\">\(second)s</text>\n"
        }
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#9ca3af\"/>\n"
        for (index, id) in ids.enumerated() {
            let points = report.timeline.map { "\(r(x($0.atMs))),\(r(y($0.rates[id] ?? 0)))" }.joined(separator: " ")
            let color = colors[index % colors.count]
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            let weight = report.analysers[index].weight
            svg += "<rect x=\"\(r(left + Double(index) * 130))\" y=\"\(height - 18)\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(r(left + Double(index) * 130 + 16))\" y=\"\(height - 8)\">\(escape(id)) (weight \(weight))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    private static func r(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// The dashboard served at `/`: one self-contained HTML file (CSS, JS and SVG inline, no external downloads),
/// `HTTP/Resources/dashboard.html`, compiled into the binary by SwiftPM's `embedInCode`, so the single `logdist` binary
/// serves it from wherever it runs.
enum DashboardPage {
    static var html: [UInt8] { PackageResources.dashboard_html }
}

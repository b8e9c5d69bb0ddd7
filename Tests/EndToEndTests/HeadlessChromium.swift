import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol through a pipe: with
/// `--remote-debugging-pipe` it reads commands on its fd 3 and writes answers and events on its fd 4, one JSON
/// message each, ended by a NUL byte. No port, no websocket, no extra package.
final class HeadlessChromium: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    let pid: pid_t
    let logURL: URL
    private let commandFD: Int32
    private let eventFD: Int32
    private let profile: URL
    private let state = Mutex(State())

    private struct State {
        var nextID = 1
        var pending: [Int: CheckedContinuation<Data, any Error>] = [:]
        var closed = false
        /// Uncaught exceptions and console errors of the pages.
        var pageErrors: [String] = []
        /// Every URL the pages requested.
        var requests: [String] = []
    }

    init(executable: String, width: Int = 1440, height: Int = 1300) throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("logdist-chromium-\(UUID().uuidString.prefix(8))")
        logURL = profile.appendingPathExtension("log")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else {
            throw Failure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        for fd in [toChild[1], fromChild[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // The child's ends, moved above 9 first so that dup2 onto 3 and 4 never meets itself.
        let childRead = fcntl(toChild[0], F_DUPFD_CLOEXEC, 10)
        let childWrite = fcntl(fromChild[1], F_DUPFD_CLOEXEC, 10)
        Glibc.close(toChild[0])
        Glibc.close(fromChild[1])
        commandFD = toChild[1]
        eventFD = fromChild[0]
        let arguments = [
            executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
            "--force-device-scale-factor=1", "--window-size=\(width),\(height)", "--remote-debugging-pipe",
            "--user-data-dir=\(profile.path)", "about:blank",
        ]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childRead, 3)
        posix_spawn_file_actions_adddup2(&actions, childWrite, 4)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, &argv, environ)
        Glibc.close(childRead)
        Glibc.close(childWrite)
        guard spawned == 0 else {
            Glibc.close(commandFD)
            Glibc.close(eventFD)
            throw Failure(description: "posix_spawn \(executable): \(String(cString: strerror(spawned)))")
        }
        pid = child
        let reader = Thread { [self] in readLoop() }
        reader.start()
    }

    /// Uncaught exceptions and console errors reported by the pages so far.
    var pageErrors: [String] { state.withLock { $0.pageErrors } }
    /// URLs the pages requested so far (with `Network.enable`).
    var requestedURLs: [String] { state.withLock { $0.requests } }

    /// Sends one command and returns its `result`; throws its `error`, or after `timeout`.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], session: String? = nil, timeout: Duration = .seconds(20)) async throws
        -> [String: Any]
    {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        let bytes = try JSONSerialization.data(withJSONObject: message) + [0]
        let answer = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Data, any Error>) in
            let closed = state.withLock { s in
                if !s.closed { s.pending[id] = continuation }
                return s.closed
            }
            guard !closed else {
                continuation.resume(throwing: Failure(description: "\(method): Chromium has exited (see \(logURL.path))"))
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000))) { [self] in
                let late = state.withLock { $0.pending.removeValue(forKey: id) }
                late?.resume(throwing: Failure(description: "\(method): no answer from Chromium within \(timeout)"))
            }
            if !writeAll(bytes) {
                let failed = state.withLock { $0.pending.removeValue(forKey: id) }
                failed?.resume(throwing: Failure(description: "\(method): cannot write to Chromium's pipe"))
            }
        }
        let object = try JSONSerialization.jsonObject(with: answer) as? [String: Any] ?? [:]
        if let error = object["error"] as? [String: Any] {
            throw Failure(description: "\(method): \(error["message"] ?? error)")
        }
        return object["result"] as? [String: Any] ?? [:]
    }

    /// A new tab showing `url`, with its runtime, page and network events on.
    func open(_ url: String) async throws -> ChromiumPage {
        let target = try await send("Target.createTarget", ["url": "about:blank"])
        guard let targetID = target["targetId"] as? String else { throw Failure(description: "Target.createTarget: no targetId") }
        let attached = try await send("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw Failure(description: "Target.attachToTarget: no sessionId") }
        let page = ChromiumPage(browser: self, session: session)
        for domain in ["Runtime", "Page", "Network"] { try await send("\(domain).enable", session: session) }
        try await page.navigate(url)
        return page
    }

    /// Closes the browser (SIGKILL if it has not exited within 5 s) and deletes its profile.
    func quit() async {
        _ = try? await send("Browser.close", timeout: .seconds(5))
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        Glibc.close(commandFD)
        try? FileManager.default.removeItem(at: profile)
    }

    private func writeAll(_ bytes: Data) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(commandFD, raw.baseAddress! + offset, raw.count - offset)
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }

    private func readLoop() {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(eventFD, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            buffer.append(contentsOf: chunk[0..<count])
            while let end = buffer.firstIndex(of: 0) {
                handle(Data(buffer[..<end]))
                buffer.removeSubrange(...end)
            }
        }
        Glibc.close(eventFD)
        let waiting = state.withLock { s in
            s.closed = true
            defer { s.pending.removeAll() }
            return Array(s.pending.values)
        }
        for continuation in waiting {
            continuation.resume(throwing: Failure(description: "Chromium closed its pipe (see \(logURL.path))"))
        }
    }

    private func handle(_ message: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any] else { return }
        if let id = object["id"] as? Int {
            state.withLock { $0.pending.removeValue(forKey: id) }?.resume(returning: message)
            return
        }
        let params = object["params"] as? [String: Any] ?? [:]
        switch object["method"] as? String {
        case "Runtime.exceptionThrown":
            let details = params["exceptionDetails"] as? [String: Any] ?? [:]
            let exception = details["exception"] as? [String: Any] ?? [:]
            let text = exception["description"] as? String ?? details["text"] as? String ?? "exception"
            state.withLock { $0.pageErrors.append(text) }
        case "Runtime.consoleAPICalled" where params["type"] as? String == "error":
            let args = (params["args"] as? [[String: Any]] ?? []).map { "\($0["value"] ?? $0["description"] ?? "")" }
            state.withLock { $0.pageErrors.append("console.error: " + args.joined(separator: " ")) }
        case "Network.requestWillBeSent":
            if let request = params["request"] as? [String: Any], let url = request["url"] as? String {
                state.withLock { $0.requests.append(url) }
            }
        default:
            break
        }
    }
}

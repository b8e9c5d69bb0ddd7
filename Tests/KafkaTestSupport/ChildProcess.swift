import Foundation
import Synchronization

/// The built `logdist` binary, beside the test bundle (or `LOGDIST_BINARY`).
public enum LogdistBinary {
    public static var url: URL? {
        if let path = ProcessInfo.processInfo.environment["LOGDIST_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("logdist")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            directory.deleteLastPathComponent()
        }
        return nil
    }
}

/// A `logdist` subcommand in its own process, with its output captured to a file.
public final class ChildProcess: @unchecked Sendable {
    // Process is used from one test task at a time; @unchecked because Foundation's Process is not Sendable.
    public let process = Process()
    public let logURL: URL

    public init(_ arguments: [String], name: String, environment: [String: String] = [:]) throws {
        guard let binary = LogdistBinary.url else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "logdist binary not built (swift build)"])
        }
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("logdist-\(name)-\(UUID().uuidString.prefix(6)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        var env = ProcessInfo.processInfo.environment
        // `logdist ingest` serves OTLP/gRPC on 4317 by default: a fixed port, which tests do not take (0 = off).
        if env["LOGDIST_OTLP_GRPC_PORT"] == nil { env["LOGDIST_OTLP_GRPC_PORT"] = "0" }
        env.merge(environment) { $1 }
        process.environment = env
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }

    /// SIGKILL: no shutdown, no flush, no commit.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait: a graceful stop.
    public func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    public var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
        }
    }
}

/// A loopback TCP port that was free a moment ago (bound to port 0, then closed), for a child process's server.
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    precondition(bound, "cannot bind a loopback port")
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A loopback TCP listener that only counts the connections made to it: a stand-in for an attacker's server.
public final class ConnectionCounter: Sendable {
    public let port: Int
    private let fd: Int32
    private let accepted = Mutex<Int>(0)

    public init() {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        precondition(ok, "cannot listen on loopback")
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                accepted.withLock { $0 += 1 }
                close(client)
            }
        }
        thread.start()
    }

    /// Connections accepted so far.
    public var count: Int { accepted.withLock { $0 } }

    /// Stops listening (the accept loop ends).
    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

/// The first of `count` consecutive loopback ports that were all free a moment ago (for a set of child processes
/// whose ports are numbered from a base, like `logdist chaos`).
public func freeLoopbackPortBlock(count: Int) -> Int {
    var random = SystemRandomNumberGenerator()
    for _ in 0..<200 {
        let base = Int.random(in: 20_000...(60_000 - count), using: &random)
        if (base..<(base + count)).allSatisfy(isFreeLoopbackPort) { return base }
    }
    preconditionFailure("no block of \(count) free loopback ports found")
}

private func isFreeLoopbackPort(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: port)
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// 127.0.0.1:`port` as a socket address (0: any free port).
private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return address
}

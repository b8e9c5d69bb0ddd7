import LogdistBasics
import PacketModel
import ServiceSupport
import Dispatch
import Foundation
import KafkaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Ingest

/// A raw TCP client, to behave the way well-mannered HTTP clients never do.
final class RawConnection: @unchecked Sendable {
    // One test task uses a connection at a time; the fd is only read on the Dispatch thread while it waits.
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the peer closes or `timeout` passes, on a Dispatch thread: blocking the cooperative pool
    /// would starve the server under test, which runs on it too.
    func readAll(timeout: Duration) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.readBlocking(timeout: timeout)) }
        }
    }

    private func readBlocking(timeout: Duration) -> String {
        var timeoutValue = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeoutValue, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    deinit { close(fd) }
}

@Suite("Slow, idle and hostile connections", .timeLimit(.minutes(2)))
struct SlowClientTests {
    struct LiveIngest {
        let harness: IngestHarness
        let port: Int
    }

    static func live(idleTimeout: Duration, bodyTimeout: Duration, _ body: @Sendable (Int) async throws -> Void) async throws {
        let cluster = try TestCluster(label: "slow")
        let topics = Topics(namespace: cluster.namespace("slow"))
        var http = HTTPSettings(port: 0)
        http.idleTimeout = idleTimeout
        var config = IngestConfig(kafka: cluster.kafka, topics: topics, http: http)
        config.bodyTimeout = bodyTimeout
        config.layout.packetPartitions = 1
        let service = try IngestService(config: config, logger: cluster.logger, embedded: cluster.broker)
        try await service.prepare()
        try await ServiceRunner.with(service.services(), logger: cluster.logger) {
            let port = await service.boundPort.wait()
            try await body(port)
        }
    }

    static func post(port: Int, id: String) async throws -> (String, Duration) {
        let started = ContinuousClock.now
        let connection = try RawConnection(port: port)
        let body = #"{"id":"\#(id)","messages":[{"level":"INFO","message":"x"}]}"#
        connection.send("POST /v1/packets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        let response = await connection.readAll(timeout: .seconds(10))
        return (response, ContinuousClock.now - started)
    }

    @Test("200 slow-header and slow-body connections do not stop others being served; a trickled body gets 408")
    func slowlorisDoesNotBlockOthers() async throws {
        try await Self.live(idleTimeout: .seconds(30), bodyTimeout: .seconds(2)) { port in
            var stalled: [RawConnection] = []
            for i in 0..<100 {
                let c = try RawConnection(port: port)
                c.send("POST /v1/packets HTTP/1.1\r\nHost: x\r\nX-Slow-\(i): ")  // headers never finish
                stalled.append(c)
            }
            for _ in 0..<99 {
                let c = try RawConnection(port: port)
                c.send("POST /v1/packets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
                stalled.append(c)
            }
            // One that trickles its body, a few bytes every 300 ms, past the 2 s body deadline.
            let trickler = try RawConnection(port: port)
            trickler.send("POST /v1/packets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            stalled.append(trickler)
            let (response, elapsed) = try await Self.post(port: port, id: "meanwhile")
            #expect(response.hasPrefix("HTTP/1.1 202"), "\(response)")
            #expect(elapsed < .seconds(2), "a normal request took \(elapsed) beside 200 stalled connections")
            for _ in 0..<12 {
                try await Task.sleep(for: .milliseconds(300))
                trickler.send("   ")
            }
            let slowBody = await trickler.readAll(timeout: .seconds(5))
            #expect(slowBody.hasPrefix("HTTP/1.1 408"), "slow body got: \(slowBody.prefix(80))")
            #expect(slowBody.contains("body_timeout"))
        }
    }

    @Test("idle connections are closed after the idle timeout")
    func idleConnectionsClosed() async throws {
        try await Self.live(idleTimeout: .seconds(1), bodyTimeout: .seconds(10)) { port in
            let idle = try RawConnection(port: port)
            let started = ContinuousClock.now
            let received = await idle.readAll(timeout: .seconds(8))
            let elapsed = ContinuousClock.now - started
            #expect(received.isEmpty)
            #expect(elapsed < .seconds(5), "an idle connection stayed open \(elapsed)")
        }
    }

    @Test("huge headers and absurd Content-Length values are refused cleanly, and the server keeps serving")
    func hugeHeadersAndContentLength() async throws {
        try await Self.live(idleTimeout: .seconds(30), bodyTimeout: .seconds(10)) { port in
            let huge = try RawConnection(port: port)
            huge.send("POST /v1/packets HTTP/1.1\r\nHost: x\r\nX-Huge: \(String(repeating: "a", count: 200_000))\r\n\r\n")
            let hugeResponse = await huge.readAll(timeout: .seconds(5))
            // NIO's parser refuses oversized headers: either an error status or a closed connection, never a 2xx.
            #expect(!hugeResponse.hasPrefix("HTTP/1.1 2"))

            let absurd = try RawConnection(port: port)
            absurd.send("POST /v1/packets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999999999\r\n\r\n{")
            let absurdResponse = await absurd.readAll(timeout: .seconds(5))
            #expect(absurdResponse.hasPrefix("HTTP/1.1 413"), "\(absurdResponse.prefix(80))")
            #expect(absurdResponse.contains("too_large"))

            let (response, _) = try await Self.post(port: port, id: "after")
            #expect(response.hasPrefix("HTTP/1.1 202"))
        }
    }
}

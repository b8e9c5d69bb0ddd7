import ArgumentParser
import AsyncHTTPClient
import LogdistBasics
import PacketModel
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import NIOCore
import OTLPProto
import SwiftProtobuf
import Synchronization

/// OTLP load for bench/run: ExportLogsServiceRequests of R records, C in flight, over OTLP/HTTP (protobuf) or
/// OTLP/gRPC, for a duration; prints records/s. Or writes the request bodies for wrk (`--write-bodies`).
struct PerfOTLP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp",
        abstract: "OTLP logs load: R records per export, C exports in flight, over HTTP or gRPC; prints records/s.")

    enum Transport: String, ExpressibleByArgument { case http, grpc }

    @Option(help: "http (POST /v1/logs, protobuf) or grpc (LogsService/Export).") var transport: Transport = .http
    @Option(help: "Ingest base URL for http.") var url = "http://127.0.0.1:8080"
    @Option(help: "host:port of the OTLP/gRPC server for grpc.") var grpc = "127.0.0.1:4317"
    @Option(help: "Records per export request.") var records = 1000
    @Option(help: "Exports in flight.") var concurrency = 8
    @Option(help: "Seconds of load.") var duration = 10.0
    @Option(help: "Distinct requests, cycled (each maps to distinct packets; a repeat is a retry to the dispatcher).") var distinct = 256
    @Option(help: "Write the request bodies to this file as <length>\\n<body> records (for wrk, bench/otlp.lua) and exit.")
    var writeBodies: String?

    func run() async throws {
        let bodies: [[UInt8]] = try (0..<distinct).map { try Self.request(index: $0, records: records).serializedBytes() }
        if let writeBodies {
            var data = Data()
            for body in bodies {
                data.append(contentsOf: Array("\(body.count)\n".utf8))
                data.append(contentsOf: body)
            }
            try data.write(to: URL(fileURLWithPath: writeBodies))
            print("wrote \(bodies.count) OTLP bodies of \(records) records (\(bodies.map(\.count).reduce(0, +) / bodies.count) bytes each) to \(writeBodies)")
            return
        }
        let counts = Mutex<(ok: Int, failed: Int, latencies: [Double])>((0, 0, []))
        let started = ContinuousClock.now
        let end = started.advanced(by: .milliseconds(Int(duration * 1000)))
        let record = { @Sendable (ok: Bool, latency: Duration) in
            counts.withLock {
                if ok { $0.ok += 1 } else { $0.failed += 1 }
                $0.latencies.append(latency.secondsDouble * 1000)
            }
        }
        switch transport {
        case .http:
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var index = worker
                        while ContinuousClock.now < end {
                            var request = HTTPClientRequest(url: url + "/v1/logs")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/x-protobuf")
                            request.body = .bytes(ByteBuffer(bytes: bodies[index % bodies.count]))
                            let sent = ContinuousClock.now
                            let ok: Bool
                            do {
                                let response = try await client.execute(request, timeout: .seconds(30))
                                _ = try await response.body.collect(upTo: 1 << 20)
                                ok = response.status.code == 200
                            } catch {
                                ok = false
                            }
                            record(ok, ContinuousClock.now - sent)
                            index += concurrency
                        }
                    }
                }
            }
            try await client.shutdown()
        case .grpc:
            let parts = grpc.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--grpc host:port") }
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: String(parts[0]), port: port), transportSecurity: .plaintext)
            let requests = try bodies.map { try OTLPExportLogsServiceRequest(serializedBytes: $0) }
            try await withGRPCClient(transport: transport) { client in
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            var index = worker
                            while ContinuousClock.now < end {
                                let sent = ContinuousClock.now
                                let ok: Bool
                                do {
                                    _ = try await client.unary(
                                        request: ClientRequest(message: requests[index % requests.count]),
                                        descriptor: MethodDescriptor(
                                            fullyQualifiedService: "opentelemetry.proto.collector.logs.v1.LogsService", method: "Export"),
                                        serializer: ProtobufSerializer<OTLPExportLogsServiceRequest>(),
                                        deserializer: ProtobufDeserializer<OTLPExportLogsServiceResponse>(), options: .defaults
                                    ) { try $0.message }
                                    ok = true
                                } catch {
                                    ok = false
                                }
                                record(ok, ContinuousClock.now - sent)
                                index += concurrency
                            }
                        }
                    }
                }
            }
        }
        let elapsed = (ContinuousClock.now - started).secondsDouble
        let result = counts.withLock { $0 }
        let sorted = result.latencies.sorted()
        let percentile = { (p: Double) in sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let rate = Double(result.ok * records) / elapsed
        print(
            String(
                format: "otlp %@: %d exports of %d records in %.2f s: %.0f records/s (%d failed; latency p50 %.1f ms, p99 %.1f ms; %d in flight)",
                transport.rawValue, result.ok, records, elapsed, rate, result.failed, percentile(0.5), percentile(0.99), concurrency))
        print(#"{"transport":"\#(transport.rawValue)","recordsPerSecond":\#(rate),"exports":\#(result.ok),"failed":\#(result.failed),"p50Ms":\#(percentile(0.5)),"p99Ms":\#(percentile(0.99))}"#)
        if result.failed > 0 { throw ExitCode(1) }
    }

    /// Export `index`: `records` records of one service, levels cycling, bodies like the NDJSON bench packets.
    static func request(index: Int, records: Int) -> OTLPExportLogsServiceRequest {
        let levels: [OTLPSeverityNumber] = [.info, .debug, .warn, .error, .info]
        let base: UInt64 = 1_732_400_000_000_000_000 + UInt64(index) * 1_000_000_000
        return .with {
            $0.resourceLogs = [
                .with {
                    $0.resource.attributes = [
                        .with { $0.key = "service.name"; $0.value.stringValue = "bench-\(index % 8)" },
                        .with { $0.key = "host.name"; $0.value.stringValue = "bench-host" },
                    ]
                    $0.scopeLogs = [
                        .with {
                            $0.scope.name = "bench"
                            $0.logRecords = (0..<records).map { i in
                                .with {
                                    $0.timeUnixNano = base + UInt64(i) * 1000
                                    $0.observedTimeUnixNano = base + UInt64(i) * 1000 + 17
                                    $0.severityNumber = levels[i % levels.count]
                                    $0.body.stringValue = "request \((index * records + i) % 1000) served in \(i % 97) ms"
                                    $0.attributes = [.with { $0.key = "http.route"; $0.value.stringValue = "/api/\(i % 13)" }]
                                }
                            }
                        }
                    ]
                }
            ]
        }
    }
}

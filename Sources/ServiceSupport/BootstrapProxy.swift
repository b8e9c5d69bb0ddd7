import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A TCP relay from a fixed loopback port to the embedded broker, whose own port is chosen by the mock.
///
/// Clients bootstrap through it; Metadata then tells them the brokers' real addresses.
public struct BootstrapProxy: Service {
    let listenPort: Int
    let targetHost: String
    let targetPort: Int
    let logger: Logger

    public init(listenPort: Int, target: String, logger: Logger) {
        self.listenPort = listenPort
        let first = target.split(separator: ",").first.map(String.init) ?? target
        let parts = first.split(separator: ":")
        self.targetHost = parts.count == 2 ? String(parts[0]) : "127.0.0.1"
        self.targetPort = parts.count == 2 ? Int(parts[1]) ?? 9092 : 9092
        self.logger = logger
    }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let targetHost = targetHost
        let targetPort = targetPort
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                inbound.setOption(.autoRead, value: false).flatMap {
                    ClientBootstrap(group: inbound.eventLoop).connect(host: targetHost, port: targetPort)
                }.flatMap { outbound in
                    let (a, b) = RelayHandler.pair()
                    return inbound.pipeline.addHandler(a).flatMap { outbound.pipeline.addHandler(b) }.flatMap {
                        inbound.setOption(.autoRead, value: true)
                    }
                }
            }
            .bind(host: "127.0.0.1", port: listenPort).get()
        logger.info("bootstrap proxy listening", metadata: ["port": "\(listenPort)", "target": "\(targetHost):\(targetPort)"])
        try? await gracefulShutdown()
        try await server.close()
    }
}

/// Two handlers that forward bytes between their channels and close both when either closes.
final class RelayHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func pair() -> (RelayHandler, RelayHandler) {
        let a = RelayHandler()
        let b = RelayHandler()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.write(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.close()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        // The partner runs on another event loop: the context is touched on its own loop only.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.writeAndFlush(NIOAny(buffer), promise: nil)
        }
    }

    private func close() {
        guard let context else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { bound.value.close(promise: nil) }
    }
}

/// The bounds a packet must stay within; anything outside them is rejected with a ``ValidationError``.
public struct PacketLimits: Sendable, Equatable {
    /// The whole request body, in bytes (the HTTP layer checks it too, before buffering).
    public var maxBodyBytes = 1 << 20
    /// Messages in one packet.
    public var maxMessages = 10_000
    /// UTF-8 bytes of one message's `message` text, after unescaping.
    public var maxMessageBytes = 65_536
    /// UTF-8 bytes of a packet's `id`, after unescaping.
    public var maxIDBytes = 128
    /// Nesting depth of any JSON value; the packet object itself is depth 1, `messages` depth 2.
    public var maxDepth = 32

    public init() {}
}

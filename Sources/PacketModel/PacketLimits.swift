/// The bounds a packet must stay within; anything outside them is rejected with a ``ValidationError``.
public struct PacketLimits: Sendable, Equatable {
    /// The whole request body, in bytes (the HTTP layer checks it too, before buffering).
    public var maxBodyBytes = 1 << 20
    /// Messages in one packet.
    public var maxMessages = 10_000
    /// Characters (Unicode scalars, as JSON Schema's `maxLength` counts them) of one message's `message` text.
    public var maxMessageLength = 65_536
    /// Characters (Unicode scalars) of a packet's `id`: at most 4 UTF-8 bytes each.
    public var maxIDLength = 128
    /// Nesting depth of any JSON value; the packet object itself is depth 1, `messages` depth 2.
    public var maxDepth = 32

    public init() {}
}

/// One packet as emitters send it, fully decoded (the analyser's view).
///
/// Unknown fields are not kept here: the pipeline forwards the packet's original bytes, which hold them.
public struct Packet: Sendable, Equatable {
    /// 1 to ``PacketLimits/maxIDLength`` characters.
    public var id: String
    /// Epoch milliseconds, when the emitter sent one.
    public var timestamp: Int64?
    public var source: String?
    /// 1 to ``PacketLimits/maxMessages`` messages.
    public var messages: [LogMessage]

    public init(id: String, timestamp: Int64? = nil, source: String? = nil, messages: [LogMessage]) {
        self.id = id
        self.timestamp = timestamp
        self.source = source
        self.messages = messages
    }
}

/// One log line inside a ``Packet``.
public struct LogMessage: Sendable, Equatable {
    public var level: LogLevel
    /// The text, unescaped.
    public var message: String
    /// Epoch milliseconds, when the emitter sent one.
    public var timestamp: Int64?
    /// How many members the `attributes` object had (0 when absent or null).
    public var attributeCount: Int

    public init(level: LogLevel, message: String, timestamp: Int64? = nil, attributeCount: Int = 0) {
        self.level = level
        self.message = message
        self.timestamp = timestamp
        self.attributeCount = attributeCount
    }
}

/// What ingest needs from a valid packet without decoding its messages.
public struct PacketSummary: Sendable, Equatable {
    /// The Kafka key.
    public var id: String
    public var messageCount: Int
    public var timestamp: Int64?
    public var source: String?

    public init(id: String, messageCount: Int, timestamp: Int64? = nil, source: String? = nil) {
        self.id = id
        self.messageCount = messageCount
        self.timestamp = timestamp
        self.source = source
    }
}

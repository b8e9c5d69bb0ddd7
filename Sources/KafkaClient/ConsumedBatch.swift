import CRdKafka

/// Records as librdkafka delivered them, not copied into Swift: for code that forwards records without looking at
/// them (the dispatcher). The records are destroyed with the batch.
///
/// Immutable after `poll`; reading offsets and partitions from several threads is safe, and librdkafka's
/// `rd_kafka_message_destroy` may run on any thread.
public final class ConsumedBatch: @unchecked Sendable {
    let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    /// Number of records (error events are not records: they are in `errors`).
    public let count: Int
    /// Non-fatal errors librdkafka delivered in place of records.
    public let errors: [ConsumerFetchError]
    /// Per partition, the first offset and the offset after the last record of this batch.
    public let spans: [TopicPartition: OffsetSpan]

    public struct OffsetSpan: Sendable, Equatable {
        public var first: Int64
        /// The offset to commit once every record of the span is done.
        public var next: Int64
    }

    /// Takes ownership of `count` messages at `buffer` (a buffer of at least `count` entries, freed here).
    init(taking buffer: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>, count: Int) {
        var kept = 0
        var errors: [ConsumerFetchError] = []
        var spans: [(rkt: OpaquePointer?, partition: Int32, span: OffsetSpan)] = []
        for i in 0..<count {
            guard let rkm = buffer[i] else { continue }
            let m = rkm.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    errors.append(ConsumerFetchError(rkm))
                }
                rd_kafka_message_destroy(rkm)
                continue
            }
            buffer[kept] = rkm
            kept += 1
            // A batch spans few partitions: a linear search beats hashing a topic name per record.
            if let at = spans.firstIndex(where: { $0.rkt == m.rkt && $0.partition == m.partition }) {
                spans[at].span.first = min(spans[at].span.first, m.offset)
                spans[at].span.next = max(spans[at].span.next, m.offset + 1)
            } else {
                spans.append((m.rkt, m.partition, OffsetSpan(first: m.offset, next: m.offset + 1)))
            }
        }
        self.messages = buffer
        self.count = kept
        self.errors = errors
        var named: [TopicPartition: OffsetSpan] = [:]
        for entry in spans {
            let topic = entry.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
            named[TopicPartition(topic, entry.partition)] = entry.span
        }
        self.spans = named
    }

    deinit {
        for i in 0..<count {
            if let rkm = messages[i] { rd_kafka_message_destroy(rkm) }
        }
        messages.deallocate()
    }

    public var isEmpty: Bool { count == 0 }

    /// The offset of record `index`.
    public func offset(at index: Int) -> Int64 { messages[index]!.pointee.offset }

    /// The partition of record `index`.
    public func partition(at index: Int) -> Int32 { messages[index]!.pointee.partition }

    /// Calls `body` with the key of record `index` (nil for a record without a key), in place in librdkafka's
    /// buffer: valid only during the call.
    public func withKey<R>(at index: Int, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        let m = messages[index]!.pointee
        guard let key = m.key else { return try body(nil) }
        return try body(UnsafeRawBufferPointer(start: key, count: m.key_len))
    }

    /// The size of record `index`'s value in bytes.
    public func valueSize(at index: Int) -> Int { messages[index]!.pointee.len }

    /// The decimal integer in record `index`'s last header `name`, nil when it has none or it is not one (read in
    /// place: no copy of the record, no decoding of its value).
    public func integerHeader(_ name: String, at index: Int) -> Int64? {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(messages[index]!, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return nil }
        var value: UnsafeRawPointer?
        var size = 0
        guard rd_kafka_header_get_last(headers, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let value, size > 0, size <= 18
        else { return nil }
        var result: Int64 = 0
        for byte in UnsafeRawBufferPointer(start: value, count: size) {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            result = result * 10 + Int64(byte - 0x30)
        }
        return result
    }

    /// The timestamp of record `index` in epoch milliseconds, nil when the record has none.
    public func timestamp(at index: Int) -> Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(messages[index]!, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts
    }

    /// A copy of record `index`, for tests and diagnostics (the point of this type is not to copy).
    public func message(at index: Int) -> KafkaMessage {
        let rkm = messages[index]!
        return KafkaConsumer.copy(rkm, topic: rkm.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "")
    }
}

extension ConsumerFetchError {
    init(_ rkm: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = rkm.pointee
        var text = String(cString: rd_kafka_err2str(m.err))
        if let payload = m.payload, m.len > 0 {
            text = String(decoding: UnsafeRawBufferPointer(start: payload, count: m.len), as: UTF8.self)
        }
        let tp = m.rkt.map { TopicPartition(String(cString: rd_kafka_topic_name($0)), m.partition) }
        self.init(topicPartition: tp, offset: m.offset, error: KafkaError(code: m.err, context: text))
    }
}

/// A consumed batch: the messages, in partition order, and the per-partition errors met while fetching them.
public struct ConsumerBatch: Sendable {
    public var messages: [KafkaMessage]
    /// Non-fatal errors carried in place of messages (an out-of-range offset, a transport hiccup).
    public var errors: [ConsumerFetchError]
}

/// An error librdkafka delivered in place of a message.
public struct ConsumerFetchError: Sendable, Error {
    public var topicPartition: TopicPartition?
    public var offset: Int64
    public var error: KafkaError

    /// The fetch position fell outside the log and `auto.offset.reset=error` refused to move it silently.
    public var isOffsetOutOfRange: Bool {
        error.code == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET.rawValue
            || error.code == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE.rawValue
    }
}

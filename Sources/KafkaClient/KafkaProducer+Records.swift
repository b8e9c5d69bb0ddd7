import CLogdistKafka
import CRdKafka

/// The send operations for records that are already bytes in a buffer: consumed records forwarded unchanged
/// (the dispatcher), and records sliced out of a request body (ingest). Both report one ``CountedOutcome`` per call,
/// not a report per record.
extension KafkaProducer {
    /// Where `forward` sends records: route `r` is partition `partitions[r]` with header value `headerValues[r]`.
    /// The pick of a record ``forward(_:picks:routes:)`` does not produce.
    public static let skip: Int32 = -1

    public struct Routes: Sendable {
        public var topic: String
        public var headerName: String
        public var partitions: [Int32]
        public var headerValues: [[UInt8]]

        public init(topic: String, headerName: String, partitions: [Int32], headerValues: [[UInt8]]) {
            precondition(partitions.count == headerValues.count, "one header value per route")
            self.topic = topic
            self.headerName = headerName
            self.partitions = partitions
            self.headerValues = headerValues
        }
    }

    /// Produces consumed records unchanged (key, value, headers, with `routes.headerName` set to its route's value)
    /// and suspends once, until every one is acknowledged; then throws the first failure, if any.
    ///
    /// `picks[c][i]` is the route of record `i` of `chunks[c]`, or ``skip`` for a record not to produce.
    /// librdkafka copies each record straight from the consumer's buffer: no Swift copy, no report per message.
    /// Order per route follows the order given.
    public func forward(_ chunks: [ConsumedBatch], picks: [[Int32]], routes: Routes) async throws {
        precondition(chunks.count == picks.count && zip(chunks, picks).allSatisfy { $0.count == $1.count }, "one pick per record")
        let skipped = picks.reduce(0) { sum, chunk in sum + chunk.reduce(0) { $0 + ($1 < 0 ? 1 : 0) } }
        let total = chunks.reduce(0) { $0 + $1.count } - skipped
        guard total > 0 else { return }
        precondition(chunks.allSatisfy { $0.count < OpaqueID.maxBatchSize }, "chunk exceeds \(OpaqueID.maxBatchSize)")
        if let fatal = client.fatalError { throw fatal }
        let batchID = try core.registerCounted(count: total).get()
        let rkt = topicHandle(routes.topic)
        let base = OpaqueID.batch(batchID, index: 0)
        var enqueued = 0
        var deadline: ContinuousClock.Instant?
        var failure: KafkaError?
        for (chunk, chunkPicks) in zip(chunks, picks) {
            let run = await enqueueAll(chunk.count, topic: routes.topic, deadline: &deadline) { start in
                var err = RD_KAFKA_RESP_ERR_NO_ERROR
                let stopped = Self.forwardChunk(
                    client.handle, rkt, chunk, chunkPicks, from: start, routes: routes, opaqueBase: base, err: &err)
                return (stopped, err)
            }
            // Skipped records before the stop are not in flight.
            enqueued += run.enqueued - chunkPicks[..<run.enqueued].reduce(0) { $0 + ($1 < 0 ? 1 : 0) }
            failure = run.failure
            if failure != nil { break }
        }
        if let failure { core.failCounted(batchID, count: total - enqueued, failure) }
        if let error = await core.awaitCounted(batchID).firstError { throw error }
    }

    /// Up to this many records, `sendSlices` enqueues on the caller's thread.
    static let inlineSliceLimit = 8

    /// One record of ``sendSlices(topic:values:keys:slices:header:timestamp:)``: where its value and its key are.
    public struct RecordSlice: Sendable, Equatable {
        public var value: Range<Int>
        public var key: Range<Int>
        /// The packet's message count, written in the `countHeader` header when positive.
        public var messages: Int32

        public init(value: Range<Int>, key: Range<Int>, messages: Int32 = 0) {
            self.value = value
            self.key = key
            self.messages = messages
        }
    }

    /// Produces records laid out in two buffers — `values[slice.value]` keyed by `keys[slice.key]` — each with
    /// `header` and the record timestamp `timestamp` (epoch ms; nil: now), to `topic` (its partitioner picks: by key,
    /// or sticky with `stickyPartitioning`), and suspends once, until every one is acknowledged or has failed.
    ///
    /// The ingest batch path: librdkafka copies each record straight from the request body, with no Swift value
    /// and no report per record. When the local queue stays full past `enqueueTimeout`, the records not yet
    /// enqueued fail with `.queueFull`; the ones enqueued still complete.
    ///
    /// - Parameter countHeader: the name of a header holding each record's `messages`, when given.
    public func sendSlices(
        topic: String, values: [UInt8], keys: [UInt8], slices: [RecordSlice], header: KafkaHeader, timestamp: Int64? = nil,
        countHeader: String? = nil
    ) async -> CountedOutcome {
        guard !slices.isEmpty else { return CountedOutcome() }
        precondition(slices.count < OpaqueID.maxBatchSize, "batch of \(slices.count) exceeds \(OpaqueID.maxBatchSize)")
        precondition(slices.allSatisfy { $0.value.upperBound <= values.count && $0.key.upperBound <= keys.count }, "slice out of bounds")
        if let fatal = client.fatalError { return CountedOutcome(failed: slices.count, firstError: fatal) }
        let batchID: UInt64
        switch core.registerCounted(count: slices.count) {
        case .success(let id): batchID = id
        case .failure(let refused): return CountedOutcome(failed: slices.count, firstError: refused)
        }
        let rkt = topicHandle(topic)
        let base = OpaqueID.batch(batchID, index: 0)
        let layout = slices.map {
            logdist_slice(
                value_offset: $0.value.lowerBound, value_size: $0.value.count, key_offset: $0.key.lowerBound, key_size: $0.key.count,
                messages: $0.messages)
        }
        let headerValue = header.value ?? []
        let handle = TopicHandle(pointer: rkt)
        let client = client
        let enqueue = { @Sendable (start: Int) -> (Int, rd_kafka_resp_err_t) in
            var err = RD_KAFKA_RESP_ERR_NO_ERROR
            let stopped = values.withUnsafeBufferPointer { values in
                keys.withUnsafeBufferPointer { keys in
                    layout.withUnsafeBufferPointer { layout in
                        headerValue.withUnsafeBytes { headerValue in
                            Self.withOptionalCString(countHeader) { countHeader in
                                logdist_produce_slices(
                                    client.handle, handle.pointer, values.baseAddress, keys.baseAddress, layout.baseAddress, start,
                                    layout.count, header.name, headerValue.baseAddress, headerValue.count, countHeader,
                                    timestamp ?? 0, base, &err)
                            }
                        }
                    }
                }
            }
            return (Int(stopped), err)
        }
        var deadline: ContinuousClock.Instant?
        let run = await enqueueAll(slices.count, topic: topic, deadline: &deadline) { start in
            // Many records: on the poller thread, which also frees them after their reports (see EventPoller).
            // A few: here, where a thread hop would cost more than the allocator saves.
            slices.count - start > Self.inlineSliceLimit ? await poller.perform { enqueue(start) } : enqueue(start)
        }
        if let failure = run.failure { core.failCounted(batchID, count: slices.count - run.enqueued, failure) }
        return await core.awaitCounted(batchID)
    }

    /// Calls `body` with `text` as a C string, or with nil.
    static func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let text else { return body(nil) }
        return text.withCString { body($0) }
    }

    private static func forwardChunk(
        _ rk: OpaquePointer, _ rkt: OpaquePointer, _ chunk: ConsumedBatch, _ picks: [Int32], from start: Int, routes: Routes,
        opaqueBase: UInt, err: inout rd_kafka_resp_err_t
    ) -> Int {
        // Pointers to each route's header value, valid for the duration of the call.
        let values = routes.headerValues.map { value -> UnsafeMutableRawPointer in
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, value.count), alignment: 1)
            value.withUnsafeBytes { if let base = $0.baseAddress { copy.copyMemory(from: base, byteCount: value.count) } }
            return copy
        }
        defer { values.forEach { $0.deallocate() } }
        let sizes = routes.headerValues.map(\.count)
        let stopped = picks.withUnsafeBufferPointer { picks in
            routes.partitions.withUnsafeBufferPointer { partitions in
                sizes.withUnsafeBufferPointer { sizes in
                    values.map { UnsafeRawPointer($0) as UnsafeRawPointer? }.withUnsafeBufferPointer { values in
                        chunk.messages.withMemoryRebound(to: UnsafeMutablePointer<rd_kafka_message_t>?.self, capacity: chunk.count) { messages in
                            logdist_forward(
                                rk, rkt, messages, picks.baseAddress, start, chunk.count, partitions.baseAddress,
                                routes.headerName, values.baseAddress, sizes.baseAddress, opaqueBase, &err)
                        }
                    }
                }
            }
        }
        return Int(stopped)
    }
}

import CRdKafka
import Foundation

/// The send operations for Swift values (``OutgoingMessage``): each message gets its own delivery report.
extension KafkaProducer {
    /// Produces one message and suspends until the broker acknowledged it.
    public func send(_ message: OutgoingMessage) async throws -> DeliveryReport {
        try await sendBatch([message])[0].get()
    }

    /// Produces many messages and suspends once, until every one of them is acknowledged or has failed.
    ///
    /// Results are in the order of `messages` (``Swift/Array/get()`` turns them into the reports, or the first
    /// failure). When the local queue stays full past `enqueueTimeout`, the messages not yet enqueued fail with
    /// `.queueFull`; the ones already enqueued still complete.
    public func sendBatch(_ messages: [OutgoingMessage]) async -> [Result<DeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        precondition(messages.count < OpaqueID.maxBatchSize, "batch of \(messages.count) exceeds \(OpaqueID.maxBatchSize)")
        if let fatal = client.fatalError { return Array(repeating: .failure(fatal), count: messages.count) }
        let batchID: UInt64
        switch core.registerBatch(count: messages.count) {
        case .success(let id): batchID = id
        case .failure(let refused): return Array(repeating: .failure(refused), count: messages.count)
        }
        var handles: [String: OpaquePointer] = [:]
        var deadline: ContinuousClock.Instant?
        var index = 0
        while index < messages.count {
            let message = messages[index]
            let rkt: OpaquePointer
            if let known = handles[message.topic] {
                rkt = known
            } else {
                rkt = topicHandle(message.topic)
                handles[message.topic] = rkt
            }
            let err = enqueue(message, rkt: rkt, opaque: OpaqueID.batch(batchID, index: index))
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                index += 1
                continue
            }
            if await roomAppeared(after: err, deadline: &deadline) { continue }
            let error = KafkaError(code: err, context: "enqueue to \(message.topic)")
            let failed = (index..<messages.count).map { ($0, Result<DeliveryReport, KafkaError>.failure(error)) }
            core.resolveBatch(batchID, failed)
            break
        }
        return await core.awaitBatch(batchID)
    }

    /// Calls `enqueue(start)` — which enqueues messages `start..<count` in order and returns where it stopped, with
    /// the error that stopped it — until all are enqueued, waiting for room while the local queue is full.
    /// - Returns: how many were enqueued, and the error that ended the call early, if any.
    func enqueueAll(
        _ count: Int, topic: String, deadline: inout ContinuousClock.Instant?,
        _ enqueue: (Int) async -> (stopped: Int, err: rd_kafka_resp_err_t)
    ) async -> (enqueued: Int, failure: KafkaError?) {
        var index = 0
        while index < count {
            let (stopped, err) = await enqueue(index)
            index = stopped
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { continue }
            if await roomAppeared(after: err, deadline: &deadline) { continue }
            return (index, KafkaError(code: err, context: "enqueue to \(topic)"))
        }
        return (count, nil)
    }

    /// After a full queue (backpressure), waits a millisecond and says to retry, until `enqueueTimeout` has passed
    /// since the first full queue of this call; any other error, or past the deadline: false.
    func roomAppeared(after err: rd_kafka_resp_err_t, deadline: inout ContinuousClock.Instant?) async -> Bool {
        guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { return false }
        let now = ContinuousClock.now
        let limit = deadline ?? now.advanced(by: configuration.enqueueTimeout)
        deadline = limit
        guard now < limit else { return false }
        try? await Task.sleep(for: .milliseconds(1))
        return true
    }

    /// Hands one message to librdkafka, which copies key, value and headers.
    func enqueue(_ message: OutgoingMessage, rkt: OpaquePointer, opaque: UInt) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                if let value = header.value {
                    _ = value.withUnsafeBytes { rd_kafka_header_add(headers, header.name, -1, $0.baseAddress, $0.count) }
                } else {
                    _ = rd_kafka_header_add(headers, header.name, -1, nil, 0)
                }
            }
        }
        let err: rd_kafka_resp_err_t = withOptionalBytes(message.value) { value in
            withOptionalBytes(message.key) { key in
                // On the stack: an array here was a heap allocation per message.
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { args -> rd_kafka_resp_err_t in
                    var n = 0
                    args[n].vtype = RD_KAFKA_VTYPE_RKT; args[n].u.rkt = rkt; n += 1
                    args[n].vtype = RD_KAFKA_VTYPE_PARTITION; args[n].u.i32 = message.partition ?? -1; n += 1
                    args[n].vtype = RD_KAFKA_VTYPE_VALUE
                    args[n].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    args[n].u.mem.size = value.count; n += 1
                    if let keyBase = key.baseAddress {
                        args[n].vtype = RD_KAFKA_VTYPE_KEY
                        args[n].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBase)
                        args[n].u.mem.size = key.count; n += 1
                    }
                    args[n].vtype = RD_KAFKA_VTYPE_OPAQUE; args[n].u.ptr = UnsafeMutableRawPointer(bitPattern: opaque); n += 1
                    args[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS; args[n].u.i = RD_KAFKA_MSG_F_COPY; n += 1
                    if let headers {
                        args[n].vtype = RD_KAFKA_VTYPE_HEADERS; args[n].u.headers = headers; n += 1
                    }
                    guard let error = rd_kafka_produceva(client.handle, args.baseAddress, n) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                    let code = rd_kafka_error_code(error)
                    rd_kafka_error_destroy(error)
                    return code
                }
            }
        }
        // On success the message owns the headers; on failure they are still ours.
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return err
    }
}

/// `nil` bytes become a null pointer (a Kafka null); an empty array stays an empty, non-null value.
private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    guard let bytes else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    if bytes.isEmpty {
        var zero: UInt8 = 0
        return withUnsafeBytes(of: &zero) { body(UnsafeRawBufferPointer(start: $0.baseAddress, count: 0)) }
    }
    return bytes.withUnsafeBytes(body)
}

extension Array where Element == Result<DeliveryReport, KafkaError> {
    /// The delivery reports of a ``KafkaProducer/sendBatch(_:)``, in order, or its first failure.
    public func get() throws(KafkaError) -> [DeliveryReport] {
        try map { result throws(KafkaError) in try result.get() }
    }
}

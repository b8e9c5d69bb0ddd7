import CRdKafka
import Dispatch
import Foundation
import Synchronization

/// Pending sends of one producer, resolved by delivery reports.
///
/// One `Mutex` guards the table; a whole delivery-report event (many messages) is resolved under one lock,
/// and continuations resume after it is released.
final class ProducerCore: Sendable {
    typealias Outcome = Result<DeliveryReport, KafkaError>

    private struct Batch {
        var results: [Outcome?]
        var remaining: Int
        var continuation: CheckedContinuation<[Outcome], Never>?
    }

    /// A batch whose caller only needs to know how many failed, and the first failure: no report per message.
    private struct Counted {
        var remaining: Int
        var outcome = CountedOutcome()
        var continuation: CheckedContinuation<CountedOutcome, Never>?
    }

    private struct State {
        var nextID: UInt64 = 1
        var singles: [UInt64: CheckedContinuation<DeliveryReport, any Error>] = [:]
        var batches: [UInt64: Batch] = [:]
        var counted: [UInt64: Counted] = [:]
        var pendingMessages = 0
        /// Set by `failAll` (the producer closed): nothing may register any more, or it would wait forever.
        var closed: KafkaError?
    }

    private enum Wakeup {
        case single(CheckedContinuation<DeliveryReport, any Error>, Outcome)
        case batch(CheckedContinuation<[Outcome], Never>, [Outcome])
        case counted(CheckedContinuation<CountedOutcome, Never>, CountedOutcome)
    }

    private let state = Mutex(State())

    var pendingCount: Int { state.withLock { $0.pendingMessages } }

    /// Registers a send; nil (and the continuation resumed with the error) once the producer has closed.
    func registerSingle(_ continuation: CheckedContinuation<DeliveryReport, any Error>) -> UInt64? {
        let refused: KafkaError? = state.withLock { $0.closed }
        if let refused {
            continuation.resume(throwing: refused)
            return nil
        }
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.singles[id] = continuation
            state.pendingMessages += 1
            return id
        }
    }

    func failSingle(_ id: UInt64, _ error: KafkaError) {
        resolve([(OpaqueID.single(id), .failure(error))])
    }

    /// The error every send gets once the producer has closed, else nil.
    var closedError: KafkaError? { state.withLock { $0.closed } }

    func registerBatch(count: Int) -> UInt64 {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.batches[id] = Batch(results: Array(repeating: nil, count: count), remaining: count)
            state.pendingMessages += count
            return id
        }
    }

    func registerCounted(count: Int) -> UInt64 {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.counted[id] = Counted(remaining: count)
            state.pendingMessages += count
            return id
        }
    }

    /// `count` messages of counted batch `id` will get no delivery report (they were never enqueued).
    func failCounted(_ id: UInt64, count: Int, _ error: KafkaError) {
        let wakeup: Wakeup? = state.withLock { state in
            state.pendingMessages -= count
            return Self.settle(&state, counted: id, count: count, CountedOutcome(failed: count, firstError: error))
        }
        if let wakeup { wake([wakeup]) }
    }

    /// Suspends until every message of counted batch `id` has an outcome.
    func awaitCounted(_ id: UInt64) async -> CountedOutcome {
        await withCheckedContinuation { continuation in
            let ready: CountedOutcome? = state.withLock { state in
                guard let batch = state.counted[id] else { return CountedOutcome() }
                if batch.remaining == 0 {
                    state.counted[id] = nil
                    return batch.outcome
                }
                state.counted[id]!.continuation = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// `count` more messages of counted batch `id` have an outcome, summed in `outcome`.
    private static func settle(_ state: inout State, counted id: UInt64, count: Int, _ outcome: CountedOutcome) -> Wakeup? {
        guard state.counted[id] != nil else { return nil }
        state.counted[id]!.remaining -= count
        state.counted[id]!.outcome.merge(outcome)
        guard state.counted[id]!.remaining <= 0, let continuation = state.counted[id]!.continuation else { return nil }
        let done = state.counted.removeValue(forKey: id)!
        return .counted(continuation, done.outcome)
    }

    func resolveBatch(_ id: UInt64, _ outcomes: [(Int, Outcome)]) {
        resolve(outcomes.map { (OpaqueID.batch(id, index: $0.0), $0.1) })
    }

    /// Suspends until every message of batch `id` has an outcome.
    func awaitBatch(_ id: UInt64) async -> [Outcome] {
        await withCheckedContinuation { continuation in
            let ready: [Outcome]? = state.withLock { state in
                guard var batch = state.batches[id] else { return [] }
                if batch.remaining == 0 {
                    state.batches[id] = nil
                    return batch.results.map { $0! }
                }
                batch.continuation = continuation
                state.batches[id] = batch
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Reads one `RD_KAFKA_EVENT_DR` event.
    ///
    /// Counted batches are settled while the reports are read, under one lock; other reports are collected and
    /// resolved after it.
    /// - Important: runs on the producer's poller thread; the event stays owned by the caller.
    func handle(event: OpaquePointer) {
        var outcomes: [(UInt, Outcome)] = []
        let wakeups: [Wakeup] = state.withLock { state in
            var wakeups: [Wakeup] = []
            var run: (id: UInt64, count: Int, outcome: CountedOutcome)?
            while let message = rd_kafka_event_message_next(event) {
                let opaque = UInt(bitPattern: message.pointee._private)
                let err = message.pointee.err
                if case .batch(let id, _) = OpaqueID.decode(opaque), state.counted[id] != nil {
                    // Consecutive reports of one batch are settled together.
                    let error = err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(code: err, context: "delivery")
                    let one = error == nil ? CountedOutcome(deliveredBytes: message.pointee.len) : CountedOutcome(failed: 1, firstError: error)
                    if let current = run, current.id == id {
                        run!.count += 1
                        run!.outcome.merge(one)
                    } else {
                        if let current = run, let w = Self.settle(&state, counted: current.id, count: current.count, current.outcome) {
                            wakeups.append(w)
                        }
                        run = (id, 1, one)
                    }
                    state.pendingMessages -= 1
                    continue
                }
                if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    outcomes.append((opaque, .success(DeliveryReport(partition: message.pointee.partition, offset: message.pointee.offset))))
                } else {
                    outcomes.append((opaque, .failure(KafkaError(code: err, context: "delivery"))))
                }
            }
            if let current = run, let w = Self.settle(&state, counted: current.id, count: current.count, current.outcome) {
                wakeups.append(w)
            }
            return wakeups
        }
        wake(wakeups)
        if !outcomes.isEmpty { resolve(outcomes) }
    }

    /// Fails every pending send; used when the producer closes.
    func failAll(_ error: KafkaError) {
        let wakeups: [Wakeup] = state.withLock { state in
            state.closed = state.closed ?? error
            var wakeups: [Wakeup] = state.singles.values.map { .single($0, .failure(error)) }
            for (_, batch) in state.batches {
                guard let continuation = batch.continuation else { continue }
                wakeups.append(.batch(continuation, batch.results.map { $0 ?? .failure(error) }))
            }
            for key in state.counted.keys {
                // The messages still unreported fail with `error`.
                state.counted[key]!.outcome.merge(CountedOutcome(failed: max(0, state.counted[key]!.remaining), firstError: error))
                state.counted[key]!.remaining = 0
            }
            for (_, batch) in state.counted {
                guard let continuation = batch.continuation else { continue }
                wakeups.append(.counted(continuation, batch.outcome))
            }
            state.counted = state.counted.filter { $0.value.continuation == nil }
            state.singles.removeAll()
            state.batches = state.batches.filter { $0.value.continuation == nil }
            for key in state.batches.keys {
                state.batches[key]!.results = state.batches[key]!.results.map { $0 ?? .failure(error) }
                state.batches[key]!.remaining = 0
            }
            state.pendingMessages = 0
            return wakeups
        }
        wake(wakeups)
    }

    private func resolve(_ outcomes: [(UInt, Outcome)]) {
        let wakeups: [Wakeup] = state.withLock { state in
            var wakeups: [Wakeup] = []
            for (opaque, outcome) in outcomes {
                switch OpaqueID.decode(opaque) {
                case .single(let id):
                    guard let continuation = state.singles.removeValue(forKey: id) else { continue }
                    state.pendingMessages -= 1
                    wakeups.append(.single(continuation, outcome))
                case .batch(let id, let index):
                    // Mutated in place through the dictionary: copying a batch's result array per report would
                    // make a batch cost quadratic time.
                    guard state.batches[id]?.results[index] == nil, state.batches[id] != nil else { continue }
                    state.batches[id]!.results[index] = outcome
                    state.batches[id]!.remaining -= 1
                    state.pendingMessages -= 1
                    if state.batches[id]!.remaining == 0, let continuation = state.batches[id]!.continuation {
                        let results = state.batches.removeValue(forKey: id)!.results
                        wakeups.append(.batch(continuation, results.map { $0! }))
                    }
                }
            }
            return wakeups
        }
        wake(wakeups)
    }

    private func wake(_ wakeups: [Wakeup]) {
        for wakeup in wakeups {
            switch wakeup {
            case .single(let continuation, let outcome): continuation.resume(with: outcome.mapError { $0 as any Error })
            case .batch(let continuation, let outcomes): continuation.resume(returning: outcomes)
            case .counted(let continuation, let error): continuation.resume(returning: error)
            }
        }
    }
}

/// A dedicated thread that polls a client's main event queue and hands each event to `handler`, and that runs
/// jobs given to ``perform(_:)`` between events.
///
/// librdkafka's own threads do the networking; this thread only reads finished work (delivery reports,
/// errors), so no task of the cooperative pool ever blocks in C. Producing on this thread too (``perform(_:)``)
/// makes it the one owner of librdkafka's per-message memory: a message is allocated and, after its delivery
/// report, freed by the same thread, where the allocator serves it from a thread cache without taking the lock
/// that cross-thread frees contend for (measured: the largest source of futex calls in ingest).
final class EventPoller: Sendable {
    private struct Jobs {
        var open = true
        var pending: [@Sendable () -> Void] = []
    }

    private let running = Atomic<Bool>(true)
    private let finished = Mutex<Bool>(false)
    private let done: DispatchSemaphoreBox
    private let queue: QueueHandle
    private let jobs = Mutex(Jobs())

    init(client: RDKafkaClient, name: String, handler: @escaping @Sendable (OpaquePointer) -> Void) {
        let done = DispatchSemaphoreBox()
        self.done = done
        let queue = QueueHandle(pointer: rd_kafka_queue_get_main(client.handle)!)
        self.queue = queue
        let thread = Thread { [self] in
            defer { done.signal() }
            while isRunning {
                runJobs()
                guard let event = rd_kafka_queue_poll(queue.pointer, 100) else { continue }
                switch Int32(rd_kafka_event_type(event)) {
                case RD_KAFKA_EVENT_DR:
                    handler(event)
                case RD_KAFKA_EVENT_ERROR:
                    let code = rd_kafka_event_error(event)
                    let fatal = rd_kafka_event_error_is_fatal(event) != 0
                    let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
                    client.context.handleError(code: code, reason: text, fatal: fatal)
                default:
                    break
                }
                rd_kafka_event_destroy(event)
            }
            // Jobs that arrive from now on run on their caller's thread.
            jobs.withLock { $0.open = false }
            runJobs()
        }
        thread.name = "logdist-kafka-\(name)"
        thread.start()
    }

    deinit {
        rd_kafka_queue_destroy(queue.pointer)
    }

    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Runs `body` on the poller thread (or, once it stopped, on the caller's) and returns its result.
    /// - Important: `body` must not block: delivery reports wait while it runs.
    func perform<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let job: @Sendable () -> Void = { continuation.resume(returning: body()) }
            let queued = jobs.withLock { jobs in
                guard jobs.open else { return false }
                jobs.pending.append(job)
                return true
            }
            if queued { rd_kafka_queue_yield(queue.pointer) } else { job() }
        }
    }

    private func runJobs() {
        let batch = jobs.withLock { jobs in
            let taken = jobs.pending
            jobs.pending = []
            return taken
        }
        for job in batch { job() }
    }

    /// Stops the thread and waits for it to leave librdkafka; safe to call more than once.
    func stop() {
        let first = finished.withLock { finished in
            defer { finished = true }
            return !finished
        }
        guard first else { return }
        running.store(false, ordering: .releasing)
        rd_kafka_queue_yield(queue.pointer)
        done.wait()
    }
}

/// A semaphore that can be captured by a `@Sendable` thread body.
final class DispatchSemaphoreBox: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait() { semaphore.wait() }
}

/// How a counted batch ended: how many of its messages failed, the value bytes of those delivered, and the first
/// failure.
public struct CountedOutcome: Sendable, Equatable {
    public var failed = 0
    public var deliveredBytes = 0
    public var firstError: KafkaError?

    public init(failed: Int = 0, deliveredBytes: Int = 0, firstError: KafkaError? = nil) {
        self.failed = failed
        self.deliveredBytes = deliveredBytes
        self.firstError = firstError
    }

    /// Adds the counts of `other`; the first error stays the first.
    mutating func merge(_ other: CountedOutcome) {
        failed += other.failed
        deliveredBytes += other.deliveredBytes
        if firstError == nil { firstError = other.firstError }
    }
}

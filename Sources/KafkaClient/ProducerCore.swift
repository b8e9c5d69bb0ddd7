import CRdKafka
import Dispatch
import Foundation
import Synchronization

/// Pending sends of one producer, resolved by delivery reports, and the producer's lifecycle.
///
/// Two tables: batches whose callers want each message's report (`send`, `sendBatch`), and counted batches whose
/// callers want only how many failed (`sendSlices`, `forward`). One `Mutex` guards both and the lifecycle, so a send
/// registers before a close begins or is refused; a whole delivery-report event (many messages) is resolved under
/// one lock, and continuations resume after it is released.
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
        var batches: [UInt64: Batch] = [:]
        var counted: [UInt64: Counted] = [:]
        var pendingMessages = 0
        var lifecycle = ClientLifecycle(role: "producer")
    }

    private enum Wakeup {
        case batch(CheckedContinuation<[Outcome], Never>, [Outcome])
        case counted(CheckedContinuation<CountedOutcome, Never>, CountedOutcome)
    }

    private let state = Mutex(State())

    var pendingCount: Int { state.withLock { $0.pendingMessages } }

    /// Where the producer is in its life.
    var lifecycle: ClientLifecycle { state.withLock { $0.lifecycle } }

    /// Starting or running → closing: sends from now on are refused. `.drain` tells the caller to flush and then
    /// call ``finishClose(_:)``.
    func beginClose() -> ClientLifecycle.CloseAction {
        state.withLock { $0.lifecycle.beginClose() }
    }

    /// Registers a batch of `count` messages, each to get its own outcome; refused once the producer is closing.
    func registerBatch(count: Int) -> Result<UInt64, KafkaError> {
        state.withLock { state in
            Self.admit(&state, count: count).map { id in
                state.batches[id] = Batch(results: Array(repeating: nil, count: count), remaining: count)
                return id
            }
        }
    }

    /// Registers a batch of `count` messages whose caller wants only a ``CountedOutcome``; refused once closing.
    func registerCounted(count: Int) -> Result<UInt64, KafkaError> {
        state.withLock { state in
            Self.admit(&state, count: count).map { id in
                state.counted[id] = Counted(remaining: count)
                return id
            }
        }
    }

    /// The steps both registrations share: the lifecycle admits the send (or refuses it), the batch gets the next
    /// id, and its messages count as pending until their reports arrive.
    private static func admit(_ state: inout State, count: Int) -> Result<UInt64, KafkaError> {
        if case .refuse(let error) = state.lifecycle.admit() { return .failure(error) }
        let id = state.nextID
        state.nextID += 1
        state.pendingMessages += count
        return .success(id)
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
                let id = OpaqueID.decode(opaque).batch
                if state.counted[id] != nil {
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

    /// Closing → closed: fails every send still pending with `error` (nothing can report them any more).
    /// Also the teardown of a producer deallocated without a close.
    func finishClose(_ error: KafkaError) {
        let wakeups: [Wakeup] = state.withLock { state in
            _ = state.lifecycle.beginClose()
            state.lifecycle.finishClose()
            var wakeups: [Wakeup] = []
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
                let (id, index) = OpaqueID.decode(opaque)
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
            return wakeups
        }
        wake(wakeups)
    }

    private func wake(_ wakeups: [Wakeup]) {
        for wakeup in wakeups {
            switch wakeup {
            case .batch(let continuation, let outcomes): continuation.resume(returning: outcomes)
            case .counted(let continuation, let error): continuation.resume(returning: error)
            }
        }
    }
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

/// The per-message opaque librdkafka hands back in the delivery report: the batch's id and the message's index in it.
enum OpaqueID {
    static let indexBits: UInt = 24
    static let maxBatchSize = 1 << 24

    static func batch(_ id: UInt64, index: Int) -> UInt { (UInt(id) << indexBits) | UInt(index) }

    static func decode(_ raw: UInt) -> (batch: UInt64, index: Int) {
        (UInt64(raw >> indexBits), Int(raw & ((1 << indexBits) - 1)))
    }
}

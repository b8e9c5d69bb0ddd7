import CRdKafka
import Dispatch
import Foundation
import Synchronization

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

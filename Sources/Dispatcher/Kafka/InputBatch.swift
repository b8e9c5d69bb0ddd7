import KafkaClient
import Synchronization

/// Set once a batch's commit has finished (either way); read by the task collecting the next batch.
final class CommitSignal: Sendable {
    private let done = Atomic<Bool>(false)

    var isDone: Bool { done.load(ordering: .acquiring) }

    func finish() { done.store(true, ordering: .releasing) }
}

/// The records of one batch, as polled (several polls make one batch).
struct InputBatch {
    var chunks: [ConsumedBatch] = []
    private(set) var count = 0
    /// Exactly-once: the group generation the batch was polled in (see `BatchCommit.run`).
    var generation: ConsumerGroupMetadata?

    init(chunks: [ConsumedBatch] = []) {
        for chunk in chunks { append(chunk) }
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ chunk: ConsumedBatch) {
        chunks.append(chunk)
        count += chunk.count
    }

    /// Where each partition of the batch begins: rewinding there redoes the batch.
    var firstOffsets: [TopicPartition: Int64] {
        var first: [TopicPartition: Int64] = [:]
        for chunk in chunks {
            for (tp, span) in chunk.spans { first[tp] = min(first[tp] ?? .max, span.first) }
        }
        return first
    }

    /// The offsets to commit once the whole batch is durable.
    var nextOffsets: [TopicPartition: Int64] {
        var next: [TopicPartition: Int64] = [:]
        for chunk in chunks {
            for (tp, span) in chunk.spans { next[tp] = max(next[tp] ?? 0, span.next) }
        }
        return next
    }
}

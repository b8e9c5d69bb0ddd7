import LogdistBasics
import KafkaClient
import Logging

/// Rebuilds retry windows by reading the end of input partitions back from Kafka: the records a window covers are
/// the ones before where routing resumes, which the log still holds.
struct RetryWindowLoader {
    let kafka: KafkaConfig
    let topic: String
    let span: Int64
    let maxAgeMs: Int64
    /// Reading back stops here; the windows then hold what was read (fewer repeats caught, nothing lost).
    let budget: Duration
    let logger: Logger

    struct Result {
        var windows: [Int32: RetryWindow]
        /// Records read.
        var records = 0
        /// False when the budget ran out before every window was complete.
        var complete = true
    }

    /// Windows ending at `targets[p]` for every partition `p` of `targets`.
    func load(_ targets: [Int32: Int64]) async throws -> Result {
        var result = Result(windows: [:])
        var config = KafkaConsumer.Configuration(kafka: kafka, groupID: nil)
        config.clientName = "dispatcher-retry-window"
        config.isolationLevel = .readCommitted
        config.defaults = ["fetch.wait.max.ms": "50", "queued.max.messages.kbytes": "65536"]
        let reader = try KafkaConsumer(configuration: config, logger: logger)
        do {
            try await read(targets, with: reader, into: &result)
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        return result
    }

    private func read(_ targets: [Int32: Int64], with reader: KafkaConsumer, into result: inout Result) async throws {
        // Where each partition's reading starts, and the offset it must reach.
        var pending: [Int32: Int64] = [:]
        var starts: [TopicPartitionOffset] = []
        for (partition, end) in targets {
            let low = try await reader.watermarks(TopicPartition(topic, partition), timeout: .seconds(5)).low
            let begin = max(end - span, low, 0)
            result.windows[partition] = RetryWindow(span: span, maxAgeMs: maxAgeMs, next: min(begin, end))
            if begin < end {
                pending[partition] = end
                starts.append(TopicPartitionOffset(topic, partition, begin))
            }
        }
        guard !starts.isEmpty else { return }
        try reader.assign(starts)
        let deadline = ContinuousClock.now + budget
        while !pending.isEmpty, ContinuousClock.now < deadline {
            try Task.checkCancellation()
            let batch = try await reader.pollRaw(maxMessages: 10_000, timeout: .milliseconds(200))
            for index in 0..<batch.count {
                let partition = batch.partition(at: index)
                let offset = batch.offset(at: index)
                guard let end = pending[partition], offset < end else { continue }
                let digest = batch.withKey(at: index) { $0.map(PacketDigest.init) }
                _ = result.windows[partition]!.admit(
                    offset: offset, digest: digest, timestampMs: batch.timestamp(at: index) ?? 0)
                result.records += 1
            }
            // Done when the next record to read is at or past the end (transaction markers have no record).
            let positions = try reader.position(pending.keys.map { TopicPartition(topic, $0) })
            for position in positions where position.offset >= (pending[position.partition] ?? .max) {
                pending[position.partition] = nil
            }
        }
        result.complete = pending.isEmpty
        for (partition, end) in targets { result.windows[partition]!.advance(to: end) }
    }
}

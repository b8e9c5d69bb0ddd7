
/// The retry windows of the input partitions this dispatcher routes; owned by the routing loop.
///
/// A window is trusted only when it ends exactly where the next batch of its partition begins; any other window
/// (none yet, after a rebalance, a seek, or a batch that was not committed) is read again from the log first.
struct RetryFilter {
    /// Offsets per partition searched for an earlier copy; 0 turns the filter off.
    let span: Int64
    let maxAgeMs: Int64
    private var windows: [Int32: RetryWindow] = [:]

    init(span: Int64, maxAgeMs: Int64) {
        self.span = span
        self.maxAgeMs = maxAgeMs
    }

    var isEnabled: Bool { span > 0 }

    /// Partitions of `firstOffsets` (where a batch begins, per partition) whose window must be read from the log
    /// first, with the offset it must end at.
    func stale(_ firstOffsets: [Int32: Int64]) -> [Int32: Int64] {
        guard isEnabled else { return [:] }
        return firstOffsets.filter { partition, first in windows[partition]?.next != first }
    }

    /// Installs a window read from the log.
    mutating func install(_ window: RetryWindow, for partition: Int32) {
        windows[partition] = window
    }

    /// Whether the record is routed (true) or dropped as a repeat (false).
    ///
    /// - Precondition: the partition's window was installed and ends at or before `offset`.
    mutating func admit(partition: Int32, offset: Int64, digest: PacketDigest?, timestampMs: Int64) -> Bool {
        guard isEnabled else { return true }
        return windows[partition]!.admit(offset: offset, digest: digest, timestampMs: timestampMs)
    }

    /// Forgets the windows of `partitions`: they took in records that were not committed, or are no longer ours.
    mutating func forget(_ partitions: some Sequence<Int32>) {
        for partition in partitions { windows[partition] = nil }
    }

    /// Keeps only the windows of `partitions` (the current assignment).
    mutating func retain(_ partitions: Set<Int32>) {
        windows = windows.filter { partitions.contains($0.key) }
    }

    /// Records remembered over all windows.
    var remembered: Int { windows.values.reduce(0) { $0 + $1.remembered } }
}

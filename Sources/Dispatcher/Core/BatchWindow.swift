/// When a batch being collected ships. Pure, so its rules are tested without Kafka.
///
/// Adaptive batching: a batch ships as soon as it has something and the batch before it is durable (and `linger`
/// has passed since collection began); it ships anyway once it is full or `maxWindow` has passed. Under light
/// traffic every packet goes at once; under heavy traffic a batch grows for as long as the previous one takes to
/// commit, so batches size themselves to the broker's commit latency instead of to a fixed timer.
struct BatchWindow {
    enum Step: Equatable {
        /// Stop collecting: ship what is in hand (possibly nothing, if the input was quiet).
        case ship
        /// Poll for at most this long, then ask again.
        case poll(Duration)
    }

    let start: ContinuousClock.Instant
    /// The least time a batch collects before it ships (0: ship as soon as the previous batch is durable).
    let linger: Duration
    /// The most time a batch collects: the bound on the latency batching adds while the previous batch is slow.
    let maxWindow: Duration
    let capacity: Int

    /// How often to look again while waiting for the previous batch (the cost of one poll is a queue hop).
    static let durableCheck: Duration = .milliseconds(1)
    /// The longest single wait for a first packet.
    static let idleSlice: Duration = .milliseconds(100)

    /// - Parameters:
    ///   - count: packets in hand.
    ///   - previousDurable: the batch before this one is committed (true when there is none).
    ///   - lastPollEmpty: the last poll returned nothing.
    func next(count: Int, previousDurable: Bool, lastPollEmpty: Bool, now: ContinuousClock.Instant) -> Step {
        if count >= capacity { return .ship }
        let deadline = start + max(maxWindow, linger)
        guard now < deadline else { return .ship }
        // Quiet input and nothing in hand: return so the caller can look at health, rebalances and cancellation.
        if count == 0, lastPollEmpty { return .ship }
        let lingerEnd = start + linger
        if count > 0, previousDurable, now >= lingerEnd { return .ship }
        let untilDeadline = deadline - now
        if count == 0 { return .poll(min(untilDeadline, Self.idleSlice)) }
        if !previousDurable { return .poll(min(untilDeadline, Self.durableCheck)) }
        return .poll(min(untilDeadline, lingerEnd - now))
    }
}

/// The life of one Kafka client, as a value: what it admits in each state, and what a close must do.
///
/// `starting` (created, not yet used) → `running` (first operation admitted) → `closing` (a close is flushing or
/// leaving the group) → `closed`. A fatal error can arrive in any state; from then on nothing is admitted and the
/// error says why. The client holds one of these under the same lock as the work it admits, so a send either
/// registers before a close begins (and the close waits for it or fails it) or is refused: never one that waits
/// for a poller that has stopped.
public struct ClientLifecycle: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case starting, running, closing, closed
    }

    /// Whether an operation (a send, a poll) may go ahead.
    public enum Admission: Sendable, Equatable {
        case proceed
        case refuse(KafkaError)
    }

    /// What the caller of ``beginClose()`` must do.
    public enum CloseAction: Sendable, Equatable {
        /// Flush or leave the group, release resources, then call ``finishClose()``.
        case drain
        /// Another close is draining the client: wait until the state is `closed`.
        case awaitClosed
        /// The client is closed already: nothing to do.
        case none
    }

    public private(set) var state: State = .starting
    /// The first fatal error the client reported, if any.
    public private(set) var fatalError: KafkaError?
    /// What the client is called in errors: "producer", "consumer".
    public let role: String

    public init(role: String) {
        self.role = role
    }

    /// Admits an operation while starting or running (moving to running), refuses it once closing, closed or
    /// fatally failed.
    public mutating func admit() -> Admission {
        if let fatalError { return .refuse(fatalError) }
        switch state {
        case .starting:
            state = .running
            return .proceed
        case .running:
            return .proceed
        case .closing, .closed:
            return .refuse(KafkaError.closed(role))
        }
    }

    /// Records a fatal error; the first one is kept.
    public mutating func failed(_ error: KafkaError) {
        if fatalError == nil { fatalError = error }
    }

    /// Starting or running → closing, and the caller drains; a close while another drains waits for it; a close
    /// after the client closed does nothing.
    public mutating func beginClose() -> CloseAction {
        switch state {
        case .starting, .running:
            state = .closing
            return .drain
        case .closing:
            return .awaitClosed
        case .closed:
            return .none
        }
    }

    /// Closing → closed. Returns false when no close was draining (nothing changes then).
    @discardableResult
    public mutating func finishClose() -> Bool {
        guard state == .closing else { return false }
        state = .closed
        return true
    }

    /// Whether the client must still release its librdkafka resources when it is deallocated (it was never
    /// closed, or its close did not finish).
    public var needsTeardown: Bool { state != .closed }
}

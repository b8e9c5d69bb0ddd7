import Testing

@testable import Dispatcher

@Suite("BatchWindow")
struct BatchWindowTests {
    let start = ContinuousClock.now

    func window(linger: Duration = .zero, maxWindow: Duration = .milliseconds(10), capacity: Int = 100) -> BatchWindow {
        BatchWindow(start: start, linger: linger, maxWindow: maxWindow, capacity: capacity)
    }

    func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test func shipsAsSoonAsThePreviousBatchIsDurable() {
        let w = window()
        #expect(w.next(count: 3, previousDurable: true, lastPollEmpty: false, now: at(0)) == .ship)
        #expect(w.next(count: 1, previousDurable: true, lastPollEmpty: true, now: at(0)) == .ship)
    }

    @Test func keepsCollectingWhileThePreviousBatchCommits() {
        let w = window()
        // Checks the previous batch again within a millisecond, however quiet the input.
        #expect(w.next(count: 3, previousDurable: false, lastPollEmpty: false, now: at(2)) == .poll(.milliseconds(1)))
        #expect(w.next(count: 3, previousDurable: false, lastPollEmpty: true, now: at(2)) == .poll(.milliseconds(1)))
        // Never past the window.
        #expect(
            w.next(count: 3, previousDurable: false, lastPollEmpty: false, now: start + .microseconds(9_600))
                == .poll(.microseconds(400)))
        #expect(w.next(count: 3, previousDurable: false, lastPollEmpty: false, now: at(10)) == .ship)
    }

    @Test func shipsWhenFullWhateverElse() {
        let w = window(linger: .milliseconds(50), capacity: 100)
        #expect(w.next(count: 100, previousDurable: false, lastPollEmpty: false, now: at(0)) == .ship)
        #expect(w.next(count: 250, previousDurable: true, lastPollEmpty: false, now: at(0)) == .ship)
    }

    @Test func waitsForTheFirstPacketUpToTheWindow() {
        let w = window()
        #expect(w.next(count: 0, previousDurable: true, lastPollEmpty: false, now: at(0)) == .poll(.milliseconds(10)))
        #expect(w.next(count: 0, previousDurable: false, lastPollEmpty: false, now: at(4)) == .poll(.milliseconds(6)))
        // Quiet input and nothing in hand: hand back so the loop can look at health and cancellation.
        #expect(w.next(count: 0, previousDurable: true, lastPollEmpty: true, now: at(1)) == .ship)
        #expect(w.next(count: 0, previousDurable: false, lastPollEmpty: true, now: at(1)) == .ship)
        // An idle wait is capped even with a long window.
        let long = window(maxWindow: .seconds(5))
        #expect(long.next(count: 0, previousDurable: true, lastPollEmpty: false, now: at(0)) == .poll(BatchWindow.idleSlice))
    }

    @Test func lingerHoldsABatchEvenWhenThePreviousIsDurable() {
        let w = window(linger: .milliseconds(20), maxWindow: .milliseconds(10))
        #expect(w.next(count: 5, previousDurable: true, lastPollEmpty: true, now: at(5)) == .poll(.milliseconds(15)))
        #expect(w.next(count: 5, previousDurable: false, lastPollEmpty: false, now: at(15)) == .poll(.milliseconds(1)))
        // The window stretches to the linger: a linger longer than the window is not cut short.
        #expect(w.next(count: 5, previousDurable: false, lastPollEmpty: false, now: at(19)) == .poll(.milliseconds(1)))
        #expect(w.next(count: 5, previousDurable: true, lastPollEmpty: false, now: at(20)) == .ship)
        #expect(w.next(count: 5, previousDurable: false, lastPollEmpty: false, now: at(20)) == .ship)
    }

    /// Whatever the state, the window either ships or polls for a positive time no longer than what is left of it:
    /// the collecting loop always ends.
    @Test(arguments: [0, 3, 20], [1, 10, 200])
    func alwaysEnds(lingerMs: Int, windowMs: Int) {
        let w = window(linger: .milliseconds(lingerMs), maxWindow: .milliseconds(windowMs), capacity: 50)
        let end = max(lingerMs, windowMs)
        for nowMs in stride(from: 0, through: end + 1, by: 1) {
            for count in [0, 1, 49, 50] {
                for durable in [false, true] {
                    for quiet in [false, true] {
                        switch w.next(count: count, previousDurable: durable, lastPollEmpty: quiet, now: at(nowMs)) {
                        case .ship:
                            break
                        case .poll(let slice):
                            #expect(slice > .zero)
                            #expect(at(nowMs) + slice <= at(end))
                        }
                    }
                }
            }
        }
    }
}

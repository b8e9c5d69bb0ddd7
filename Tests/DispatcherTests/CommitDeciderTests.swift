import KafkaClient
import Testing

@testable import Dispatcher

/// Plays a script of outcomes through the decider; returns the steps run and the final action.
private func play(
    _ mode: DeliveryMode, _ answers: [CommitDecider.Step: [CommitDecider.Outcome]], maxRetries: Int = 3
) -> (steps: [CommitDecider.Step], end: CommitDecider.Action) {
    var decider = CommitDecider(mode: mode, maxRetries: maxRetries)
    var queues = answers
    var step = decider.first
    var steps: [CommitDecider.Step] = []
    for _ in 0..<100 {
        steps.append(step)
        let outcome = queues[step]?.isEmpty == false ? queues[step]!.removeFirst() : .success
        switch decider.next(after: step, outcome) {
        case .run(let next): step = next
        case .retry(let again, _): step = again
        case let end: return (steps, end)
        }
    }
    Issue.record("the decider did not end")
    return (steps, .giveUp)
}

@Suite("CommitDecider: exactly-once and at-least-once commit decisions")
struct CommitDeciderTests {
    @Test func transactionHappyPath() {
        let run = play(.exactlyOnce, [:])
        #expect(run.steps == [.begin, .produce, .sendOffsets, .commit])
        #expect(run.end == .done)
    }

    @Test("a retriable commit is retried, and a batch whose commit then succeeds is done, never redone")
    func retriableCommit() {
        let run = play(.exactlyOnce, [.commit: [.retriable, .retriable]])
        #expect(run.steps == [.begin, .produce, .sendOffsets, .commit, .commit, .commit])
        #expect(run.end == .done)
    }

    @Test("retries are bounded: a commit that stays retriable is aborted and the batch redone")
    func retriesBounded() {
        let run = play(.exactlyOnce, [.commit: Array(repeating: .retriable, count: 10)], maxRetries: 3)
        #expect(run.steps == [.begin, .produce, .sendOffsets, .commit, .commit, .commit, .commit, .abort])
        #expect(run.end == .redo)
    }

    @Test("abortable or failed at any step: abort, then redo", arguments: [
        (CommitDecider.Step.produce, CommitDecider.Outcome.failed), (.produce, .abortable), (.produce, .retriable),
        (.sendOffsets, .abortable),
        (.sendOffsets, .failed), (.commit, .abortable), (.commit, .failed), (.begin, .failed),
    ])
    func abortThenRedo(step: CommitDecider.Step, outcome: CommitDecider.Outcome) {
        let run = play(.exactlyOnce, [step: [outcome]])
        #expect(run.steps.last == .abort)
        #expect(run.steps.filter { $0 == .commit }.count <= 1)
        #expect(run.end == .redo)
    }

    @Test("fatal (fenced) at any step: give up", arguments: [
        CommitDecider.Step.begin, .produce, .sendOffsets, .commit,
    ])
    func fatalGivesUp(step: CommitDecider.Step) {
        let run = play(.exactlyOnce, [step: [.fatal]])
        #expect(run.steps.last == step)
        #expect(run.end == .giveUp)
    }

    @Test("a produce is never retried inside its transaction (records before the failure would be duplicated)")
    func produceNotRetried() {
        let run = play(.exactlyOnce, [.produce: [.retriable]])
        #expect(run.steps == [.begin, .produce, .abort])
        #expect(run.end == .redo)
    }

    @Test("a sendOffsets refused for a stale generation (rebalance before the commit) aborts and redoes")
    func rebalanceBeforeCommit() {
        let run = play(.exactlyOnce, [.sendOffsets: [.abortable]])
        #expect(run.steps == [.begin, .produce, .sendOffsets, .abort])
        #expect(run.end == .redo)
    }

    @Test("abort: retriable is retried; fatal gives up; a retriable abort that never ends gives up")
    func abortOutcomes() {
        #expect(play(.exactlyOnce, [.commit: [.abortable], .abort: [.retriable]]).end == .redo)
        #expect(play(.exactlyOnce, [.commit: [.abortable], .abort: [.fatal]]).end == .giveUp)
        #expect(play(.exactlyOnce, [.commit: [.abortable], .abort: Array(repeating: .retriable, count: 9)]).end == .giveUp)
        #expect(play(.exactlyOnce, [.commit: [.abortable], .abort: [.failed]]).end == .redo, "nothing left to abort")
    }

    @Test func atLeastOnce() {
        #expect(play(.atLeastOnce, [:]).steps == [.produce, .commit])
        #expect(play(.atLeastOnce, [:]).end == .done)
        #expect(play(.atLeastOnce, [.produce: [.failed]]).end == .redo)
        #expect(play(.atLeastOnce, [.commit: [.retriable]]).end == .done, "a retriable commit is retried")
        #expect(play(.atLeastOnce, [.commit: [.failed]]).end == .redo)
        #expect(play(.atLeastOnce, [.produce: [.fatal]]).end == .giveUp)
    }

    @Test("outcomes follow librdkafka's flags, fatal first")
    func outcomeOfError() {
        #expect(CommitDecider.Outcome(nil) == .success)
        #expect(CommitDecider.Outcome(KafkaError(kind: .broker, message: "x", isRetriable: true)) == .retriable)
        #expect(CommitDecider.Outcome(KafkaError(kind: .broker, message: "x", requiresAbort: true)) == .abortable)
        #expect(CommitDecider.Outcome(KafkaError(kind: .broker, message: "x", isRetriable: true, requiresAbort: true)) == .abortable)
        #expect(CommitDecider.Outcome(KafkaError(kind: .fatal, message: "fenced", requiresAbort: true)) == .fatal)
        #expect(CommitDecider.Outcome(KafkaError(kind: .broker, message: "x")) == .failed)
        #expect(CommitDecider.Outcome(CancellationError()) == .failed)
    }
}

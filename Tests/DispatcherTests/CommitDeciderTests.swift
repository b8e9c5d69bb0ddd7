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
        func answer(_ step: CommitDecider.Step) -> CommitDecider.Outcome {
            queues[step]?.isEmpty == false ? queues[step]!.removeFirst() : .success
        }
        // The overlapped step takes the next answer of each of its two halves.
        let action = step == .produceAndSendOffsets
            ? decider.next(afterProduce: answer(.produce), offsets: answer(.sendOffsets))
            : decider.next(after: step, answer(step))
        switch action {
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
        #expect(run.steps == [.begin, .produceAndSendOffsets, .commit])
        #expect(run.end == .done)
    }

    @Test("a retriable commit is retried, and a batch whose commit then succeeds is done, never redone")
    func retriableCommit() {
        let run = play(.exactlyOnce, [.commit: [.retriable, .retriable]])
        #expect(run.steps == [.begin, .produceAndSendOffsets, .commit, .commit, .commit])
        #expect(run.end == .done)
    }

    @Test("retries are bounded: a commit that stays retriable is aborted and the batch redone")
    func retriesBounded() {
        let run = play(.exactlyOnce, [.commit: Array(repeating: .retriable, count: 10)], maxRetries: 3)
        #expect(run.steps == [.begin, .produceAndSendOffsets, .commit, .commit, .commit, .commit, .abort])
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
        #expect(run.steps.last == (step == .produce || step == .sendOffsets ? .produceAndSendOffsets : step))
        #expect(run.end == .giveUp)
    }

    @Test("produce and offsets together: every pair of answers librdkafka can give", arguments: [
        CommitDecider.Outcome.success, .retriable, .abortable, .fatal, .failed,
    ], [
        CommitDecider.Outcome.success, .retriable, .abortable, .fatal, .failed,
    ])
    func overlappedAnswers(produced: CommitDecider.Outcome, offsets: CommitDecider.Outcome) {
        var decider = CommitDecider(mode: .exactlyOnce)
        #expect(decider.next(after: .begin, .success) == .run(.produceAndSendOffsets), "offsets go with the records")
        let action = decider.next(afterProduce: produced, offsets: offsets)
        switch (produced, offsets) {
        case (.fatal, _), (_, .fatal):
            #expect(action == .giveUp)
        case (.success, .success):
            #expect(action == .run(.commit))
        case (.success, .retriable):
            // The records are in the open transaction: only the offsets are sent again.
            guard case .retry(.sendOffsets, _) = action else {
                Issue.record("expected the offsets to be sent again, got \(action)")
                return
            }
        case (.success, _):
            #expect(action == .run(.abort))
        default:
            // A produce that did not succeed is never retried inside its transaction.
            #expect(action == .run(.abort))
        }
    }

    @Test("offsets retried alone after a produce that succeeded, then committed; never a second produce")
    func offsetsRetriedAlone() {
        let run = play(.exactlyOnce, [.sendOffsets: [.retriable, .retriable]])
        #expect(run.steps == [.begin, .produceAndSendOffsets, .sendOffsets, .sendOffsets, .commit])
        #expect(run.end == .done)
    }

    @Test("a produce is never retried inside its transaction (records before the failure would be duplicated)")
    func produceNotRetried() {
        let run = play(.exactlyOnce, [.produce: [.retriable]])
        #expect(run.steps == [.begin, .produceAndSendOffsets, .abort])
        #expect(run.end == .redo)
    }

    @Test("a sendOffsets refused for a stale generation (rebalance before the commit) aborts and redoes")
    func rebalanceBeforeCommit() {
        let run = play(.exactlyOnce, [.sendOffsets: [.abortable]])
        #expect(run.steps == [.begin, .produceAndSendOffsets, .abort])
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

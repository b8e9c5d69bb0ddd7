/// An analyser as the selector sees it: where its packets go and how many it should get.
public struct SelectorMember: Sendable, Equatable, Hashable, Codable {
    public var id: String
    /// Its partition of `logdist.assigned`.
    public var partition: Int32
    /// Its share relative to the others; 0 (or less) means it is never picked.
    public var weight: Int

    public init(id: String, partition: Int32, weight: Int) {
        self.id = id
        self.partition = partition
        self.weight = weight
    }
}

/// Smooth weighted round-robin, the algorithm NGINX uses for upstreams, as a pure value type.
///
/// Each pick adds every member's weight to its credit, takes the member with the most credit (the earlier one in
/// `members` on a tie) and charges it the total weight. With a fixed set, any `totalWeight` consecutive picks give
/// each member exactly its weight, interleaved: 5:1:1 gives `a a b a c a a`.
///
/// On `update` the credits are not carried over as they are, because arbitrary credits can give a burst or break the
/// exact windows. Instead the selector enters the new cycle (the credit states reached from zero under the new
/// weights) at the state nearest to the carried credits, measured as a fraction of the total weight. So
/// members that stay keep about the same place in the rotation, a member that was absent or had weight 0 starts
/// neutral, and from the very next pick on, every `totalWeight` consecutive picks are exact again.
public struct WeightedSelector: Sendable {
    /// The eligible set as last given, including members with weight 0.
    public private(set) var members: [SelectorMember]
    /// Sum of the positive weights.
    public private(set) var totalWeight: Int

    /// Members with weight > 0, in the order of `members`; `slots[i]` goes with `picks[i]`.
    private var picks: [SelectorMember]
    private var slots: ContiguousArray<Slot>
    /// Sum of the slot weights (the weights divided by their gcd; same sequence, shorter cycle).
    private var cycle: Int

    private struct Slot: Sendable {
        var weight: Int
        var credit: Int
    }

    /// Phases of the new cycle searched on `update`; beyond it the nearest of the first ones is used.
    static let maxPhaseSearch = 1 << 16

    public init(members: [SelectorMember] = []) {
        self.members = []
        self.totalWeight = 0
        self.picks = []
        self.slots = []
        self.cycle = 0
        update(members)
    }

    /// Replaces the eligible set; the next pick already follows it.
    ///
    /// An identical set keeps its state untouched. Otherwise see the type's documentation: the new state is a state of
    /// the new cycle, chosen nearest to the carried credits (new members count as neutral).
    public mutating func update(_ newMembers: [SelectorMember]) {
        if newMembers == members { return }
        var carried: [String: Double] = [:]
        if cycle > 0 {
            for (member, slot) in zip(picks, slots) where carried[member.id] == nil {
                carried[member.id] = Double(slot.credit) / Double(cycle)
            }
        }

        members = newMembers
        picks = newMembers.filter { $0.weight > 0 }
        totalWeight = picks.reduce(0) { $0 + $1.weight }
        let divisor = picks.reduce(0) { gcd($0, $1.weight) }
        slots = ContiguousArray(picks.map { Slot(weight: $0.weight / divisor, credit: 0) })
        cycle = divisor == 0 ? 0 : totalWeight / divisor
        guard cycle > 0, !carried.isEmpty else { return }

        let targets = picks.map { carried[$0.id] ?? 0 }
        slots = nearestPhase(to: targets)
    }

    /// The next pick, or nil when nobody has weight > 0.
    ///
    /// O(members), no allocation.
    public mutating func next() -> SelectorMember? {
        nextIndex().map { picks[$0] }
    }

    /// Members that can be picked (weight > 0), in the order of `members`; `nextIndex` indexes this.
    public var pickable: [SelectorMember] { picks }

    /// The next pick as an index into `pickable`, or nil when nobody has weight > 0. O(members), no allocation.
    public mutating func nextIndex() -> Int? {
        guard cycle > 0 else { return nil }
        let cycle = self.cycle
        let chosen = slots.withUnsafeMutableBufferPointer { slots in
            var best = 0
            var bestCredit = Int.min
            for index in slots.indices {
                let credit = slots[index].credit &+ slots[index].weight
                slots[index].credit = credit
                if credit > bestCredit {
                    best = index
                    bestCredit = credit
                }
            }
            slots[best].credit &-= cycle
            return best
        }
        return chosen
    }

    /// Runs the new cycle from zero and keeps the state closest (L1, in fractions of the cycle) to `targets`.
    private func nearestPhase(to targets: [Double]) -> ContiguousArray<Slot> {
        var state = slots
        var best = state
        var bestDistance = Double.infinity
        let total = Double(cycle)
        for _ in 0..<min(cycle, Self.maxPhaseSearch) {
            var distance = 0.0
            for index in state.indices {
                distance += abs(Double(state[index].credit) / total - targets[index])
            }
            if distance < bestDistance {
                bestDistance = distance
                best = state
                if distance == 0 { break }
            }
            Self.step(&state, cycle: cycle)
        }
        return best
    }

    private static func step(_ state: inout ContiguousArray<Slot>, cycle: Int) {
        var best = 0
        for index in state.indices {
            state[index].credit += state[index].weight
            if state[index].credit > state[best].credit { best = index }
        }
        state[best].credit -= cycle
    }
}

private func gcd(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

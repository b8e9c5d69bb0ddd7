/// What a packet costs the analyser that gets it, for `--weight-by`.
public enum WeightBy: String, Sendable, Codable, CaseIterable {
    /// Every packet counts 1: smooth weighted round-robin (`WeightedSelector`).
    case packets
    /// A packet counts its messages (ingest writes the count in a header; the dispatcher never decodes a packet).
    case messages
    /// A packet counts its bytes.
    case bytes
}

/// Smooth weighted round-robin where each pick has a cost: each member's share of the total cost follows its
/// weight, whatever the packets' sizes. Pure.
///
/// Every pick of cost c first credits each member w·c (its fair share of c, scaled by the total weight W), then
/// goes to the member with the most credit, which is charged W·c. Credits sum to 0, and a member's credit divided by
/// W is exactly how far its served cost is behind its share (w/W of all cost so far), so the greatest credit is the
/// member most owed. With every cost 1 this is NGINX's smooth weighted round-robin, as `WeightedSelector` runs it.
/// Tested: every member stays within one packet's cost (the largest seen) of its share.
public struct CostSelector: Sendable {
    public private(set) var members: [SelectorMember]
    /// Members with weight > 0; indices of `next` index this.
    public private(set) var pickable: [SelectorMember]
    private var credits: [Int64]
    private var totalWeight: Int64

    public init(members: [SelectorMember] = []) {
        self.members = []
        self.pickable = []
        self.credits = []
        self.totalWeight = 0
        update(members)
    }

    /// Replaces the eligible set. Members that stay keep how far they are owed (as a fraction of the total weight);
    /// new ones start even, so a member that returns gets no burst.
    public mutating func update(_ newMembers: [SelectorMember]) {
        if newMembers == members { return }
        var owed: [String: Double] = [:]
        if totalWeight > 0 {
            for (member, credit) in zip(pickable, credits) { owed[member.id] = Double(credit) / Double(totalWeight) }
        }
        members = newMembers
        pickable = newMembers.filter { $0.weight > 0 }
        totalWeight = pickable.reduce(0) { $0 + Int64($1.weight) }
        credits = pickable.map { Int64(((owed[$0.id] ?? 0) * Double(totalWeight)).rounded()) }
        // Owed amounts of members that left are gone: centre the rest so credits sum to 0 again.
        if !credits.isEmpty {
            let mean = credits.reduce(0, +) / Int64(credits.count)
            credits = credits.map { $0 - mean }
        }
    }

    /// The index into `pickable` of the member that gets a packet costing `cost` (at least 1), or nil when no member
    /// has weight. O(members), no allocation.
    public mutating func next(cost: Int64) -> Int? {
        guard totalWeight > 0 else { return nil }
        let c = max(1, cost)
        var best = 0
        var bestCredit = Int64.min
        for index in credits.indices {
            credits[index] &+= Int64(pickable[index].weight) &* c
            if credits[index] > bestCredit {
                best = index
                bestCredit = credits[index]
            }
        }
        credits[best] &-= totalWeight &* c
        return best
    }

    /// How far each pickable member's served cost is behind its share, in cost units (negative: ahead).
    public var owed: [Double] {
        credits.map { totalWeight > 0 ? Double($0) / Double(totalWeight) : 0 }
    }
}

import LogdistBasics
import PacketModel
import ServiceSupport
import Operations
import Foundation
import Hummingbird

/// Operators' directives: the weight API, and what the dispatcher says when one takes effect.
extension DispatcherService {
    /// The highest weight an operator may set (weights are relative; this keeps the selector's sums small).
    static let maxWeight = 1_000_000

    /// `PUT /v1/analysers/{id}/weight` with `{"weight": n}` sets an operator's weight for `id`; `DELETE` gives the
    /// analyser its own weight back. Written to the heartbeats topic, so every dispatcher applies it (within a
    /// heartbeat interval) and later ones too. Requires the admin token.
    func changeWeight(id: String, request: Request, remove: Bool) async throws -> Response {
        try authorizeAdmin(request)
        if let problem = AnalyserID.problem(with: id) {
            throw APIError(status: .badRequest, error: "invalid_id", field: "id", detail: problem)
        }
        if remove {
            try await FleetControl.with(kafka: config.kafka, topics: config.topics, logger: logger) {
                try await $0.withdraw(key: FleetDirective.weightKey(id))
            }
            return jsonResponse(WeightAnswer(id: id, weight: nil, detail: "\(id) routes by its own weight again"))
        }
        var body = try await request.body.collect(upTo: 4096)
        guard let bytes = body.readBytes(length: body.readableBytes),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let weight = object["weight"] as? Int, object.count == 1
        else {
            throw APIError(status: .badRequest, error: "malformed_body", detail: #"send {"weight": n}, n a whole number"#)
        }
        guard (0...Self.maxWeight).contains(weight) else {
            throw APIError(
                status: .unprocessableContent, error: "invalid_value", field: "weight",
                detail: "a weight is a whole number from 0 (no new packets) to \(Self.maxWeight)")
        }
        try await FleetControl.with(kafka: config.kafka, topics: config.topics, logger: logger) {
            try await $0.publish(.weight(id: id, weight: weight, setAtMs: epochMilliseconds()))
        }
        return jsonResponse(WeightAnswer(id: id, weight: weight, detail: "every dispatcher applies it within a heartbeat interval"))
    }

    /// Admin actions are checked here, not by whoever they are forwarded to.
    func authorizeAdmin(_ request: Request) throws {
        guard let token = config.adminToken else {
            throw APIError(
                status: .unauthorized, error: "unauthorized",
                detail: "admin actions are disabled: start the dispatcher with --admin-token or LOGDIST_ADMIN_TOKEN",
                headers: [.wwwAuthenticate: "Bearer"])
        }
        guard token.authorizes(request) else { throw APIError.unauthorized() }
    }

    /// One line per directive as it takes effect.
    func log(_ directive: FleetDirective.Parsed) {
        switch directive {
        case .set(.weight(let id, let weight, _)):
            logger.info("operator weight applied", metadata: [LogKeys.analyser: "\(id)", "weight": "\(weight)"])
        case .withdrawn(.weight(let id)):
            logger.info("operator weight withdrawn: the analyser's own weight applies", metadata: [LogKeys.analyser: "\(id)"])
        case .set(.retired(let id, _)):
            logger.info("analyser retired: no new packets", metadata: [LogKeys.analyser: "\(id)"])
        case .withdrawn(.retired(let id)):
            logger.info("analyser no longer retired", metadata: [LogKeys.analyser: "\(id)"])
        case .set(.drainedSlot(let partition, let drainedTo, let from, _)):
            logger.info(
                "partition drained", metadata: [LogKeys.partition: "\(partition)", LogKeys.offset: "\(drainedTo)", "from": "\(from)"])
        case .withdrawn(.drainedSlot), .unknown:
            break
        }
    }
}

struct WeightAnswer: Encodable {
    var id: String
    var weight: Int?
    var detail: String
}

import ServiceSupport
import Foundation
import Hummingbird

extension DispatcherService {
    /// What `GET /v1/load` answers.
    public func loadStatus() -> LoadStatus { load.status() }

    /// `GET /v1/load` (status, open like `/v1/analysers`), `POST /v1/load` (start) and `DELETE /v1/load` (stop); the
    /// two that act require the admin token, checked as for fail/begin.
    func addLoadRoutes(to routes: RouteCollection<BasicRequestContext>) {
        routes.get("/v1/load") { [self] _, _ in jsonResponse(load.status(), pretty: true) }
        routes.post("/v1/load") { [self] request, _ -> Response in
            try authorizeLoad(request)
            let body = try await request.body.collect(upTo: 64 * 1024)
            let parsed: LoadRequest
            do {
                parsed = try JSONDecoder().decode(LoadRequest.self, from: Data(buffer: body))
            } catch {
                throw APIError(
                    status: .badRequest, error: "malformed_json",
                    detail: #"send {"rate": requests/s, "packetsPerRequest": n, "messagesPerPacket": n, "durationSeconds": s}: \#(error)"#)
            }
            return jsonResponse(try load.start(parsed), status: .accepted)
        }
        routes.delete("/v1/load") { [self] request, _ -> Response in
            try authorizeLoad(request)
            return jsonResponse(load.stop())
        }
    }

    /// 403 while load control is off (no admin token or no ingest URL), 401 without the admin token.
    private func authorizeLoad(_ request: Request) throws {
        guard let token = config.adminToken, load.target != nil else {
            throw APIError(status: .forbidden, error: "load_disabled", detail: load.disabledDetail ?? "load control is off")
        }
        guard token.authorizes(request) else { throw APIError.unauthorized() }
    }
}

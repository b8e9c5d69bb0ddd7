import Hummingbird
import ServiceSupport

/// The analyser's HTTP API: its statistics (open), and simulated failure and recovery for demos and tests (admin
/// token). Health and metrics routes are added by ``AnalyserService/makeRouter()``.
struct AnalyserRoutes {
    let service: AnalyserService

    func collection() -> RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        let service = service
        routes.get("/v1/stats") { _, _ in jsonResponse(service.stats(), pretty: true) }
        let admin = routes.group("/internal/simulate")
        admin.add(middleware: AdminTokenMiddleware(token: service.config.adminToken))
        admin.post("fail") { _, _ in
            service.simulateFailure()
            return jsonResponse(["id": service.config.id, "state": "failed"])
        }
        admin.post("begin") { _, _ in
            service.simulateBegin()
            return jsonResponse(["id": service.config.id, "state": "up"])
        }
        return routes
    }
}

/// 401 unless the admin token is configured and presented.
struct AdminTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: BearerToken?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else {
            throw APIError(
                status: .unauthorized, error: "unauthorized",
                detail: "admin endpoints are disabled: start the analyser with --admin-token or LOGDIST_ADMIN_TOKEN",
                headers: [.wwwAuthenticate: "Bearer"])
        }
        guard token.authorizes(request) else { throw APIError.unauthorized() }
        return try await next(request, context)
    }
}

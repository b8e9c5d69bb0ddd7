import Hummingbird
import NIOCore
import ServiceSupport

/// The dispatcher's HTTP API: the analysers' view and the dashboard (open), weights and load control (admin token),
/// and fail/begin forwarded to an analyser. Health and metrics routes are added by
/// ``DispatcherService/makeRouter()``.
struct DispatcherRoutes {
    let service: DispatcherService

    func collection() -> RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        let service = service
        routes.get("/v1/analysers") { _, _ in jsonResponse(service.view(), pretty: true) }
        routes.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: DashboardPage.html)))
        }
        routes.put("/v1/analysers/{id}/weight") { request, context -> Response in
            try await service.changeWeight(id: try context.parameters.require("id"), request: request, remove: false)
        }
        routes.delete("/v1/analysers/{id}/weight") { request, context -> Response in
            try await service.changeWeight(id: try context.parameters.require("id"), request: request, remove: true)
        }
        service.addLoadRoutes(to: routes)
        routes.post("/v1/analysers/{id}/{action}") { request, context -> Response in
            let id = try context.parameters.require("id")
            let action = try context.parameters.require("action")
            return try await service.forwardAdmin(id: id, action: action, request: request)
        }
        return routes
    }
}

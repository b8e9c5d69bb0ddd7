import Hummingbird
import ServiceSupport

/// Ingest's API: packets one at a time (and on the seed's path), in NDJSON batches, and OTLP/HTTP logs; behind the
/// bearer token when one is set. Health and metrics routes are added by ``IngestService/makeRouter()``.
struct IngestRoutes {
    let service: IngestService

    func collection() -> RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        if let token = service.config.token {
            routes.add(middleware: BearerTokenMiddleware(token: token))
        }
        let handlers = IngestHandlers(service: service)
        routes.post("/v1/packets") { request, context in try await handlers.single(request, context: context) }
        routes.post("/v1/packets:batch") { request, context in try await handlers.batch(request, context: context) }
        routes.post("/distributor/packet") { request, context in try await handlers.single(request, context: context) }
        let otlp = OTLPHTTPHandler(export: OTLPExport(service: service), handlers: handlers)
        routes.post("/v1/logs") { request, context in try await otlp.handle(request, context: context) }
        return routes
    }
}

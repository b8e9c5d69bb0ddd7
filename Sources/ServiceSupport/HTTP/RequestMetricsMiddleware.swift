import Hummingbird
import Prometheus
import Synchronization

/// Counts requests by route *template* and status (`logdist_<service>_requests_total{route,status}`), so label
/// cardinality stays bounded whatever paths clients send.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let counters: RequestCounters

    public init(counters: RequestCounters) {
        self.counters = counters
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            counters.count(route: context.endpointPath ?? "unmatched", status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            counters.count(route: context.endpointPath ?? "unmatched", status: error.status.code)
            throw error
        } catch {
            counters.count(route: context.endpointPath ?? "unmatched", status: 500)
            throw error
        }
    }
}

/// Counter objects per (route, status), created once and kept.
public final class RequestCounters: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let service: String
    private let counters = Mutex<[String: Counter]>([:])

    /// Counts into `logdist_<service>_requests_total`.
    public init(registry: PrometheusCollectorRegistry, service: String) {
        self.registry = registry
        self.service = service
    }

    public func count(route: String, status: Int) {
        let key = "\(route) \(status)"
        let counter = counters.withLock { counters in
            if let known = counters[key] { return known }
            let made = registry.counter(
                service, "requests", help: "HTTP requests by route template and status",
                labels: [("route", route), ("status", "\(status)")])
            counters[key] = made
            return made
        }
        counter.increment()
    }
}

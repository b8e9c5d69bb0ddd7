import Hummingbird

/// Which methods each route path serves, to answer a known path asked with another method with 405 and `Allow`
/// (RFC 9110 §15.5.6) instead of 404. Pure: built from the router's route list.
public struct AllowedMethods: Sendable, Equatable {
    /// Path templates split into components (a capture `{name}` and `*` match any one component), with their
    /// methods.
    private var templates: [(components: [String], methods: Set<String>)] = []

    public init(routes: [(path: String, method: String)]) {
        for route in routes {
            let components = Self.components(route.path)
            if let index = templates.firstIndex(where: { $0.components == components }) {
                templates[index].methods.insert(route.method)
            } else {
                templates.append((components, [route.method]))
            }
        }
    }

    /// The methods `path` is served with, sorted, or nil when no route has that path.
    public func methods(for path: String) -> [String]? {
        let asked = Self.components(path)
        var found: Set<String>?
        for template in templates where Self.matches(template.components, asked) {
            found = (found ?? []).union(template.methods)
        }
        return found.map { $0.sorted() }
    }

    public static func == (lhs: AllowedMethods, rhs: AllowedMethods) -> Bool {
        lhs.templates.elementsEqual(rhs.templates) { $0.components == $1.components && $0.methods == $1.methods }
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    private static func matches(_ template: [String], _ path: [String]) -> Bool {
        guard template.count == path.count else { return false }
        return zip(template, path).allSatisfy { pattern, component in
            pattern == component || pattern == "*" || (pattern.hasPrefix("{") && pattern.hasSuffix("}"))
        }
    }
}

/// A router's responder that answers 405 with `Allow` when a route's path is asked with a method it does not serve.
public struct MethodCheckingResponder<Inner: HTTPResponder>: HTTPResponder {
    public typealias Context = Inner.Context
    let inner: Inner
    let allowed: AllowedMethods

    public func respond(to request: Request, context: Context) async throws -> Response {
        do {
            let response = try await inner.respond(to: request, context: context)
            guard response.status == .notFound, let refusal = refusal(for: request) else { return response }
            return refusal
        } catch let error as HTTPError where error.status == .notFound {
            guard let refusal = refusal(for: request) else { throw error }
            return refusal
        }
    }

    /// 405 when the path is known and the method is not one of its methods.
    private func refusal(for request: Request) -> Response? {
        guard let methods = allowed.methods(for: request.uri.path), !methods.contains(request.method.rawValue) else {
            return nil
        }
        let allow = methods.joined(separator: ", ")
        return APIError(
            status: .methodNotAllowed, error: "method_not_allowed",
            detail: "\(request.uri.path) answers \(allow), not \(request.method.rawValue)", headers: [.allow: allow]
        ).response
    }
}

extension Router {
    /// The router's responder, answering 405 + `Allow` for a known path asked with another method.
    public func buildCheckedResponder() -> MethodCheckingResponder<RouterResponder<Context>> {
        let table = AllowedMethods(routes: routes.map { ("\($0.path)", $0.method.rawValue) })
        return MethodCheckingResponder(inner: buildResponder(), allowed: table)
    }
}

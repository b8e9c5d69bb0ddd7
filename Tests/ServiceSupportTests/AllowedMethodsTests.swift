import ServiceSupport
import Testing

@Suite("AllowedMethods")
struct AllowedMethodsTests {
    let table = AllowedMethods(routes: [
        ("/v1/packets", "POST"), ("/v1/packets:batch", "POST"), ("/metrics", "GET"),
        ("/v1/analysers/{id}/fail", "POST"), ("/v1/analysers", "GET"), ("/v1/analysers", "HEAD"), ("/files/*", "GET"),
    ])

    @Test("a known path answers with its methods, sorted; an unknown path with nil", arguments: [
        ("/v1/packets", ["POST"]), ("/v1/packets/", ["POST"]), ("/v1/packets:batch", ["POST"]), ("/metrics", ["GET"]),
        ("/v1/analysers", ["GET", "HEAD"]), ("/v1/analysers/a1/fail", ["POST"]), ("/files/x", ["GET"]),
    ])
    func known(path: String, methods: [String]) {
        #expect(table.methods(for: path) == methods)
    }

    @Test("paths no route has", arguments: ["/", "/v1", "/v1/packets/x", "/v1/analysers/a1", "/v1/analysers/a1/fail/x", "/files"])
    func unknown(path: String) {
        #expect(table.methods(for: path) == nil)
    }
}

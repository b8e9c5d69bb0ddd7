import Foundation
import Hummingbird

/// A shared secret checked against `Authorization: Bearer …` in constant time. Its text never reaches logs:
/// `description` is redacted.
public struct BearerToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let bytes: [UInt8]

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        bytes = Array(trimmed.utf8)
    }

    /// A token from `value`, else from the file at `file`, else from the environment variable `env`.
    public static func load(value: String?, file: String?, env: String) throws -> BearerToken? {
        if let value, let token = BearerToken(value) { return token }
        if let file {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw APIError(status: .internalServerError, error: "config", detail: "cannot read token file \(file)")
            }
            guard let token = BearerToken(text) else {
                throw APIError(status: .internalServerError, error: "config", detail: "token file \(file) is empty")
            }
            return token
        }
        if let fromEnv = ProcessInfo.processInfo.environment[env] { return BearerToken(fromEnv) }
        return nil
    }

    /// A random token, for `logdist up` when none is given.
    public static func random() -> BearerToken {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".utf8)
        let text = String(decoding: (0..<32).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }, as: UTF8.self)
        return BearerToken(text)!
    }

    /// The token's text, for printing once to the operator who asked for it.
    public var revealed: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// Compares the `Authorization` header of `request` in time independent of where the bytes differ.
    public func authorizes(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization] else { return false }
        let prefix = "bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix) else { return false }
        let presented = Array(header.utf8.dropFirst(prefix.utf8.count))
        return Self.constantTimeEqual(presented, bytes)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

/// Refuses requests without the token with a 401 JSON body.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: BearerToken

    public init(token: BearerToken) {
        self.token = token
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard token.authorizes(request) else { throw APIError.unauthorized() }
        return try await next(request, context)
    }
}

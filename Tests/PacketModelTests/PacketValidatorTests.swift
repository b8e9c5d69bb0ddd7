import Testing

@testable import PacketModel

/// A body and the rejection it must get.
struct BadPacket: Sendable, CustomTestStringConvertible {
    var name: String
    var body: [UInt8]
    var error: String
    var field: String?
    var status: Int
    var limits = PacketLimits()
    var testDescription: String { name }

    init(
        _ name: String, _ body: String, _ error: String, _ field: String?, _ status: Int, limits: PacketLimits = .init()
    ) {
        self.init(name, Array(body.utf8), error, field, status, limits: limits)
    }

    init(
        _ name: String, _ body: [UInt8], _ error: String, _ field: String?, _ status: Int,
        limits: PacketLimits = .init()
    ) {
        (self.name, self.body, self.error, self.field, self.status, self.limits) = (
            name, body, error, field, status, limits
        )
    }
}

/// A body and the packet it must decode to.
struct GoodPacket: Sendable, CustomTestStringConvertible {
    var name: String
    var body: String
    var packet: Packet
    var limits = PacketLimits()
    var testDescription: String { name }
}

private let oneMessage = #""messages":[{"level":"INFO","message":"m"}]"#
private let one = [LogMessage(level: .info, message: "m")]

private func limits(_ change: (inout PacketLimits) -> Void) -> PacketLimits {
    var limits = PacketLimits()
    change(&limits)
    return limits
}

/// `{"id":"p","messages":[{"level":"INFO","message":"<bytes>"}]}` with raw bytes inside the message string.
private func messageWith(_ raw: [UInt8]) -> [UInt8] {
    Array(#"{"id":"p","messages":[{"level":"INFO","message":"a"#.utf8) + raw + Array(#"b"}]}"#.utf8)
}

private func packet(_ attributes: String) -> String {
    #"{"id":"p","messages":[{"level":"INFO","message":"m","attributes":\#(attributes)}]}"#
}

private func nested(_ depth: Int) -> String {
    String(repeating: #"{"a":"#, count: depth) + "{}" + String(repeating: "}", count: depth)
}

@Suite struct PacketValidatorTests {
    static let good: [GoodPacket] = [
        GoodPacket(name: "minimal", body: #"{"id":"p",\#(oneMessage)}"#, packet: Packet(id: "p", messages: one)),
        GoodPacket(
            name: "full",
            body: #"""
                {"id":"p-1","timestamp":1732400000000,"source":"web-7",
                 "messages":[{"level":"INFO","message":"hello","timestamp":1732400000000,"attributes":{"k":"v"}}]}
                """#,
            packet: Packet(
                id: "p-1", timestamp: 1_732_400_000_000, source: "web-7",
                messages: [LogMessage(level: .info, message: "hello", timestamp: 1_732_400_000_000, attributeCount: 1)])
        ),
        GoodPacket(
            name: "raw unicode",
            body: #"{"id":"é日😀","source":"ß","messages":[{"level":"warn","message":"naïve ☃ 𝄞"}]}"#,
            packet: Packet(id: "é日😀", source: "ß", messages: [LogMessage(level: .warn, message: "naïve ☃ 𝄞")])),
        GoodPacket(
            name: "escapes",
            body: #"{"id":"a\"b","messages":[{"level":"INFO","message":"l1\nl2\t\\ \/ \u00e9 \ud83d\ude00 \u0000"}]}"#,
            packet: Packet(id: "a\"b", messages: [LogMessage(level: .info, message: "l1\nl2\t\\ / é 😀 \u{0}")])),
        GoodPacket(
            name: "unknown fields anywhere",
            body: #"""
                {"v":2,"id":"p","x":{"y":[1,-0.5e-3,true,false,null,"s",{"z":[]}],"big":123456789012345678901234567890},
                 "messages":[{"level":"INFO","message":"m","extra":{"a":[{}]},"n":null}],"tail":[]}
                """#,
            packet: Packet(id: "p", messages: one)),
        GoodPacket(
            name: "case-insensitive levels",
            body: #"""
                {"id":"p","messages":[{"level":"info","message":""},{"level":"Info","message":""},
                {"level":"tRaCe","message":""},{"level":"Debug","message":""},{"level":"wArN","message":""},
                {"level":"error","message":""},{"level":"FATAL","message":""},{"level":"\u0049nfo","message":""}]}
                """#,
            packet: Packet(
                id: "p",
                messages: [.info, .info, .trace, .debug, .warn, .error, .fatal, .info].map {
                    LogMessage(level: $0, message: "")
                })),
        GoodPacket(
            name: "null optional fields",
            body: #"""
                {"id":"p","timestamp":null,"source":null,
                 "messages":[{"level":"INFO","message":"m","timestamp":null,"attributes":null}]}
                """#,
            packet: Packet(id: "p", messages: one)),
        GoodPacket(
            name: "any order and whitespace",
            body: " \r\n\t{ \"messages\" : [ { \"message\" : \"m\" , \"level\" : \"INFO\" } ] ,\n \"id\" : \"p\" } \n",
            packet: Packet(id: "p", messages: one)),
        GoodPacket(
            name: "escaped key names", body: #"{"\u0069d":"p","m\u0065ssages":[{"l\u0065vel":"INFO","message":"m"}]}"#,
            packet: Packet(id: "p", messages: one)),
        GoodPacket(
            name: "timestamp bounds",
            body:
                #"{"id":"p","timestamp":0,"messages":[{"level":"INFO","message":"m","timestamp":9223372036854775807}]}"#,
            packet: Packet(
                id: "p", timestamp: 0, messages: [LogMessage(level: .info, message: "m", timestamp: Int64.max)])),
        GoodPacket(
            name: "id of 128 characters in 384 bytes", body: #"{"id":"\#(String(repeating: "€", count: 128))",\#(oneMessage)}"#,
            packet: Packet(id: String(repeating: "€", count: 128), messages: one)),
        GoodPacket(
            name: "integral timestamps written with a fraction or an exponent (JSON Schema integers)",
            body: #"{"id":"p","timestamp":15.0e2,"messages":[{"level":"INFO","message":"m","timestamp":100e-2}]}"#,
            packet: Packet(id: "p", timestamp: 1500, messages: [LogMessage(level: .info, message: "m", timestamp: 1)])),
        GoodPacket(
            name: "negative zero and zero fractions",
            body: #"{"id":"p","timestamp":-0,"messages":[{"level":"INFO","message":"m","timestamp":1.000000000000000000000000e12}]}"#,
            packet: Packet(
                id: "p", timestamp: 0, messages: [LogMessage(level: .info, message: "m", timestamp: 1_000_000_000_000)])),
        GoodPacket(
            name: "a message of 6 characters in 12 bytes within a limit of 6",
            body: #"{"id":"p","messages":[{"level":"INFO","message":"é\u00e9ééé\u00e9"}]}"#,
            packet: Packet(id: "p", messages: [LogMessage(level: .info, message: "éééééé")]),
            limits: limits { $0.maxMessageLength = 6 }),
        GoodPacket(
            name: "limits met exactly",
            body: #"{"id":"p","messages":[{"level":"INFO","message":"\n\n\n\n"},{"level":"INFO","message":"ééé"}]}"#,
            packet: Packet(
                id: "p",
                messages: [LogMessage(level: .info, message: "\n\n\n\n"), LogMessage(level: .info, message: "ééé")]
            ),
            limits: limits {
                $0.maxMessages = 2
                $0.maxMessageLength = 6
            }),
        GoodPacket(
            name: "nesting at maxDepth", body: packet(nested(2)),
            packet: Packet(id: "p", messages: [LogMessage(level: .info, message: "m", attributeCount: 1)]),
            limits: limits { $0.maxDepth = 6 }),
        GoodPacket(
            name: "many distinct keys",
            body: packet(
                "{" + (0..<100).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","k\u00310\u0030":1}"#),
            packet: Packet(id: "p", messages: [LogMessage(level: .info, message: "m", attributeCount: 101)])),
        GoodPacket(
            name: "distinct keys with escapes",
            body: packet(#"{"a":1,"\u0062":2,"a\n":3,"\"":4,"\u00e9":5,"é\u00e9":6}"#),
            packet: Packet(id: "p", messages: [LogMessage(level: .info, message: "m", attributeCount: 6)])),
    ]

    @Test(arguments: good)
    func acceptsValidPackets(_ good: GoodPacket) throws {
        let summary = try PacketValidator.validate(Array(good.body.utf8), limits: good.limits)
        #expect(
            summary
                == PacketSummary(
                    id: good.packet.id, messageCount: good.packet.messages.count, timestamp: good.packet.timestamp,
                    source: good.packet.source))
        #expect(try PacketValidator.decode(Array(good.body.utf8), limits: good.limits) == good.packet)
    }

    static let bad: [BadPacket] = [
        // Syntax: 400.
        BadPacket("empty body", "", "empty_body", nil, 400),
        BadPacket("whitespace-only body", " \r\n\t ", "empty_body", nil, 400),
        BadPacket("unclosed object", "{", "malformed_json", nil, 400),
        BadPacket("trailing comma", #"{"id":"p",\#(oneMessage),}"#, "malformed_json", nil, 400),
        BadPacket(
            "trailing comma in array", #"{"id":"p","messages":[{"level":"INFO","message":"m"},]}"#,
            "malformed_json", "messages[1]", 400),
        BadPacket("missing comma", #"{"id":"p" \#(oneMessage)}"#, "malformed_json", "id", 400),
        BadPacket("single quotes", "{'id':'p'}", "malformed_json", nil, 400),
        BadPacket("unquoted key", #"{id:"p"}"#, "malformed_json", nil, 400),
        BadPacket("trailing garbage", #"{"id":"p",\#(oneMessage)} x"#, "malformed_json", nil, 400),
        BadPacket("two objects", #"{"id":"p",\#(oneMessage)}{}"#, "malformed_json", nil, 400),
        BadPacket(
            "byte order mark", [0xEF, 0xBB, 0xBF] + Array(#"{"id":"p",\#(oneMessage)}"#.utf8), "malformed_json", nil,
            400),
        BadPacket("leading zero", #"{"id":"p","timestamp":0123,\#(oneMessage)}"#, "malformed_json", "timestamp", 400),
        BadPacket("plus sign", #"{"id":"p","timestamp":+1,\#(oneMessage)}"#, "malformed_json", "timestamp", 400),
        BadPacket("NaN", #"{"id":"p","timestamp":NaN,\#(oneMessage)}"#, "malformed_json", "timestamp", 400),
        BadPacket("Infinity", #"{"id":"p","x":-Infinity,\#(oneMessage)}"#, "malformed_json", "x", 400),
        BadPacket("bare fraction dot", #"{"id":"p","x":1.,\#(oneMessage)}"#, "malformed_json", "x", 400),
        BadPacket("leading dot", #"{"id":"p","x":.5,\#(oneMessage)}"#, "malformed_json", "x", 400),
        BadPacket("empty exponent", #"{"id":"p","x":1e,\#(oneMessage)}"#, "malformed_json", "x", 400),
        BadPacket("truncated literal", #"{"id":"p","x":tru,\#(oneMessage)}"#, "malformed_json", "x", 400),
        BadPacket("unterminated string", #"{"id":"abc"#, "malformed_json", "id", 400),
        BadPacket("invalid escape", #"{"id":"a\x",\#(oneMessage)}"#, "malformed_json", "id", 400),
        BadPacket("short \\u escape", #"{"id":"a\u12",\#(oneMessage)}"#, "malformed_json", "id", 400),
        BadPacket(
            "lone high surrogate", #"{"id":"p","messages":[{"level":"INFO","message":"a\ud800"}]}"#,
            "malformed_json", "messages[0].message", 400),
        BadPacket("lone low surrogate", #"{"id":"\udc00",\#(oneMessage)}"#, "malformed_json", "id", 400),
        BadPacket("high surrogate then BMP", #"{"id":"\ud83d\u0041",\#(oneMessage)}"#, "malformed_json", "id", 400),
        BadPacket("raw tab in string", messageWith([0x09]), "malformed_json", "messages[0].message", 400),
        BadPacket("raw newline in string", messageWith([0x0A]), "malformed_json", "messages[0].message", 400),
        BadPacket("raw NUL in key", Array(#"{"i"#.utf8) + [0] + Array(#"d":"p"}"#.utf8), "malformed_json", nil, 400),
        BadPacket(
            "UTF-8 outside strings", Array(#"{"id":"p","#.utf8) + [0xC3, 0xA9] + Array(oneMessage.utf8) + [0x7D],
            "malformed_json", nil, 400),
        BadPacket("invalid UTF-8 0xFF", messageWith([0xFF]), "invalid_utf8", "messages[0].message", 400),
        BadPacket(
            "invalid UTF-8 0xF5", messageWith([0xF5, 0x80, 0x80, 0x80]), "invalid_utf8", "messages[0].message", 400),
        BadPacket("lone continuation byte", messageWith([0x80]), "invalid_utf8", "messages[0].message", 400),
        BadPacket("overlong 2-byte '/'", messageWith([0xC0, 0xAF]), "invalid_utf8", "messages[0].message", 400),
        BadPacket("overlong 3-byte", messageWith([0xE0, 0x80, 0xAF]), "invalid_utf8", "messages[0].message", 400),
        BadPacket(
            "overlong 4-byte", messageWith([0xF0, 0x80, 0x80, 0xAF]), "invalid_utf8", "messages[0].message", 400),
        BadPacket(
            "UTF-8 encoded surrogate", messageWith([0xED, 0xA0, 0x80]), "invalid_utf8", "messages[0].message", 400),
        BadPacket("above U+10FFFF", messageWith([0xF4, 0x90, 0x80, 0x80]), "invalid_utf8", "messages[0].message", 400),
        BadPacket("truncated sequence", messageWith([0xE2, 0x82]), "invalid_utf8", "messages[0].message", 400),
        BadPacket("truncated at end of body", Array(#"{"id":"p"#.utf8) + [0xE2], "invalid_utf8", "id", 400),
        BadPacket(
            "invalid UTF-8 in a key", Array(#"{"#.utf8) + [0x22, 0xC3, 0x28, 0x22] + Array(#":1}"#.utf8),
            "invalid_utf8", nil, 400),
        BadPacket("duplicate top-level key", #"{"id":"p","id":"q",\#(oneMessage)}"#, "duplicate_key", "id", 400),
        BadPacket(
            "duplicate key spelled with escape", #"{"id":"p","i\u0064":"q",\#(oneMessage)}"#, "duplicate_key", "id", 400
        ),
        BadPacket(
            "duplicate key in message", #"{"id":"p","messages":[{"level":"INFO","level":"INFO","message":"m"}]}"#,
            "duplicate_key", "messages[0].level", 400),
        BadPacket(
            "duplicate key in attributes", packet(#"{"k":1,"j":2,"k":3}"#), "duplicate_key",
            "messages[0].attributes.k", 400),
        BadPacket(
            "duplicate key deep in unknown field", #"{"id":"p","x":{"y":[0,{"z":1,"z":2}]},\#(oneMessage)}"#,
            "duplicate_key", "x.y[1].z", 400),
        BadPacket(
            "duplicate key in a big object",
            packet("{" + (0..<40).map { #""k\#($0)":0"# }.joined(separator: ",") + #","k0":1}"#),
            "duplicate_key", "messages[0].attributes.k0", 400),
        BadPacket(
            "nesting one past maxDepth", packet(nested(3)), "too_deep", "messages[0].attributes.a.a.a", 400,
            limits: limits { $0.maxDepth = 6 }),
        BadPacket(
            "deeply nested attributes", packet(nested(40)), "too_deep",
            "messages[0].attributes" + String(repeating: ".a", count: 29), 400),
        BadPacket(
            "deeply nested unknown array",
            #"{"id":"p","x":\#(String(repeating: "[", count: 40))"#, "too_deep",
            "x" + String(repeating: "[0]", count: 31), 400),
        BadPacket(
            "100k open brackets", "[" + String(repeating: "[", count: 100_000), "too_deep",
            String(repeating: "[0]", count: 32), 400),
        BadPacket("syntax error wins over semantic one", #"{"id":5,"messages":[]"#, "malformed_json", "messages", 400),
        // Semantics: 422.
        BadPacket("top-level array", "[1]", "wrong_type", nil, 422),
        BadPacket("top-level string", #""p""#, "wrong_type", nil, 422),
        BadPacket("top-level null", "null", "wrong_type", nil, 422),
        BadPacket("empty object", "{}", "missing_field", "id", 422),
        BadPacket("missing id", "{\(oneMessage)}", "missing_field", "id", 422),
        BadPacket("null id", #"{"id":null,\#(oneMessage)}"#, "wrong_type", "id", 422),
        BadPacket("numeric id", #"{"id":7,\#(oneMessage)}"#, "wrong_type", "id", 422),
        BadPacket("empty id", #"{"id":"",\#(oneMessage)}"#, "invalid_value", "id", 422),
        BadPacket(
            "id too long", #"{"id":"\#(String(repeating: "x", count: 129))",\#(oneMessage)}"#, "invalid_value", "id",
            422),
        BadPacket(
            "id too long in characters", #"{"id":"\#(String(repeating: "€", count: 129))",\#(oneMessage)}"#,
            "invalid_value", "id", 422),
        BadPacket(
            "id too long in characters, escaped", #"{"id":"\#(String(repeating: #"\u20ac"#, count: 129))",\#(oneMessage)}"#,
            "invalid_value", "id", 422),
        BadPacket("missing messages", #"{"id":"p"}"#, "missing_field", "messages", 422),
        BadPacket("null messages", #"{"id":"p","messages":null}"#, "wrong_type", "messages", 422),
        BadPacket("object messages", #"{"id":"p","messages":{}}"#, "wrong_type", "messages", 422),
        BadPacket("empty messages", #"{"id":"p","messages":[]}"#, "invalid_value", "messages", 422),
        BadPacket(
            "message not an object", #"{"id":"p","messages":[{"level":"INFO","message":"m"},"x"]}"#,
            "wrong_type", "messages[1]", 422),
        BadPacket(
            "missing level", #"{"id":"p","messages":[{"message":"m"}]}"#, "missing_field", "messages[0].level", 422),
        BadPacket(
            "missing message", #"{"id":"p","messages":[{"level":"INFO","message":"m"},{"level":"INFO"}]}"#,
            "missing_field", "messages[1].message", 422),
        BadPacket(
            "unknown level", #"{"id":"p","messages":[{"level":"WARNING","message":"m"}]}"#, "invalid_value",
            "messages[0].level", 422),
        BadPacket(
            "empty level", #"{"id":"p","messages":[{"level":"","message":"m"}]}"#, "invalid_value",
            "messages[0].level", 422),
        BadPacket(
            "numeric level", #"{"id":"p","messages":[{"level":3,"message":"m"}]}"#, "wrong_type", "messages[0].level",
            422),
        BadPacket(
            "null level", #"{"id":"p","messages":[{"level":null,"message":"m"}]}"#, "wrong_type",
            "messages[0].level", 422),
        BadPacket(
            "null message", #"{"id":"p","messages":[{"level":"INFO","message":null}]}"#, "wrong_type",
            "messages[0].message", 422),
        BadPacket(
            "numeric message", #"{"id":"p","messages":[{"level":"INFO","message":1}]}"#, "wrong_type",
            "messages[0].message", 422),
        BadPacket(
            "too many messages",
            #"{"id":"p","messages":[\#(Array(repeating: "{\"level\":\"INFO\",\"message\":\"m\"}", count: 4).joined(separator: ","))]}"#,
            "too_many_messages", "messages", 422, limits: limits { $0.maxMessages = 3 }),
        BadPacket(
            "message too long", #"{"id":"p","messages":[{"level":"INFO","message":"0123456789a"}]}"#, "too_large",
            "messages[0].message", 422, limits: limits { $0.maxMessageLength = 10 }),
        BadPacket(
            "message too long in characters", #"{"id":"p","messages":[{"level":"INFO","message":"é\u00e9ééé\u00e9"}]}"#,
            "too_large", "messages[0].message", 422, limits: limits { $0.maxMessageLength = 5 }),
        BadPacket(
            "fractional timestamp", #"{"id":"p","timestamp":1.5,\#(oneMessage)}"#, "wrong_type", "timestamp", 422),
        BadPacket("small exponent timestamp", #"{"id":"p","timestamp":1e-1,\#(oneMessage)}"#, "wrong_type", "timestamp", 422),
        BadPacket("fraction with exponent", #"{"id":"p","timestamp":2.55e1,\#(oneMessage)}"#, "wrong_type", "timestamp", 422),
        BadPacket(
            "integral but past Int64", #"{"id":"p","timestamp":1e19,\#(oneMessage)}"#, "invalid_value", "timestamp", 422),
        BadPacket("string timestamp", #"{"id":"p","timestamp":"1",\#(oneMessage)}"#, "wrong_type", "timestamp", 422),
        BadPacket(
            "negative timestamp", #"{"id":"p","timestamp":-1,\#(oneMessage)}"#, "invalid_value", "timestamp", 422),
        BadPacket(
            "timestamp past Int64", #"{"id":"p","timestamp":9223372036854775808,\#(oneMessage)}"#,
            "invalid_value", "timestamp", 422),
        BadPacket(
            "huge timestamp", #"{"id":"p","timestamp":\#(String(repeating: "9", count: 400)),\#(oneMessage)}"#,
            "invalid_value", "timestamp", 422),
        BadPacket(
            "negative message timestamp", #"{"id":"p","messages":[{"level":"INFO","message":"m","timestamp":-5}]}"#,
            "invalid_value", "messages[0].timestamp", 422),
        BadPacket("numeric source", #"{"id":"p","source":1,\#(oneMessage)}"#, "wrong_type", "source", 422),
        BadPacket("array attributes", packet("[]"), "wrong_type", "messages[0].attributes", 422),
        BadPacket("string attributes", packet(#""k=v""#), "wrong_type", "messages[0].attributes", 422),
        BadPacket("first problem in document order", #"{"id":"","messages":[]}"#, "invalid_value", "id", 422),
        // Size: 413.
        BadPacket(
            "body too large", #"{"id":"p",\#(oneMessage)}"#, "too_large", nil, 413,
            limits: limits { $0.maxBodyBytes = 10 }),
    ]

    @Test(arguments: bad)
    func rejectsInvalidPackets(_ bad: BadPacket) {
        let error = #expect(throws: ValidationError.self) { try PacketValidator.validate(bad.body, limits: bad.limits) }
        #expect(error?.error == bad.error)
        #expect(error?.field == bad.field)
        #expect(error?.status == bad.status)
        #expect(error?.detail.isEmpty == false)
        // The analyser's decode follows exactly the same rules.
        let decodeError = #expect(throws: ValidationError.self) {
            try PacketValidator.decode(bad.body, limits: bad.limits)
        }
        #expect(decodeError == error)
    }

    @Test func nestingIsNotLimitedByTheCallStack() throws {
        var limits = PacketLimits()
        limits.maxDepth = 1_000_000
        let depth = 200_000
        let body = packet(#"{"a":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}")
        #expect(try PacketValidator.validate(Array(body.utf8), limits: limits).messageCount == 1)
    }

    @Test func validatesFromARawBufferSlice() throws {
        let body = Array(("xx" + #"{"id":"p",\#(oneMessage)}"# + "yy").utf8)
        let summary = try body.withUnsafeBytes { raw in
            try PacketValidator.validate(UnsafeRawBufferPointer(rebasing: raw[2..<(raw.count - 2)]), limits: .init())
        }
        #expect(summary == PacketSummary(id: "p", messageCount: 1))
    }

    @Test func decodeUnescapesMessageText() throws {
        let body =
            #"{"id":"p","messages":[{"level":"INFO","message":"a\nb \u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\r\t \u20AC\uFFFF"}]}"#
        let packet = try PacketValidator.decode(Array(body.utf8), limits: .init())
        #expect(packet.messages.first?.message == "a\nb é 😀 \"q\" \\ / \u{8}\u{c}\r\t €\u{FFFF}")
    }
}

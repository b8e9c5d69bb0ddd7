import Testing

@testable import PacketModel

/// A batch body and the exact text of each element it must split into.
struct BatchCase: Sendable, CustomTestStringConvertible {
    var name: String
    var body: String
    var elements: [String]
    var testDescription: String { name }
}

/// A batch body and the rejection it must get.
struct BadBatch: Sendable, CustomTestStringConvertible {
    var name: String
    var body: String
    var error: String
    var field: String?
    var status: Int
    var limits = PacketLimits()
    var testDescription: String { name }
}

private func texts(_ body: [UInt8], _ ranges: [Range<Int>]) -> [String] {
    ranges.map { String(decoding: body[$0], as: UTF8.self) }
}

extension PacketValidatorTests {
    static let arrays: [BatchCase] = [
        BatchCase(name: "one packet", body: #"[{"id":"p"}]"#, elements: [#"{"id":"p"}"#]),
        BatchCase(
            name: "whitespace trimmed", body: " \n[ \t{\"a\":1} ,\r\n {\"b\":2}\n ] \n",
            elements: [#"{"a":1}"#, #"{"b":2}"#]),
        BatchCase(
            name: "brackets, commas and newlines inside strings",
            body: #"[{"a":"]","b":","},{"c":"}\n],[\"","d":[1,[2,{"e":"]]"}]]},{"f":"\\"}]"#,
            elements: [#"{"a":"]","b":","}"#, #"{"c":"}\n],[\"","d":[1,[2,{"e":"]]"}]]}"#, #"{"f":"\\"}"#]),
        BatchCase(
            name: "non-objects are split too", body: #"[1,"x",[],null]"#, elements: ["1", #""x""#, "[]", "null"]),
    ]

    @Test(arguments: arrays)
    func splitsArrays(_ batch: BatchCase) throws {
        let body = Array(batch.body.utf8)
        let ranges = try body.withUnsafeBytes { raw in try PacketValidator.splitArray(raw, limits: .init()) }
        #expect(texts(body, ranges) == batch.elements)
    }

    static let badArrays: [BadBatch] = [
        BadBatch(name: "empty body", body: "", error: "empty_body", field: nil, status: 400),
        BadBatch(name: "empty array", body: " [ \n ] ", error: "empty_batch", field: nil, status: 422),
        BadBatch(name: "an object", body: #"{"id":"p"}"#, error: "malformed_json", field: nil, status: 400),
        BadBatch(name: "trailing comma", body: "[{},]", error: "malformed_json", field: "[1]", status: 400),
        BadBatch(name: "missing comma", body: "[{} {}]", error: "malformed_json", field: "[0]", status: 400),
        BadBatch(name: "unclosed", body: "[{}", error: "malformed_json", field: "[0]", status: 400),
        BadBatch(name: "trailing garbage", body: "[{}] x", error: "malformed_json", field: nil, status: 400),
        BadBatch(name: "garbage after empty array", body: "[] x", error: "malformed_json", field: nil, status: 400),
        BadBatch(
            name: "duplicate key in element", body: #"[{},{"a":{"b":1,"b":2}}]"#, error: "duplicate_key",
            field: "[1].a.b", status: 400),
        BadBatch(
            name: "element too deep", body: #"[{"a":{"b":{}}}]"#, error: "too_deep", field: "[0].a.b", status: 400,
            limits: {
                var l = PacketLimits()
                l.maxDepth = 2
                return l
            }()),
        BadBatch(
            name: "too large", body: "[{},{}]", error: "too_large", field: nil, status: 413,
            limits: {
                var l = PacketLimits()
                l.maxBodyBytes = 6
                return l
            }()),
    ]

    @Test(arguments: badArrays)
    func rejectsBadArrays(_ batch: BadBatch) {
        let body = Array(batch.body.utf8)
        let error = #expect(throws: ValidationError.self) {
            try body.withUnsafeBytes { raw in try PacketValidator.splitArray(raw, limits: batch.limits) }
        }
        #expect(error?.error == batch.error)
        #expect(error?.field == batch.field)
        #expect(error?.status == batch.status)
    }

    @Test func arrayElementsNestAsDeepAsLonePackets() throws {
        var limits = PacketLimits()
        limits.maxDepth = 2
        let body = Array(#"[{"a":{}}]"#.utf8)
        let ranges = try body.withUnsafeBytes { raw in try PacketValidator.splitArray(raw, limits: limits) }
        #expect(texts(body, ranges) == [#"{"a":{}}"#])
    }

    @Test func splitElementsValidateAsPackets() throws {
        let body = Array(
            #"[ {"id":"a","messages":[{"level":"INFO","message":"]"}]}, {"id":"b","messages":[{"level":"ERROR","message":"x"}]} ]"#
                .utf8)
        let ids = try body.withUnsafeBytes { raw in
            try PacketValidator.splitArray(raw, limits: .init()).map {
                try PacketValidator.validate(UnsafeRawBufferPointer(rebasing: raw[$0]), limits: .init()).id
            }
        }
        #expect(ids == ["a", "b"])
    }

    static let ndjson: [BatchCase] = [
        BatchCase(name: "one line, no newline", body: #"{"a":1}"#, elements: [#"{"a":1}"#]),
        BatchCase(name: "LF", body: "{\"a\":1}\n{\"b\":2}\n", elements: [#"{"a":1}"#, #"{"b":2}"#]),
        BatchCase(name: "CRLF", body: "{\"a\":1}\r\n{\"b\":2}\r\n", elements: [#"{"a":1}"#, #"{"b":2}"#]),
        BatchCase(
            name: "blank lines skipped", body: "\n\r\n  \t\n{\"a\":1}\n \r\n{\"b\":2}\n\n",
            elements: [#"{"a":1}"#, #"{"b":2}"#]),
        BatchCase(name: "escaped newline stays in its line", body: "{\"a\":\"x\\ny\"}\n", elements: [#"{"a":"x\ny"}"#]),
        BatchCase(name: "inner spaces kept", body: "  {} \r\n", elements: ["  {} "]),
        BatchCase(name: "lone CR is not a line end", body: "a\rb\n", elements: ["a\rb"]),
    ]

    @Test(arguments: ndjson)
    func splitsLines(_ batch: BatchCase) throws {
        let body = Array(batch.body.utf8)
        let ranges = try body.withUnsafeBytes { raw in try PacketValidator.splitLines(raw) }
        #expect(texts(body, ranges) == batch.elements)
    }

    @Test(arguments: ["", "\n", "\r\n\r\n", " \t \n \r\n"])
    func rejectsBlankNDJSON(_ body: String) {
        let error = #expect(throws: ValidationError.self) {
            try Array(body.utf8).withUnsafeBytes { raw in try PacketValidator.splitLines(raw) }
        }
        #expect(error?.error == "empty_batch")
        #expect(error?.status == 422)
        #expect(error?.field == nil)
    }
}

// libFuzzer target for the packet validator (Sources/PacketModel). Built by fuzz/run.sh together with the model
// files into one module, so no package build is involved:
//
//     swiftc -sanitize=fuzzer,address -parse-as-library -O Sources/PacketModel/{...}.swift fuzz/PacketFuzzer.swift
//
// Every input goes through both `validate` overloads, `decode`, `splitArray` and `splitLines`, under the default
// limits and under tiny ones, and the results are checked against each other. A broken invariant calls
// `fatalError`, which libFuzzer records as a crash (artifact `crash-…`); a trap or an out-of-bounds access inside the
// validator is caught by the Swift runtime or AddressSanitizer the same way.

/// Limits small enough that random inputs reach every limit check.
let tinyLimits: PacketLimits = {
    var limits = PacketLimits()
    limits.maxBodyBytes = 512
    limits.maxMessages = 2
    limits.maxMessageBytes = 8
    limits.maxIDBytes = 4
    limits.maxDepth = 3
    return limits
}()

let defaultLimits = PacketLimits()

/// The error codes and the status each one may carry (ValidationError's table).
let statusesByCode: [String: Set<Int>] = [
    "empty_body": [400], "malformed_json": [400], "invalid_utf8": [400], "duplicate_key": [400], "too_deep": [400],
    "missing_field": [422], "wrong_type": [422], "invalid_value": [422], "too_many_messages": [422],
    "empty_batch": [422], "too_large": [413, 422],
]

@inline(never)
func violation(_ what: String, _ bytes: [UInt8]) -> Never {
    let shown = bytes.prefix(256).map { String($0) }.joined(separator: ", ")
    fatalError("packet fuzzer invariant broken: \(what)\ninput (\(bytes.count) bytes, first 256): [\(shown)]")
}

func checkErrorShape(_ error: ValidationError, _ context: String, _ bytes: [UInt8]) {
    guard let statuses = statusesByCode[error.error] else {
        violation("\(context): unknown error code \(error.error) (\(error))", bytes)
    }
    guard statuses.contains(error.status) else {
        violation("\(context): \(error.error) carries status \(error.status) (\(error))", bytes)
    }
    if error.detail.isEmpty { violation("\(context): empty detail (\(error))", bytes) }
    if let field = error.field, field.isEmpty { violation("\(context): empty field path (\(error))", bytes) }
}

/// Runs the three single-packet entry points and checks that they agree; returns the summary or the error.
@discardableResult
func checkPacket(_ bytes: [UInt8], limits: PacketLimits, _ label: String) -> Result<PacketSummary, ValidationError> {
    let viaRaw = bytes.withUnsafeBytes { raw in
        Result { () throws(ValidationError) in try PacketValidator.validate(raw, limits: limits) }
    }
    let viaArray = Result { () throws(ValidationError) in try PacketValidator.validate(bytes, limits: limits) }
    let decoded = Result { () throws(ValidationError) in try PacketValidator.decode(bytes, limits: limits) }

    switch (viaRaw, viaArray, decoded) {
    case (.success(let summary), .success(let other), .success(let packet)):
        guard summary == other else { violation("\(label): validate overloads differ: \(summary) vs \(other)", bytes) }
        guard packet.id == summary.id, packet.messages.count == summary.messageCount,
            packet.timestamp == summary.timestamp, packet.source == summary.source
        else {
            violation(
                "\(label): validate and decode differ: \(summary) vs id \(packet.id), "
                    + "\(packet.messages.count) messages, ts \(String(describing: packet.timestamp)), "
                    + "source \(String(describing: packet.source))", bytes)
        }
        let idBytes = packet.id.utf8.count
        guard idBytes >= 1, idBytes <= limits.maxIDBytes else {
            violation("\(label): accepted an id of \(idBytes) bytes", bytes)
        }
        guard packet.messages.count >= 1, packet.messages.count <= limits.maxMessages else {
            violation("\(label): accepted \(packet.messages.count) messages", bytes)
        }
        for (index, message) in packet.messages.enumerated() where message.message.utf8.count > limits.maxMessageBytes {
            violation("\(label): accepted messages[\(index)] of \(message.message.utf8.count) bytes", bytes)
        }
        if let timestamp = packet.timestamp, timestamp < 0 {
            violation("\(label): accepted a negative timestamp \(timestamp)", bytes)
        }
        for message in packet.messages {
            if let timestamp = message.timestamp, timestamp < 0 {
                violation("\(label): accepted a negative message timestamp \(timestamp)", bytes)
            }
            if message.attributeCount < 0 { violation("\(label): negative attribute count", bytes) }
        }
        return .success(summary)
    case (.failure(let error), .failure(let other), .failure(let third)):
        guard error == other, error == third else {
            violation("\(label): errors differ: validate(raw) \(error) / validate([UInt8]) \(other) / decode \(third)", bytes)
        }
        checkErrorShape(error, label, bytes)
        if error.error == "empty_batch" { violation("\(label): a single packet got empty_batch", bytes) }
        if error.status == 413, bytes.count <= limits.maxBodyBytes {
            violation("\(label): 413 for \(bytes.count) bytes under a limit of \(limits.maxBodyBytes)", bytes)
        }
        return .failure(error)
    default:
        violation(
            "\(label): one entry point accepted and another refused: validate(raw) \(viaRaw), "
                + "validate([UInt8]) \(viaArray), decode \(decoded.map { "\($0.id), \($0.messages.count) messages" })",
            bytes)
    }
}

func isJSONWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

/// Ranges must be non-empty, inside the body, strictly increasing and disjoint.
func checkRanges(_ ranges: [Range<Int>], count: Int, _ label: String, _ bytes: [UInt8]) {
    var previousEnd = -1
    for (index, range) in ranges.enumerated() {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            violation("\(label): range \(index) \(range) outside 0..<\(count)", bytes)
        }
        guard !range.isEmpty else { violation("\(label): range \(index) is empty", bytes) }
        guard range.lowerBound > previousEnd || (index == 0 && range.lowerBound >= 0) else {
            violation("\(label): range \(index) \(range) overlaps or precedes the one ending at \(previousEnd)", bytes)
        }
        previousEnd = range.upperBound
    }
}

func checkSplitArray(_ bytes: [UInt8], limits: PacketLimits, _ label: String) {
    let split = bytes.withUnsafeBytes { raw in
        Result { () throws(ValidationError) in try PacketValidator.splitArray(raw, limits: limits) }
    }
    switch split {
    case .success(let ranges):
        if ranges.isEmpty { violation("\(label): splitArray returned no ranges without empty_batch", bytes) }
        checkRanges(ranges, count: bytes.count, label, bytes)
        // Consecutive elements are separated by at least a comma.
        for (index, range) in ranges.enumerated() {
            if isJSONWhitespace(bytes[range.lowerBound]) || isJSONWhitespace(bytes[range.upperBound - 1]) {
                violation("\(label): element \(index) \(range) starts or ends with whitespace", bytes)
            }
            if index > 0, range.lowerBound <= ranges[index - 1].upperBound {
                violation("\(label): elements \(index - 1) and \(index) are not separated", bytes)
            }
            // The array was checked to be well-formed JSON, so each element alone can only fail on semantics.
            let element = Array(bytes[range])
            if case .failure(let error) = checkPacket(element, limits: limits, "\(label)[\(index)]"), error.status != 422 {
                violation("\(label): element \(index) passed the split but alone is a syntax error: \(error)", bytes)
            }
        }
    case .failure(let error):
        checkErrorShape(error, "\(label) splitArray", bytes)
        if ["missing_field", "wrong_type", "invalid_value", "too_many_messages"].contains(error.error) {
            violation("\(label): splitArray judged packet semantics: \(error)", bytes)
        }
    }
}

func checkSplitLines(_ bytes: [UInt8], _ label: String) {
    let split = bytes.withUnsafeBytes { raw in
        Result { () throws(ValidationError) in try PacketValidator.splitLines(raw) }
    }
    // An independent count of the lines that hold something other than spaces, tabs and carriage returns.
    var expected = 0
    var blank = true
    for byte in bytes {
        if byte == 0x0A {
            if !blank { expected += 1 }
            blank = true
        } else if byte != 0x20, byte != 0x09, byte != 0x0D {
            blank = false
        }
    }
    if !blank { expected += 1 }
    switch split {
    case .success(let ranges):
        checkRanges(ranges, count: bytes.count, label, bytes)
        guard ranges.count == expected else {
            violation("\(label): splitLines found \(ranges.count) lines, expected \(expected)", bytes)
        }
        for (index, range) in ranges.enumerated() {
            if bytes[range].contains(0x0A) { violation("\(label): line \(index) \(range) holds a newline", bytes) }
            if bytes[range].allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                violation("\(label): line \(index) \(range) is blank", bytes)
            }
        }
    case .failure(let error):
        guard error == .emptyBatch, expected == 0 else {
            violation("\(label): splitLines threw \(error) with \(expected) non-blank lines", bytes)
        }
    }
}

/// A packet that validates alone must come back as the one element of `[packet]`, byte for byte.
func checkWrapped(_ bytes: [UInt8]) {
    var start = 0
    var end = bytes.count
    while start < end, isJSONWhitespace(bytes[start]) { start += 1 }
    while end > start, isJSONWhitespace(bytes[end - 1]) { end -= 1 }
    let wrapped: [UInt8] = [0x5B] + bytes + [0x5D]
    var limits = defaultLimits
    limits.maxBodyBytes = wrapped.count
    let split = wrapped.withUnsafeBytes { raw in
        Result { () throws(ValidationError) in try PacketValidator.splitArray(raw, limits: limits) }
    }
    guard case .success(let ranges) = split else {
        violation("a valid packet wrapped in [ ] did not split: \(split)", bytes)
    }
    guard ranges == [(start + 1)..<(end + 1)] else {
        violation("a valid packet wrapped in [ ] split into \(ranges), expected \((start + 1)..<(end + 1))", bytes)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    let full = checkPacket(bytes, limits: defaultLimits, "default")
    let tiny = checkPacket(bytes, limits: tinyLimits, "tiny")
    // Tighter limits can only refuse more; what passes them passes the defaults, with the same summary.
    if case .success(let small) = tiny {
        guard case .success(let big) = full, big == small else {
            violation("accepted under tiny limits (\(small)) but not identically under the defaults (\(full))", bytes)
        }
    }
    // Syntax does not depend on the semantic limits: a 400 under the defaults is a 400 under tiny limits.
    if case .failure(let error) = full, error.status == 400, bytes.count <= tinyLimits.maxBodyBytes {
        guard case .failure(let other) = tiny, other.status == 400 else {
            violation("a 400 under the defaults (\(error)) but \(tiny) under tiny limits", bytes)
        }
    }
    if case .success = full { checkWrapped(bytes) }

    checkSplitArray(bytes, limits: defaultLimits, "array/default")
    checkSplitArray(bytes, limits: tinyLimits, "array/tiny")
    checkSplitLines(bytes, "lines")
    return 0
}

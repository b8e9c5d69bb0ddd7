/// The severity of one log message; the wire accepts the six names in any letter case.
public enum LogLevel: String, Sendable, CaseIterable, Codable {
    case trace = "TRACE"
    case debug = "DEBUG"
    case info = "INFO"
    case warn = "WARN"
    case error = "ERROR"
    case fatal = "FATAL"

    /// The level named by `bytes` in any ASCII letter case, or nil; only the six names match ("WARNING" does not).
    init?(caseInsensitive bytes: some Collection<UInt8>) {
        guard bytes.count == 4 || bytes.count == 5 else { return nil }
        // Pack the lowercased bytes into one integer: comparing against six constants beats building a String.
        var packed: UInt64 = 0
        for byte in bytes {
            let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            packed = packed << 8 | UInt64(lower)
        }
        switch packed {
        case 0x74_7261_6365: self = .trace  // "trace"
        case 0x64_6562_7567: self = .debug  // "debug"
        case 0x696E_666F: self = .info  // "info"
        case 0x7761_726E: self = .warn  // "warn"
        case 0x65_7272_6F72: self = .error  // "error"
        case 0x66_6174_616C: self = .fatal  // "fatal"
        default: return nil
        }
    }
}

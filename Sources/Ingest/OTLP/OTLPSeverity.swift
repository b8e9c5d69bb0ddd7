import PacketModel
import OTLPProto

/// OTLP severity → logdist level: the log data model's six ranges of four numbers each; an unspecified (or unknown)
/// number falls back to the severity text, then to INFO.
enum OTLPSeverity {
    /// The level of a record with `number` and `text`.
    static func level(number: Int, text: String) -> LogLevel {
        switch number {
        case 1...4: return .trace
        case 5...8: return .debug
        case 9...12: return .info
        case 13...16: return .warn
        case 17...20: return .error
        case 21...24: return .fatal
        default: return level(text: text) ?? .info
        }
    }

    static func level(_ number: OTLPSeverityNumber, text: String) -> LogLevel {
        level(number: number.rawValue, text: text)
    }

    /// The level a severity text names: the six names, the data model's short names with a step (`INFO2`), and the
    /// common spellings of other libraries (WARNING, CRITICAL, …), in any letter case.
    static func level(text: String) -> LogLevel? {
        var name = text.trimmed.uppercased()
        while let last = name.last, last >= "1", last <= "4", name.count > 1 { name.removeLast() }
        switch name {
        case "TRACE", "FINEST", "FINER", "VERBOSE": return .trace
        case "DEBUG", "FINE", "CONFIG": return .debug
        case "INFO", "INFORMATION", "INFORMATIONAL", "NOTICE": return .info
        case "WARN", "WARNING": return .warn
        case "ERROR", "ERR", "SEVERE": return .error
        case "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERGENCY", "EMERG", "PANIC": return .fatal
        default: return nil
        }
    }
}

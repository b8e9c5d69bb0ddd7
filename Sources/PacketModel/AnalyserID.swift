/// What an analyser id may be: it names a consumer group, a key of the heartbeats topic, a path segment of the
/// dashboard's API and a metric label, so it stays short and plain.
public enum AnalyserID {
    public static let maxLength = 64

    /// nil when `id` is a valid analyser id, else what is wrong with it.
    public static func problem(with id: String) -> String? {
        if id.isEmpty { return "an analyser id must not be empty" }
        if id.utf8.count > maxLength { return "an analyser id has at most \(maxLength) characters (\(id) has \(id.utf8.count))" }
        let allowed = id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
        if !allowed { return "analyser id '\(id)' may hold only letters, digits, '-', '_' and '.'" }
        return nil
    }
}

/// Metadata keys for structured logs, shared by every service so logs can be queried by one name.
public enum LogKeys {
    public static let topic = "kafka.topic"
    public static let partition = "kafka.partition"
    public static let offset = "kafka.offset"
    public static let group = "kafka.group"
    public static let kafkaError = "kafka.error"
    public static let client = "kafka.client"
    public static let facility = "kafka.facility"
    public static let bootstrap = "kafka.bootstrap"
    public static let analyser = "analyser.id"
    public static let count = "count"
    public static let mode = "dispatcher.mode"
    public static let error = "error"
    public static let address = "http.address"
}

extension Duration {
    /// Whole milliseconds, clamped to `Int32`, for librdkafka's `int timeout_ms` arguments.
    public var milliseconds: Int32 {
        let (seconds, attos) = components
        return Int32(clamping: seconds * 1000 + attos / 1_000_000_000_000_000)
    }

    /// Whole microseconds, for latency histograms.
    public var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// Seconds as a floating-point number, for rates.
    public var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

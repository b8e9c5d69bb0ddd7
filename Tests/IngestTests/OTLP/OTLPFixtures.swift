import Foundation
import OTLPProto

/// Builders for OTLP requests in tests.
enum OTLPFixtures {
    static func string(_ text: String) -> OTLPAnyValue { .with { $0.stringValue = text } }

    static func pair(_ key: String, _ value: OTLPAnyValue) -> OTLPKeyValue {
        .with {
            $0.key = key
            $0.value = value
        }
    }

    static func record(
        _ body: String, severity: Int = 9, text: String = "", timeNanos: UInt64 = 1_732_400_000_123_456_789,
        attributes: [OTLPKeyValue] = []
    ) -> OTLPLogRecord {
        .with {
            $0.body = string(body)
            $0.severityNumber = OTLPSeverityNumber(rawValue: severity) ?? .unspecified
            $0.severityText = text
            $0.timeUnixNano = timeNanos
            $0.attributes = attributes
        }
    }

    static func request(service: String? = "checkout", scope: String = "app", records: [OTLPLogRecord]) -> OTLPExportLogsServiceRequest {
        .with {
            $0.resourceLogs = [
                .with {
                    if let service { $0.resource.attributes = [pair("service.name", string(service)), pair("host.name", string("h1"))] }
                    $0.scopeLogs = [
                        .with {
                            $0.scope.name = scope
                            $0.scope.version = "1.0"
                            $0.logRecords = records
                        }
                    ]
                }
            ]
        }
    }

    /// `count` INFO records `prefix-0`, `prefix-1`, …
    static func request(count: Int, prefix: String = "line", service: String = "checkout") -> OTLPExportLogsServiceRequest {
        request(service: service, records: (0..<count).map { record("\(prefix)-\($0)", timeNanos: 1_732_400_000_000_000_000 + UInt64($0)) })
    }
}

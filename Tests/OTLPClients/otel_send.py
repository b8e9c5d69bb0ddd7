#!/usr/bin/env python3
"""Sends logs to logdist with the stock OpenTelemetry Python SDK and its OTLP exporters, configured with only the
endpoint (OTLPExporterTests drives it; it runs by hand as well):

  otel_send.py --http http://127.0.0.1:8080 --grpc http://127.0.0.1:4317 --json http://127.0.0.1:8080 \
               --count 500 --retry 20

* --http: N records through Python logging -> LoggingHandler -> BatchLogRecordProcessor -> OTLP/HTTP protobuf
  exporter (OTEL_EXPORTER_OTLP_ENDPOINT=<url>; the exporter appends /v1/logs), service.name "py-http".
* --grpc: N more the same way through the OTLP/gRPC exporter, service.name "py-grpc".
* --json: N/10 records as one OTLP JSON request (a raw POST of /v1/logs), service.name "py-json".
* --retry: R records exported twice through the HTTP exporter and once through the gRPC one, with the same
  batch, as an exporter's retry sends it: logdist must count them once. service.name "py-retry".

Levels cycle DEBUG, INFO, WARNING, ERROR, CRITICAL. Prints one JSON line: what was sent and what failed.
"""
import argparse
import json
import logging
import os
import sys
import time
import urllib.request

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]


class Counting:
    """Wraps an exporter to count what it exported and what failed (the batch processor only logs failures)."""

    def __init__(self, inner):
        self.inner, self.exported, self.failed = inner, 0, 0

    def export(self, batch):
        result = self.inner.export(batch)
        if result == LogRecordExportResult.SUCCESS:
            self.exported += len(batch)
        else:
            self.failed += len(batch)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def emit(exporter, service, count, prefix):
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    counting = Counting(exporter)
    provider.add_log_record_processor(BatchLogRecordProcessor(counting, max_export_batch_size=256, schedule_delay_millis=100))
    log = logging.getLogger(prefix)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    for i in range(count):
        log.log(LEVELS[i % 5], "%s record %d took %d ms", prefix, i, i % 97, extra={"seq": i, "transport": prefix})
    provider.force_flush()
    provider.shutdown()
    return {"sent": count, "exported": counting.exported, "failed": counting.failed}


def retry_batch(count):
    """R records captured in memory: the batch an exporter would send, and send again on a retry."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "py-retry"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    log = logging.getLogger("retry")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    for i in range(count):
        log.log(LEVELS[i % 5], "retried record %d", i)
    provider.force_flush()
    return memory.get_finished_logs()


def json_request(url, count):
    now = time.time_ns()
    records = [
        {
            "timeUnixNano": str(now + i),
            "severityNumber": [5, 9, 13, 17, 21][i % 5],
            "severityText": ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"][i % 5],
            "body": {"stringValue": f"json record {i}"},
            "attributes": [{"key": "seq", "value": {"intValue": str(i)}}],
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
        }
        for i in range(count)
    ]
    body = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "py-json"}}]},
                "scopeLogs": [{"scope": {"name": "raw"}, "logRecords": records}],
            }
        ]
    }
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/logs", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read() or b"{}")
        return {"sent": count, "status": response.status, "answer": answer}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http")
    parser.add_argument("--grpc")
    parser.add_argument("--json")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--retry", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = {}
    http_exporter = grpc_exporter = None
    if args.http:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.http
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        report["http"] = emit(OTLPLogExporter(), "py-http", args.count, "http")
        http_exporter = OTLPLogExporter()
    if args.grpc:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GRPCLogExporter

        report["grpc"] = emit(GRPCLogExporter(endpoint=args.grpc), "py-grpc", args.count, "grpc")
        grpc_exporter = GRPCLogExporter(endpoint=args.grpc)
    if args.json:
        report["json"] = json_request(args.json, max(1, args.count // 10))
    if args.retry and http_exporter and grpc_exporter:
        batch = retry_batch(args.retry)
        results = [http_exporter.export(batch), http_exporter.export(batch), grpc_exporter.export(batch)]
        report["retry"] = {"sent": len(batch), "exports": [r.name for r in results]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

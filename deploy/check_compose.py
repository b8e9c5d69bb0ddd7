#!/usr/bin/env python3
"""Structural checks on deploy/compose.yaml and deploy/compose.single.yaml beyond `docker-compose config`.

  python3 deploy/check_compose.py

- every depends_on names a service; every long-running service has a restart policy and a healthcheck;
- logdist services listen on 0.0.0.0, have a bootstrap, and their healthcheck probes their own port's /health/ready;
- dispatchers have distinct LOGDIST_INSTANCE_IDs and a LOGDIST_INGEST_URL naming an ingest service; analysers distinct ids, distinct partitions below the
  topic-init's ANALYSER_SLOTS, weights 1:2:3, and an advertised URL naming their own service and port;
- Prometheus scrapes every ingest, dispatcher and analyser on its port;
- topic-init's replication factor: 3 (min ISR 2) in compose.yaml, 1 in compose.single.yaml, and not above the broker count;
- compose.single.yaml's logdist, Prometheus and Grafana services equal compose.yaml's but for the bootstrap list.
Needs PyYAML (python3-yaml, installed with docker-compose). Exits 1 and prints each failure otherwise.
"""
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = {"compose.yaml": 3, "compose.single.yaml": 1}  # file: broker count
PROMETHEUS = os.path.join(HERE, "prometheus", "prometheus.yml")
ONE_SHOT = {"topic-init", "load"}


def env(service):
    value = service.get("environment") or {}
    if isinstance(value, list):
        value = dict(item.split("=", 1) for item in value)
    return {k: str(v) for k, v in value.items()}


def role(service):
    command = service.get("command") or []
    return command[0] if isinstance(command, list) and command else None


def check(name, brokers, scrape_targets):
    failures = []
    fail = lambda message: failures.append(f"{name}: {message}")  # noqa: E731
    with open(os.path.join(HERE, name)) as f:
        compose = yaml.safe_load(f)
    services = compose.get("services") or {}
    kafka = [s for s in services if re.fullmatch(r"kafka-\d+", s)]
    if len(kafka) != brokers:
        fail(f"expected {brokers} Kafka brokers, found {kafka}")
    for sname, service in services.items():
        for dependency in (service.get("depends_on") or {}):
            if dependency not in services:
                fail(f"{sname} depends on unknown service {dependency}")
        if sname not in ONE_SHOT:
            if service.get("restart") not in ("always", "unless-stopped", "on-failure"):
                fail(f"{sname}: no restart policy")
            if not (service.get("healthcheck") or {}).get("test"):
                fail(f"{sname}: no healthcheck")
        if sname in kafka:
            e = env(service)
            voters = e.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(",")
            if len(voters) != brokers or e.get("KAFKA_PROCESS_ROLES") != "broker,controller":
                fail(f"{sname}: expected {brokers} voters and combined broker,controller roles")
            if int(e.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "0")) > brokers:
                fail(f"{sname}: offsets topic replication factor above broker count")

    init = env(services.get("topic-init", {}))
    rf, isr = int(init.get("RF", "0")), int(init.get("MIN_ISR", "0"))
    expected = (3, 2) if brokers == 3 else (1, 1)
    if (rf, isr) != expected:
        fail(f"topic-init RF/min ISR {rf}/{isr}, expected {expected[0]}/{expected[1]}")
    slots = int(init.get("ANALYSER_SLOTS", "0"))
    command = "".join(services.get("topic-init", {}).get("command") or [])
    for needle in ("--if-not-exists", "cleanup.policy=compact", ".packets", ".assigned", ".heartbeats"):
        if needle not in command:
            fail(f"topic-init command lacks {needle!r}")

    instance_ids, analyser_ids, partitions, weights = [], [], [], {}
    for sname, service in services.items():
        kind = role(service)
        if kind not in ("ingest", "dispatch", "analyse"):
            continue
        e = env(service)
        if e.get("LOGDIST_HOST") != "0.0.0.0":
            fail(f"{sname}: LOGDIST_HOST must be 0.0.0.0 in a container")
        if not e.get("LOGDIST_BOOTSTRAP"):
            fail(f"{sname}: no LOGDIST_BOOTSTRAP")
        port = {"ingest": e.get("LOGDIST_INGEST_PORT", "8080"), "dispatch": e.get("LOGDIST_DISPATCHER_PORT", "8090"),
                "analyse": e.get("LOGDIST_ANALYSER_PORT", "8101")}[kind]
        test = " ".join(map(str, (service.get("healthcheck") or {}).get("test") or []))
        if f":{port}/health/ready" not in test:
            fail(f"{sname}: healthcheck does not probe :{port}/health/ready ({test})")
        if f"{sname}:{port}" not in scrape_targets:
            fail(f"{sname}: Prometheus does not scrape {sname}:{port}")
        if (service.get("depends_on") or {}).get("topic-init", {}).get("condition") != "service_completed_successfully":
            fail(f"{sname}: should wait for topic-init (service_completed_successfully)")
        if kind == "dispatch":
            instance_ids.append(e.get("LOGDIST_INSTANCE_ID"))
            ingest = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", e.get("LOGDIST_INGEST_URL", ""))
            if not ingest or role(services.get(ingest.group(1), {})) != "ingest" \
                    or env(services[ingest.group(1)]).get("LOGDIST_INGEST_PORT", "8080") != ingest.group(2):
                fail(f"{sname}: LOGDIST_INGEST_URL should name an ingest service and its port (the dashboard's load)")
        if kind == "analyse":
            aid = e.get("LOGDIST_ANALYSER_ID")
            analyser_ids.append(aid)
            partitions.append(int(e.get("LOGDIST_PARTITION", "-1")))
            weights[aid] = int(e.get("LOGDIST_WEIGHT", "1"))
            if e.get("LOGDIST_ADVERTISED_URL") != f"http://{sname}:{port}":
                fail(f"{sname}: LOGDIST_ADVERTISED_URL should be http://{sname}:{port}")
    if len(instance_ids) != 2 or None in instance_ids or len(set(instance_ids)) != len(instance_ids):
        fail(f"need 2 dispatchers with distinct LOGDIST_INSTANCE_ID, found {instance_ids}")
    if len(set(analyser_ids)) != len(analyser_ids) or len(set(partitions)) != len(partitions):
        fail(f"analyser ids/partitions not distinct: {analyser_ids} {partitions}")
    if any(p < 0 or p >= slots for p in partitions):
        fail(f"analyser partitions {partitions} outside 0..{slots - 1} (topic-init ANALYSER_SLOTS)")
    if weights != {"a1": 1, "a2": 2, "a3": 3}:
        fail(f"analyser weights {weights}, expected a1:1 a2:2 a3:3")
    load = services.get("load", {})
    if "load" not in (load.get("profiles") or []) or role(load) != "load":
        fail("load service missing or not under the `load` profile")
    return failures, compose


def normalised(compose):
    """Services other than Kafka and topic-init, with bootstrap lists blanked."""
    out = {}
    for sname, service in (compose.get("services") or {}).items():
        if re.fullmatch(r"kafka-\d+", sname) or sname == "topic-init":
            continue
        service = dict(service)
        if "environment" in service:
            service["environment"] = {k: v for k, v in env(service).items() if k != "LOGDIST_BOOTSTRAP"}
        out[sname] = service
    return out


def main():
    with open(PROMETHEUS) as f:
        prometheus = yaml.safe_load(f)
    targets = {t for job in prometheus.get("scrape_configs", []) for sc in job.get("static_configs", [])
               for t in sc.get("targets", [])}
    failures, parsed = [], {}
    for name, brokers in FILES.items():
        found, parsed[name] = check(name, brokers, targets)
        failures += found
    a, b = normalised(parsed["compose.yaml"]), normalised(parsed["compose.single.yaml"])
    for sname in sorted(set(a) | set(b)):
        if a.get(sname) != b.get(sname):
            failures.append(f"compose.single.yaml: service {sname} differs from compose.yaml (beyond the bootstrap list)")
    if failures:
        for failure in failures:
            print(f"FAIL {failure}", file=sys.stderr)
        print(f"check_compose: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"check_compose: ok: {', '.join(FILES)} ({len(a)} logdist/observability services each, Prometheus covers all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

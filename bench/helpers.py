#!/usr/bin/env python3
"""Helpers for bench/run: free ports, parsing wrk / logdist output, polling services, generating packets, the table.

Every loop here is bounded in time; every address is loopback.
"""
import json
import os
import random
import re
import socket
import sys
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def get_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def json_get(url, expr):
    """Prints eval(expr) over the JSON at url (d is the document)."""
    d = get_json(url, timeout=5)
    print(eval(expr, {}, {"d": d}))


def parse_duration_ms(text):
    text = text.strip()
    for suffix, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * scale
            except ValueError:
                continue
    return float(text) * 1000.0


def wrk_parse(path):
    """wrk --latency output -> JSON {requests, seconds, non2xx, socketErrors, rps, goodRps, p50Ms, p99Ms}."""
    text = open(path).read()
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if not m:
        sys.exit("wrk output not understood: " + path)
    requests = int(m.group(1))
    seconds = parse_duration_ms(m.group(2) + m.group(3)) / 1000.0
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(x) for x in errs.groups()) if errs else 0
    pct = {}
    for p, v in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", text, re.M):
        pct[p] = parse_duration_ms(v)
    out = {
        "requests": requests, "seconds": seconds, "non2xx": non2xx, "socketErrors": socket_errors,
        "rps": requests / seconds, "goodRps": (requests - non2xx) / seconds,
        "p50Ms": pct.get("50"), "p99Ms": pct.get("99"),
    }
    print(json.dumps(out))


def load_parse(path):
    """logdist load output -> JSON {rps, pps, p50Ms, p90Ms, p99Ms, maxMs, statuses, errors}."""
    text = open(path).read()
    out = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    m = re.search(r"Packets/sec:\s*([\d.]+)", text)
    out["pps"] = float(m.group(1)) if m else None
    m = re.search(r"Latency\s+p50 (\S+)\s+p90 (\S+)\s+p99 (\S+)\s+max (\S+)", text)
    if m:
        out["p50Ms"], out["p90Ms"], out["p99Ms"], out["maxMs"] = (parse_duration_ms(x) for x in m.groups())
    m = re.search(r"(\d+) requests in ([\d.]+)s, (\d+) packets accepted", text)
    if m:
        out["requests"], out["seconds"], out["accepted"] = int(m.group(1)), float(m.group(2)), int(m.group(3))
    m = re.search(r"Status\s+(.*)", text)
    out["statuses"] = m.group(1).strip() if m else ""
    m = re.search(r"connection errors=(\d+)", text)
    out["errors"] = int(m.group(1)) if m else 0
    if out["rps"] is None:
        sys.exit("logdist load output not understood: " + path)
    print(json.dumps(out))


def gen_packets(path, count, style, seed=7):
    """Writes `count` lines "id<TAB>packet-json".

    style=load: the shape `logdist load` sends (so kcat produces the same bytes as the batch route gets).
    style=realistic: about 250-byte packets with varied messages (numbers, hex ids, IPs) and unique ids,
    for the analyser's backlog.
    """
    rnd = random.Random(seed)
    levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
    now = int(time.time() * 1000)
    run = "%08x" % rnd.getrandbits(32)
    total = 0
    with open(path, "w") as f:
        for i in range(count):
            if style == "load":
                worker, seq = i % 16, i // 16 + 1
                pid = "%s-%d-%d" % (run, worker, seq - 1)
                line = ('{"id":"%s","timestamp":%d,"source":"load-%d","messages":[{"level":"%s",'
                        '"message":"request %d served in %d ms","timestamp":%d}]}') % (
                    pid, now, seq % 8, levels[seq % 6], seq % 1000, seq % 97, now)
            else:
                pid = "bk-%s-%07d" % (run, i)
                kind = rnd.randrange(4)
                if kind == 0:
                    msg = "GET /api/v1/orders/%d returned %d in %d ms" % (rnd.randrange(10**6), rnd.choice([200, 200, 404, 500]), rnd.randrange(900))
                elif kind == 1:
                    msg = "user %08x logged in from 10.%d.%d.%d" % (rnd.getrandbits(32), rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
                elif kind == 2:
                    msg = "cache miss for key session:%016x after %d retries" % (rnd.getrandbits(64), rnd.randrange(5))
                else:
                    msg = "payment %d failed: upstream timeout after %d ms" % (rnd.randrange(10**7), rnd.randrange(5000))
                line = ('{"id":"%s","timestamp":%d,"source":"web-%d","messages":[{"level":"%s","message":"%s",'
                        '"timestamp":%d,"attributes":{"region":"eu-%d","pod":"api-%05d"}}]}') % (
                    pid, now + i, rnd.randrange(16), rnd.choice(levels), msg, now + i, rnd.randrange(3), rnd.randrange(100000))
            total += len(line)
            f.write(pid + "\t" + line + "\n")
    print(json.dumps({"count": count, "bytes": total, "avgBytes": total / max(1, count)}))


def gen_bodies(tsv, out, per_body):
    """Groups the packets of a gen-packets file into NDJSON request bodies of `per_body` packets (the last one may
    hold fewer) and writes them as "<length>\\n<body>" records for bench/batch.lua."""
    per_body = int(per_body)
    bodies = 0
    with open(tsv) as f, open(out, "wb") as o:
        chunk = []
        def flush():
            body = "\n".join(chunk).encode()
            o.write(b"%d\n" % len(body))
            o.write(body)
        for line in f:
            chunk.append(line.rstrip("\n").split("\t", 1)[1])
            if len(chunk) == per_body:
                flush()
                bodies += 1
                chunk = []
        if chunk:
            flush()
            bodies += 1
    print(json.dumps({"bodies": bodies, "perBody": per_body}))


def poll_dispatch(url, target, started, timeout):
    """Polls GET /v1/analysers (of one dispatcher, or of several: comma-separated) every 100 ms until
    dispatchedTotal (summed) >= target.

    Prints {firstT, firstCount, endT, total, fromStartPps, steadyPps, delivery, healthy}.
    """
    started = float(started)
    deadline = time.time() + float(timeout)
    first_t = first_n = end_t = None
    total = 0
    doc = {}
    while time.time() < deadline:
        t = time.time()
        # Several dispatchers (comma-separated URLs): their totals add up.
        seen = 0
        for one in url.split(","):
            try:
                doc = get_json(one, timeout=1)
                seen += int(doc.get("dispatchedTotal", 0))
            except Exception:
                pass
        total = max(total, seen)
        if total > 0 and first_t is None:
            first_t, first_n = t, total
        if total >= target:
            end_t = t
            break
        time.sleep(max(0.0, 0.1 - (time.time() - t)))
    out = {"target": target, "total": total, "delivery": doc.get("delivery"), "firstT": first_t, "firstCount": first_n, "endT": end_t}
    if end_t is not None:
        out["fromStartSeconds"] = end_t - started
        out["fromStartPps"] = target / (end_t - started)
        span = end_t - first_t
        out["steadySeconds"] = span
        out["steadyPps"] = (target - first_n) / span if span > 0 else None
    print(json.dumps(out))


def poll_replay(url, target, timeout):
    """Polls GET /v1/stats every 50 ms until the replay finished; prints the replay block plus a steady rate
    (packets analysed from the first poll that saw any to the first that saw all)."""
    deadline = time.time() + float(timeout)
    first = None
    last = None
    doc = None
    while time.time() < deadline:
        t = time.time()
        try:
            doc = get_json(url, timeout=1)
        except Exception:
            time.sleep(0.01)
            continue
        n = int(doc["analysis"]["packets"]) + int(doc["analysis"].get("duplicates", 0))
        if n > 0 and first is None:
            first = (t, n)
        if n >= target and last is None:
            last = (t, n)
        if doc["replay"].get("finishedAtMs") is not None and last is not None:
            break
        time.sleep(0.05)
    if doc is None:
        sys.exit("no answer from " + url)
    out = {"replay": doc["replay"], "retentionLostPackets": doc.get("retentionLostPackets"), "offsets": doc.get("offsets"),
           "analysed": doc["analysis"]["packets"], "duplicates": doc["analysis"].get("duplicates"), "malformed": doc.get("malformed")}
    if first and last and last[0] > first[0]:
        out["steadyPps"] = (last[1] - first[1]) / (last[0] - first[0])
        out["steadySeconds"] = last[0] - first[0]
    elif first and last:
        out["steadyPps"] = None
    print(json.dumps(out))


def vmhwm(pid):
    try:
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmHWM:"):
                print("%.1f" % (int(line.split()[1]) / 1024.0))
                return
    except OSError:
        pass
    print("null")


def cpu_monitor(root, out, limit):
    """Every second: CPU seconds used since start by processes that are not `root` or its descendants (nor kernel
    threads), written to `out` (per process name to `out`.who). Exits when root is gone or after `limit` seconds. Processes that live less than a second are missed."""
    root, limit = int(root), float(limit)
    hz = os.sysconf("SC_CLK_TCK")
    uptime0 = float(open("/proc/uptime").read().split()[0])
    base, last, names = {}, {}, {}
    me = os.getpid()
    deadline = time.time() + limit
    while time.time() < deadline and os.path.exists("/proc/%d" % root):
        procs = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                raw = open("/proc/%s/stat" % name).read()
            except OSError:
                continue
            rest = raw[raw.rindex(")") + 2:].split()
            ppid, cpu, start = int(rest[1]), (int(rest[11]) + int(rest[12])) / hz, int(rest[19]) / hz
            procs[int(name)] = (ppid, cpu, start)
            names[(int(name), start)] = raw[raw.index("(") + 1:raw.rindex(")")]
        ours = {root, me}
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _, _) in procs.items():
                if ppid in ours and pid not in ours:
                    ours.add(pid)
                    changed = True
        for pid, (ppid, cpu, start) in procs.items():
            if pid in ours or pid in (1, 2) or ppid == 2:  # kernel threads (ksoftirqd works for our loopback traffic)
                continue
            key = (pid, start)
            if key not in base:
                base[key] = cpu if start < uptime0 else 0.0
            last[key] = cpu
        total = sum(last[k] - base[k] for k in last)
        with open(out + ".tmp", "w") as f:
            f.write("%.2f\n" % total)
        os.replace(out + ".tmp", out)
        with open(out + ".who.tmp", "w") as f:  # cumulative CPU seconds per foreign process name
            by = {}
            for k in last:
                by[names.get(k, "?")] = by.get(names.get(k, "?"), 0.0) + last[k] - base[k]
            f.write(json.dumps({n: round(c, 2) for n, c in sorted(by.items(), key=lambda x: -x[1]) if c > 0}))
        os.replace(out + ".who.tmp", out + ".who")
        time.sleep(1.0)


# ---- the table ----

def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        s = "{:,.0f}".format(v)
    elif abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    else:
        s = "%.2f" % v
    return s + (" " + unit if unit else "")


def table(rows_path, meta_path, json_out, md_out):
    rows = [json.loads(l) for l in open(rows_path) if l.strip()]
    meta = json.load(open(meta_path))
    out_rows = []
    for r in rows:
        v, ref = r.get("value"), r.get("reference")
        ratio = (v / ref) if isinstance(v, (int, float)) and isinstance(ref, (int, float)) and ref else None
        target = r.get("target") or ""
        ok = None
        m = re.match(r"(ratio|value)\s*(>=|<=)\s*([\d.]+)", target)
        if m:
            x = ratio if m.group(1) == "ratio" else v
            if isinstance(x, (int, float)):
                ok = x >= float(m.group(3)) if m.group(2) == ">=" else x <= float(m.group(3))
            else:
                ok = False
        tshow = ""
        if m:
            tshow = ("≥ " if m.group(2) == ">=" else "≤ ") + m.group(3) + ("×" if m.group(1) == "ratio" else (" " + r.get("unit", "")).rstrip())
        out_rows.append(dict(r, ratio=ratio, pass_=ok, targetText=tshow))
    head = ["metric", "logdist", "reference", "ratio", "target", "pass"]
    cells = []
    for r in out_rows:
        ref = fmt(r.get("reference"), r.get("unit", "")) if r.get("reference") is not None else "—"
        if r.get("referenceLabel") and r.get("reference") is not None:
            ref += " (" + r["referenceLabel"] + ")"
        cells.append([
            r["metric"], fmt(r.get("value"), r.get("unit", "")) if not isinstance(r.get("value"), str) else r["value"], ref,
            ("%.2f×" % r["ratio"]) if r["ratio"] is not None else "—", r["targetText"] or "—",
            {True: "pass", False: "FAIL", None: "—"}[r["pass_"]],
        ])
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(len(head))]
    line = lambda cs: "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(cs)) + " |"
    md = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(c) for c in cells]
    print("\n".join(md))
    notes = meta.get("notes", [])
    if notes:
        print()
        for n in notes:
            print("- " + n)
    doc = dict(meta, rows=[{k.rstrip("_"): v for k, v in r.items() if k != "targetText"} | {"target": r.get("target")} for r in out_rows])
    with open(json_out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(md_out, "w") as f:
        f.write("# logdist benchmark — latest run\n\n")
        f.write("- date: %s\n- machine: %s\n- command: `%s`\n- commit: %s\n- broker: %s\n\n" % (
            meta["date"], meta["machine"], meta["command"], meta.get("commit", "?"), meta["broker"]))
        f.write("\n".join(md) + "\n")
        if notes:
            f.write("\nNotes:\n\n" + "".join("- " + n + "\n" for n in notes))
        f.write("\nRaw numbers: `bench/results.json`. Method: `bench/run` (read its header).\n")


def cpu_seconds(pids):
    """CPU seconds (user + system) used so far by the given processes; missing ones count 0."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    print("%.3f" % (total / hz))


def listener_pids(bootstrap):
    """The processes listening on the ports of a bootstrap list (host:port,...): a local cluster's brokers."""
    ports = {int(part.rsplit(":", 1)[1]) for part in bootstrap.split(",") if ":" in part}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(table).readlines()[1:]:
                f = line.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) in ports:
                    inodes.add(f[9])
        except OSError:
            pass
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(pid)
                    break
        except OSError:
            pass
    print(" ".join(sorted(pids)))


def metric_sum(url, name):
    """Sum of every sample of a Prometheus metric (all label sets) at url; 0 when absent."""
    total = 0.0
    try:
        for line in urllib.request.urlopen(url, timeout=2).read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
    except Exception:
        pass
    print(total)


def cpu_run(out, command):
    """Runs command (its output to stdout/stderr as usual) and writes {seconds, cpuSeconds, cores} of it to `out`:
    how busy the load tool itself was, to tell whether it could be the bottleneck."""
    import resource
    import subprocess
    t0 = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = subprocess.call(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = time.time() - t0
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    json.dump({"seconds": seconds, "cpuSeconds": cpu, "cores": cpu / seconds if seconds > 0 else None}, open(out, "w"))
    sys.exit(code)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "free-port":
        free_port()
    elif cmd == "json-get":
        json_get(args[0], args[1])
    elif cmd == "wrk-parse":
        wrk_parse(args[0])
    elif cmd == "load-parse":
        load_parse(args[0])
    elif cmd == "gen-packets":
        gen_packets(args[0], int(args[1]), args[2])
    elif cmd == "gen-bodies":
        gen_bodies(args[0], args[1], args[2])
    elif cmd == "poll-dispatch":
        poll_dispatch(args[0], int(args[1]), args[2], args[3])
    elif cmd == "poll-replay":
        poll_replay(args[0], int(args[1]), args[2])
    elif cmd == "vmhwm":
        vmhwm(args[0])
    elif cmd == "cpu-run":
        cpu_run(args[0], args[1:])
    elif cmd == "cpu-seconds":
        cpu_seconds(args)
    elif cmd == "listener-pids":
        listener_pids(args[0])
    elif cmd == "metric-sum":
        metric_sum(args[0], args[1])
    elif cmd == "cpu-monitor":
        cpu_monitor(*args)
    elif cmd == "table":
        table(*args)
    else:
        sys.exit("unknown helper " + cmd)


if __name__ == "__main__":
    main()

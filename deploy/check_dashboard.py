#!/usr/bin/env python3
"""Checks deploy/grafana/dashboards/logdist.json against the metrics logdist exports.

  python3 deploy/check_dashboard.py                      # dashboard vs deploy/metrics.txt
  python3 deploy/check_dashboard.py --scrape URL [URL ...]  # also metrics.txt vs running services' /metrics

The dashboard must be valid JSON; every panel needs queries; every query (targets[].expr) may name only
metrics listed in deploy/metrics.txt (a histogram through its _bucket/_sum/_count series) and only known
PromQL functions; every datasource must be the provisioned Prometheus (by uid). Exits 1 and prints each
failure otherwise. Standard library only.
"""
import argparse
import json
import os
import re
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(HERE, "grafana", "dashboards", "logdist.json")
METRICS = os.path.join(HERE, "metrics.txt")
DATASOURCES = os.path.join(HERE, "grafana", "provisioning", "datasources")

# PromQL functions and aggregation operators (Prometheus 2.x/3.x).
FUNCTIONS = set("""
abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min count_over_time day_of_month
day_of_week day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction
histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters double_exponential_smoothing hour
idelta increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time max_over_time
min_over_time minute month predict_linear present_over_time quantile_over_time rate resets round scalar sgn sort
sort_desc sort_by_label sort_by_label_desc sqrt stddev_over_time stdvar_over_time sum_over_time time timestamp vector year
acos acosh asin asinh atan atanh cos cosh deg pi rad sin sinh tan tanh
sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
""".split())
AGGREGATORS = set("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split())
KEYWORDS = {"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

TOKEN = re.compile(
    r"\s+|(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|s|m|h|d|w|y)?)|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<punct>[(),])|(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=@])",
    re.IGNORECASE)


def load_metrics(path):
    """metrics.txt: `name [type]` per line, # comments. Returns {name: type}."""
    metrics = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) > 2 or not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", parts[0]):
                raise SystemExit(f"{path}:{number}: expected `metric_name [type]`, got {line!r}")
            metrics[parts[0]] = parts[1] if len(parts) == 2 else "untyped"
    return metrics


def queryable_names(metrics):
    """Series names a query may use: plain metrics as listed, histograms only through their suffixed series."""
    names = set()
    for name, kind in metrics.items():
        if kind == "histogram":
            names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
        else:
            names.add(name)
    return names


def strip_expr(expr):
    """Removes what cannot name a metric: Grafana variables, string literals, {label matchers}, [ranges]."""
    expr = re.sub(r"\$\{[^}]*\}|\$__\w+|\$\w+|\[\[\w+\]\]", "1", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    for opening, closing in (("{", "}"), ("[", "]")):
        out, depth = [], 0
        for ch in expr:
            if ch == opening:
                depth += 1
            elif ch == closing:
                depth -= 1
                if depth < 0:
                    raise ValueError(f"unbalanced {closing!r}")
            elif depth == 0:
                out.append(ch)
        if depth:
            raise ValueError(f"unbalanced {opening!r}")
        expr = "".join(out)
    return expr


def names_in(expr):
    """Returns (metric names, function names) used by a PromQL expression; raises ValueError if unparsable."""
    text = strip_expr(expr).replace('""', " ")
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        if m.lastgroup:
            tokens.append((m.lastgroup, m.group(m.lastgroup)))
    if sum(1 for _, v in tokens if v == "(") != sum(1 for _, v in tokens if v == ")"):
        raise ValueError("unbalanced parentheses")
    metrics, functions = [], []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if kind == "ident":
            lower = value.lower()
            if lower in GROUPING:
                if following == "(":  # label list: skip to the closing parenthesis
                    depth, i = 0, i + 1
                    while i < len(tokens):
                        if tokens[i][1] == "(":
                            depth += 1
                        elif tokens[i][1] == ")":
                            depth -= 1
                            if depth == 0:
                                break
                        i += 1
            elif following == "(" or (value in AGGREGATORS and (following or "").lower() in ("by", "without")):
                functions.append(value)  # a call, or an aggregation written `sum by (l) (expr)`
            elif lower not in KEYWORDS:
                metrics.append(value)
        i += 1
    return metrics, functions


def provisioned_uids():
    uids = set()
    if os.path.isdir(DATASOURCES):
        for name in os.listdir(DATASOURCES):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(DATASOURCES, name)) as f:
                    uids.update(re.findall(r"^\s*uid:\s*['\"]?([\w.-]+)", f.read(), re.MULTILINE))
    return uids


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def check_dashboard(path, metrics):
    failures, used = [], set()
    try:
        with open(path) as f:
            dashboard = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        return [f"{path}: not valid JSON: {error}"], used, 0
    allowed = queryable_names(metrics)
    uids = provisioned_uids()
    if not uids:
        failures.append(f"{DATASOURCES}: no provisioned datasource uid found")
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in dashboard:
            failures.append(f"dashboard: missing {key!r}")
    ids, queries = set(), 0
    for panel in walk_panels(dashboard.get("panels", [])):
        title = panel.get("title", "<untitled>")
        where = f"panel {panel.get('id')} {title!r}"
        if panel.get("id") in ids:
            failures.append(f"{where}: duplicate panel id")
        ids.add(panel.get("id"))
        if "gridPos" not in panel:
            failures.append(f"{where}: no gridPos")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            failures.append(f"{where}: no queries")
        for source in [panel.get("datasource")] + [t.get("datasource") for t in targets]:
            if isinstance(source, dict) and source.get("uid") not in uids:
                failures.append(f"{where}: datasource uid {source.get('uid')!r} is not provisioned ({sorted(uids)})")
        for target in targets:
            expr = (target.get("expr") or "").strip()
            ref = target.get("refId", "?")
            if not expr:
                failures.append(f"{where} query {ref}: empty expr")
                continue
            queries += 1
            try:
                names, functions = names_in(expr)
            except ValueError as error:
                failures.append(f"{where} query {ref}: cannot parse ({error}): {expr}")
                continue
            if not names:
                failures.append(f"{where} query {ref}: names no metric: {expr}")
            for name in names:
                used.add(name)
                if name not in allowed:
                    hint = ""
                    if name in metrics and metrics[name] == "histogram":
                        hint = " (a histogram: query its _bucket/_sum/_count)"
                    failures.append(f"{where} query {ref}: metric {name!r} is not exported{hint}: {expr}")
            for function in functions:
                if function not in FUNCTIONS:
                    failures.append(f"{where} query {ref}: unknown PromQL function {function!r}: {expr}")
    return failures, used, queries


def scrape(urls, metrics):
    """Compares metrics.txt with what running services expose (names and types)."""
    failures, exposed = [], {}
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError as error:
            failures.append(f"{url}: cannot scrape: {error}")
            continue
        for line in text.splitlines():
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                exposed[m.group(1)] = m.group(2)
    for name, kind in metrics.items():
        if name not in exposed:
            failures.append(f"{name}: in metrics.txt but not exposed by {' '.join(urls)}")
        elif exposed[name] != kind:
            failures.append(f"{name}: metrics.txt says {kind}, the service says {exposed[name]}")
    for name in sorted(exposed):
        if name.startswith("logdist_") and name not in metrics:
            failures.append(f"{name}: exposed by a service but missing from metrics.txt")
    return failures, len(exposed)


def self_test():
    """The extractor finds metric names and ignores labels, variables, functions and ranges."""
    cases = {
        'histogram_quantile(0.99, sum by (le, analyser) (rate(x_bucket{job="a",le!="+Inf"}[$__rate_interval])))': (["x_bucket"], ["histogram_quantile", "sum", "rate"]),
        "sum by (a) (rate(x_total[5m])) / ignoring(a) group_left sum(rate(x_total[5m]))": (["x_total", "x_total"], ["sum", "rate", "sum", "rate"]),
        "max(y) offset 5m > bool 0": (["y"], ["max"]),
        "sum without (instance) (z)": (["z"], ["sum"]),
    }
    failures = []
    for expr, expected in cases.items():
        got = names_in(expr)
        if (sorted(got[0]), sorted(got[1])) != (sorted(expected[0]), sorted(expected[1])):
            failures.append(f"self-test: {expr!r} gave {got}, expected {expected}")
    for bad in ("sum(rate(x[5m])", "rate(x{a=\"b\"[5m])"):
        try:
            names_in(bad)
            failures.append(f"self-test: {bad!r} should not parse")
        except ValueError:
            pass
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dashboard", default=DASHBOARD)
    parser.add_argument("--metrics", default=METRICS)
    parser.add_argument("--scrape", nargs="+", metavar="URL", help="/metrics URLs of running services")
    args = parser.parse_args()

    metrics = load_metrics(args.metrics)
    failures = self_test()
    dash_failures, used, queries = check_dashboard(args.dashboard, metrics)
    failures += dash_failures
    if args.scrape:
        scrape_failures, count = scrape(args.scrape, metrics)
        failures += scrape_failures
        if not scrape_failures:
            print(f"check_dashboard: metrics.txt matches {count} metric families exposed by {len(args.scrape)} endpoint(s)")
    if failures:
        for failure in failures:
            print(f"FAIL {failure}", file=sys.stderr)
        print(f"check_dashboard: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    unused = sorted(n for n in metrics if not any(u == n or u.startswith(n + "_") for u in used))
    print(f"check_dashboard: ok: {queries} queries name {len(used)} series, all exported")
    if unused:
        print(f"check_dashboard: not on the dashboard (fine): {', '.join(unused)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Smoke test of a running logdist Compose stack (deploy/compose.yaml or compose.single.yaml; Docker or podman).
#
#   deploy/smoke.sh                      # the stack started with `-p logdist`, found through its containers
#   SMOKE_PROJECT=ldc deploy/smoke.sh    # another Compose project name
#
# What it proves, with numbers in a short report (exit 1 on any failure, 2 when the stack cannot be found):
#   1. steady load on both ingest instances: every accepted packet is dispatched exactly once (read_committed
#      from <ns>.assigned, by packet id) and analysed (the analysers' /v1/stats), in proportion to the weights;
#   2. `logdist lag` through the brokers' host listener;
#   3. under load, one Kafka broker container and one dispatcher container are SIGKILLed (then started again):
#      no accepted packet is lost, none is dispatched twice, and packets posted afterwards are analysed;
#   4. Prometheus scrapes every ingest, dispatcher and analyser (/api/v1/targets: health "up").
#
# Found from the containers (labels com.docker.compose.project/service, published ports), or given:
#   SMOKE_CLI             docker | podman (default: docker if it answers, else podman)
#   SMOKE_PROJECT         Compose project (default: $COMPOSE_PROJECT_NAME or logdist)
#   SMOKE_INGEST_URLS     http://127.0.0.1:8080,http://127.0.0.1:8081
#   SMOKE_DISPATCHER_URLS http://127.0.0.1:8090,http://127.0.0.1:8091   (/health/ready, /metrics)
#   SMOKE_ANALYSER_URLS   http://127.0.0.1:8101,...                       (/v1/stats)
#   SMOKE_PROMETHEUS_URL  http://127.0.0.1:9090
#   SMOKE_BOOTSTRAP       127.0.0.1:19092,...  (the HOST listeners)
#   SMOKE_KILL_KAFKA      service to kill (kafka-2 with three brokers; with one broker the broker step is skipped)
#   SMOKE_KILL_DISPATCHER service to kill (dispatcher-2)
#   LOGDIST               the logdist CLI (default: `logdist` on PATH, else this repository's .build/release/logdist,
#                         else the stack's own image run with --network host)
#   LOGDIST_NAMESPACE     topics' namespace (logdist)
#   SMOKE_RATE            requests/s per ingest (20), SMOKE_BATCH packets per request (10),
#   SMOKE_STEADY          steady phase (10s), SMOKE_CHAOS chaos phase (40s), SMOKE_TOLERANCE share tolerance (0.03)
#   SMOKE_OUT             directory for ids, logs and report.txt (a new temporary directory)
#   SMOKE_READER          kcat | console: how <ns>.assigned is read (default kcat if installed, else the
#                         broker container's kafka-console-consumer.sh)
# Needs: bash, curl, python3; kcat if present.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ns=${LOGDIST_NAMESPACE:-logdist}
project=${SMOKE_PROJECT:-${COMPOSE_PROJECT_NAME:-logdist}}
rate=${SMOKE_RATE:-20}
batch=${SMOKE_BATCH:-10}
steady=${SMOKE_STEADY:-10s}
chaos=${SMOKE_CHAOS:-40s}
tolerance=${SMOKE_TOLERANCE:-0.03}
out=${SMOKE_OUT:-$(mktemp -d /tmp/logdist-smoke.XXXXXX)}
mkdir -p "$out"
rm -f "$out"/ids-*.txt "$out"/load-*.log "$out"/assigned.txt*
chmod 0777 "$out" 2>/dev/null || true  # the containerised CLI runs as the image's user

failures=()
report=()
fail() { failures+=("$1"); echo "FAIL $1" >&2; }
note() { report+=("$1"); echo "---- $1"; }
say() { echo "smoke: $*" >&2; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- the container CLI and the stack's containers ----
if [ -n "${SMOKE_CLI:-}" ]; then
    cli=$SMOKE_CLI
elif command -v docker >/dev/null 2>&1 && docker ps >/dev/null 2>&1; then
    cli=docker
elif command -v podman >/dev/null 2>&1; then
    cli=podman
else
    echo "smoke: neither docker nor podman answers; set SMOKE_CLI" >&2
    exit 2
fi
container() { # service -> container name (first match)
    "$cli" ps -a --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1" \
        --format '{{.Names}}' 2>/dev/null | head -1
}
published() { # container, container port -> host:port
    local hp
    hp=$("$cli" port "$1" "$2" 2>/dev/null | grep -E '^[0-9.]+:[0-9]+$' | head -1)
    [ -n "$hp" ] && echo "${hp/0.0.0.0/127.0.0.1}"
}
services=$(for c in $("$cli" ps -aq --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
    "$cli" inspect --format '{{index .Config.Labels "com.docker.compose.service"}}' "$c"; done | sort -u)
[ -z "$services" ] && [ -z "${SMOKE_INGEST_URLS:-}" ] && {
    echo "smoke: no containers of Compose project '$project' ($cli); set SMOKE_PROJECT or the SMOKE_*_URLS" >&2
    exit 2
}
urls_of() { # service-name regex, container port -> comma-separated URLs
    local list="" s c hp
    for s in $(echo "$services" | grep -E "$1"); do
        c=$(container "$s"); hp=$(published "$c" "$2") || continue
        [ -n "$hp" ] && list="${list:+$list,}http://$hp"
    done
    echo "$list"
}
analyser_port() { "$cli" inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" | sed -n 's/^LOGDIST_ANALYSER_PORT=//p'; }
ingest_urls=${SMOKE_INGEST_URLS:-$(urls_of '^ingest-' 8080)}
dispatcher_urls=${SMOKE_DISPATCHER_URLS:-$(urls_of '^dispatcher-' 8090)}
if [ -z "${SMOKE_ANALYSER_URLS:-}" ]; then
    analyser_urls=""
    for s in $(echo "$services" | grep -E '^analyser-'); do
        c=$(container "$s"); hp=$(published "$c" "$(analyser_port "$c")")
        [ -n "$hp" ] && analyser_urls="${analyser_urls:+$analyser_urls,}http://$hp"
    done
else
    analyser_urls=$SMOKE_ANALYSER_URLS
fi
prometheus_url=${SMOKE_PROMETHEUS_URL:-$(urls_of '^prometheus$' 9090)}
if [ -z "${SMOKE_BOOTSTRAP:-}" ]; then
    bootstrap=""
    for s in $(echo "$services" | grep -E '^kafka-[0-9]+$'); do
        c=$(container "$s")
        # the HOST listener: the published port that is not 9092/9093
        hp=$("$cli" port "$c" 2>/dev/null | grep -vE '^(9092|9093)/' | sed -n 's/.*-> *//p' | head -1)
        [ -n "$hp" ] && bootstrap="${bootstrap:+$bootstrap,}${hp/0.0.0.0/127.0.0.1}"
    done
else
    bootstrap=$SMOKE_BOOTSTRAP
fi
IFS=, read -r -a ingests <<<"$ingest_urls"
IFS=, read -r -a dispatchers <<<"$dispatcher_urls"
IFS=, read -r -a analysers <<<"$analyser_urls"
kafka_count=$(echo "$services" | grep -cE '^kafka-[0-9]+$')
kill_kafka=${SMOKE_KILL_KAFKA:-$([ "$kafka_count" -ge 3 ] && echo kafka-2)}
kill_dispatcher=${SMOKE_KILL_DISPATCHER:-dispatcher-2}
say "cli=$cli project=$project ingest=$ingest_urls dispatchers=$dispatcher_urls analysers=$analyser_urls"
say "prometheus=$prometheus_url bootstrap=$bootstrap out=$out"
[ ${#ingests[@]} -ge 1 ] && [ ${#analysers[@]} -ge 1 ] && [ -n "$bootstrap" ] || {
    echo "smoke: could not find ingest, analyser or Kafka host addresses; set SMOKE_*" >&2; exit 2; }

# ---- the logdist CLI ----
if [ -n "${LOGDIST:-}" ]; then
    read -r -a ld <<<"$LOGDIST"
elif command -v logdist >/dev/null 2>&1; then
    ld=(logdist)
elif [ -x "$here/../.build/release/logdist" ]; then
    ld=("$here/../.build/release/logdist")
else
    image=$("$cli" inspect --format '{{.ImageName}}' "$(container "${kill_dispatcher}")" 2>/dev/null)
    [ -z "$image" ] && image=$("$cli" inspect --format '{{.Config.Image}}' "$(container "${kill_dispatcher}")" 2>/dev/null)
    ld=("$cli" run --rm --network host -v "$out:$out" "${image:-logdist:local}")
fi
say "logdist CLI: ${ld[*]}"

wait_ready() { # url... : /health/ready answers 200 within 120 s
    local u deadline=$((SECONDS + 120))
    for u in "$@"; do
        until curl -fsS -o /dev/null --max-time 3 "$u/health/ready"; do
            [ $SECONDS -ge $deadline ] && { fail "$u/health/ready not 200 within 120 s"; return 1; }
            sleep 1
        done
    done
}

stats_sum() { # -> JSON {id: {packets, duplicates, weight, lag}}
    local u first=1
    printf '{'
    for u in "${analysers[@]}"; do
        s=$(curl -fsS --max-time 5 "$u/v1/stats") || { printf '%s"%s":null' "$([ $first = 1 ] || echo ,)" "$u"; first=0; continue; }
        echo "$s" | python3 -c '
import json, sys
d = json.load(sys.stdin); first = sys.argv[1] == "1"
a = d["analysis"]
print(("" if first else ",") + json.dumps(d["id"]) + ":" + json.dumps(
    {"packets": a["packets"], "duplicates": a.get("duplicates", 0), "weight": d["weight"], "lag": d["offsets"]["lag"],
     "state": d["state"]}), end="")' "$first"
        first=0
    done
    printf '}\n'
}

load() { # label url duration -> runs logdist load in the background ($! is its pid); ids in $out/ids-label.txt
    local label=$1 url=$2 duration=$3
    "${ld[@]}" load --url "$url/v1/packets" --rate "$rate" --batch "$batch" --duration "$duration" \
        --connections 4 --quiet --ids-out "$out/ids-$label.txt" >"$out/load-$label.log" 2>&1 &
}

analysed_total() { stats_sum | json 'sum((v or {}).get("packets", 0) for v in d.values())'; }

wait_analysed() { # target total -> waits until the analysers' packets reach it and their lag is 0 (120 s)
    local target=$1 deadline=$((SECONDS + 120)) now
    while :; do
        snap=$(stats_sum)
        now=$(echo "$snap" | json 'sum((v or {}).get("packets", 0) for v in d.values())')
        lag=$(echo "$snap" | json 'sum((v or {}).get("lag", 0) for v in d.values())')
        [ "$now" -ge "$target" ] && [ "$lag" -eq 0 ] && { echo "$snap"; return 0; }
        [ $SECONDS -ge $deadline ] && { echo "$snap"; return 1; }
        sleep 1
    done
}

# Every record of <ns>.assigned (read_committed) as "key" lines, into $out/assigned.txt.
read_assigned() {
    if [ "${SMOKE_READER:-auto}" != console ] && command -v kcat >/dev/null 2>&1; then
        kcat -C -b "$bootstrap" -t "$ns.assigned" -o beginning -e -q -f '%k\n' -X isolation.level=read_committed \
            >"$out/assigned.txt" 2>"$out/kcat.log"
    else
        local c; c=$(container kafka-1)
        "$cli" exec "$c" /opt/kafka/bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 \
            --topic "$ns.assigned" --from-beginning --isolation-level read_committed --timeout-ms 15000 \
            --property print.key=true --property print.value=false >"$out/assigned.txt" 2>"$out/consumer.log"
        return 0
    fi
}

# accepted ids files..., -> prints "accepted lost duplicated extra" for the run prefixes of those files
audit() {
    python3 - "$out/assigned.txt" "$@" <<'EOF'
import collections, sys
assigned = collections.Counter(line.strip() for line in open(sys.argv[1]) if line.strip())
accepted = set()
for f in sys.argv[2:]:
    try:
        accepted |= {l.strip() for l in open(f) if l.strip()}
    except FileNotFoundError:
        pass
runs = {i.split("-", 1)[0] for i in accepted}
ours = {k: n for k, n in assigned.items() if k.split("-", 1)[0] in runs}
lost = [i for i in accepted if ours.get(i, 0) == 0]
dup = {k: n for k, n in ours.items() if n > 1}
extra = [k for k in ours if k not in accepted]   # written although the client saw no 202 (503 during a fault)
print(len(accepted), len(lost), len(dup), len(extra))
with open(sys.argv[1] + ".duplicates", "w") as f:
    for k, n in sorted(dup.items()):
        f.write(f"{k} {n}\n")
with open(sys.argv[1] + ".lost", "w") as f:
    for k in sorted(lost):
        f.write(k + "\n")
EOF
}

dispatcher_metrics() {
    local u
    for u in "${dispatchers[@]}"; do
        curl -fsS --max-time 5 "$u/metrics" 2>/dev/null | python3 -c '
import re, sys
tot = {}
for line in sys.stdin:
    m = re.match(r"(logdist_dispatcher_(dispatched|batches|aborts|rebalances|repeats_dropped|batches_committed_across_rebalance)_total)(\{[^}]*\})? ([0-9.e+]+)", line)
    if m: tot[m.group(2)] = tot.get(m.group(2), 0) + float(m.group(4))
print(sys.argv[1], " ".join(f"{k}={int(v)}" for k, v in sorted(tot.items())) or "(no metrics)")' "$u"
    done
}

# ================= 0. the stack is ready =================
start=$SECONDS
wait_ready "${ingests[@]}" "${dispatchers[@]}" "${analysers[@]}" || true
before=$(stats_sum)
base=$(echo "$before" | json 'sum((v or {}).get("packets", 0) for v in d.values())')
base_dup=$(echo "$before" | json 'sum((v or {}).get("duplicates", 0) for v in d.values())')

# ================= 1. steady load on both ingests =================
say "1. steady load: ${#ingests[@]} ingest(s) x $rate req/s x $batch packets for $steady"
pids=(); i=0
for u in "${ingests[@]}"; do i=$((i + 1)); load "steady-$i" "$u" "$steady"; pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "logdist load (steady) exited non-zero (see $out/load-steady-*.log)"; done
steady_ids=("$out"/ids-steady-*.txt)
accepted1=$(cat "${steady_ids[@]}" 2>/dev/null | wc -l)
per_ingest=$(for f in "${steady_ids[@]}"; do printf '%s ' "$(wc -l <"$f")"; done)
[ "$accepted1" -gt 0 ] || fail "steady: no packet accepted"
after1=$(wait_analysed $((base + accepted1))) || fail "steady: analysers did not reach $((base + accepted1)) packets with lag 0 in 120 s"
shares=$(python3 - "$before" "$after1" "$tolerance" <<'EOF'
import json, sys
b, a, tol = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
ids = sorted(k for k in a if a[k])
delta = {k: a[k]["packets"] - ((b.get(k) or {}).get("packets", 0)) for k in ids}
dups = sum(a[k]["duplicates"] - ((b.get(k) or {}).get("duplicates", 0)) for k in ids)
total = sum(delta.values()) or 1
wsum = sum(a[k]["weight"] for k in ids)
worst = max(abs(delta[k] / total - a[k]["weight"] / wsum) for k in ids)
parts = " ".join(f"{k}(w{a[k]['weight']})={delta[k]} {100*delta[k]/total:.1f}%/{100*a[k]['weight']/wsum:.1f}%" for k in ids)
print(f"{sum(delta.values())} {dups} {'ok' if worst <= tol else 'off'} {100*worst:.2f} {parts}")
EOF
)
read -r analysed1 dups1 share_ok worst1 share_parts <<<"$shares"
read_assigned
read -r acc1 lost1 dup1 extra1 <<<"$(audit "${steady_ids[@]}")"
note "steady: accepted $accepted1 (per ingest: $per_ingest) analysed $analysed1 analyser-duplicates $dups1 | assigned audit: lost $lost1 dispatched-twice $dup1 unconfirmed-extra $extra1"
note "steady shares (got/expected): $share_parts; worst deviation ${worst1} pp (tolerance $(python3 -c "print($tolerance*100)") pp)"
[ "$analysed1" = "$accepted1" ] || fail "steady: analysed $analysed1 != accepted $accepted1"
[ "$lost1" = 0 ] || fail "steady: $lost1 accepted packet(s) never dispatched ($out/assigned.txt.lost)"
[ "$dup1" = 0 ] || fail "steady: $dup1 packet(s) dispatched twice ($out/assigned.txt.duplicates)"
[ "$dups1" = 0 ] || fail "steady: analysers dropped $dups1 duplicate(s)"
[ "$share_ok" = ok ] || fail "steady: shares off the weights by ${worst1} pp"

# ================= 2. logdist lag through the host listener =================
say "2. logdist lag --bootstrap $bootstrap"
if "${ld[@]}" lag --bootstrap "$bootstrap" --namespace "$ns" >"$out/lag.txt" 2>&1; then
    cat "$out/lag.txt"
    note "logdist lag through $bootstrap: ok ($(grep -cE '^a[0-9]' "$out/lag.txt" || true) analyser rows)"
else
    cat "$out/lag.txt" >&2
    fail "logdist lag --bootstrap $bootstrap failed"
fi

# ================= 3. kill a broker and a dispatcher under load =================
kc=""; dc=""
[ -n "$kill_kafka" ] && kc=$(container "$kill_kafka")
dc=$(container "$kill_dispatcher")
say "3. chaos: load for $chaos; SIGKILL ${kc:-no broker} at 8 s, ${dc:-no dispatcher} at 14 s, both started at 26 s"
mid=$(stats_sum)
pids=(); i=0
for u in "${ingests[@]}"; do i=$((i + 1)); load "chaos-$i" "$u" "$chaos"; pids+=($!); done
t0=$SECONDS
sleep 8
if [ -n "$kc" ]; then "$cli" kill "$kc" >/dev/null && say "killed $kc at $((SECONDS - t0)) s" || fail "could not kill $kc"; fi
sleep 6
if [ -n "$dc" ]; then "$cli" kill "$dc" >/dev/null && say "killed $dc at $((SECONDS - t0)) s" || fail "could not kill $dc"; fi
sleep 12
restarted=""
for c in $kc $dc; do
    # Docker and podman may already have restarted it (restart: unless-stopped); `start` is then a no-op
    if [ "$("$cli" inspect --format '{{.State.Status}}' "$c" 2>/dev/null)" = running ]; then
        restarted="$restarted $c(by its restart policy)"
    else
        "$cli" start "$c" >/dev/null 2>&1 || fail "could not start $c"
        restarted="$restarted $c(by smoke.sh at $((SECONDS - t0)) s)"
    fi
done
say "running again:$restarted"
for p in "${pids[@]}"; do wait "$p" || say "logdist load (chaos) exited non-zero (expected while a broker is down: 503s)"; done
chaos_ids=("$out"/ids-chaos-*.txt)
accepted2=$(cat "${chaos_ids[@]}" 2>/dev/null | wc -l)
# "Status      202=600 503=12" lines of logdist load: everything that is not a 202
non202=$(cat "$out"/load-chaos-*.log 2>/dev/null | awk '$1 == "Status" { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] != "202") s += kv[2] } } END { print s + 0 }')
wait_ready "${dispatchers[@]}" || true
# packets posted after the restarts: the pipeline continues
pids=(); i=0
for u in "${ingests[@]}"; do i=$((i + 1)); load "after-$i" "$u" 5s; pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "logdist load (after the restarts) exited non-zero"; done
after_ids=("$out"/ids-after-*.txt)
accepted3=$(cat "${after_ids[@]}" 2>/dev/null | wc -l)
# extra packets (written though answered 503) are analysed too: wait on Kafka's count, not the accepted count
read_assigned
read -r acc2 lost2 dup2 extra2 <<<"$(audit "${chaos_ids[@]}" "${after_ids[@]}")"
expected_total=$((base + analysed1 + accepted2 + accepted3 + extra2))
after2=$(wait_analysed "$expected_total") || fail "chaos: analysers did not reach $expected_total packets with lag 0 in 120 s"
read_assigned
read -r acc2 lost2 dup2 extra2 <<<"$(audit "${chaos_ids[@]}" "${after_ids[@]}")"
read -r analysed2 dups2 <<<"$(python3 - "$mid" "$after2" <<'EOF'
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(sum(a[k]["packets"] - ((b.get(k) or {}).get("packets", 0)) for k in a if a[k]),
      sum(a[k]["duplicates"] - ((b.get(k) or {}).get("duplicates", 0)) for k in a if a[k]))
EOF
)"
note "chaos: killed ${kc:-(no broker: single-broker stack)} and ${dc:-(none)} under load, restarted:$restarted; accepted $accepted2 during, $accepted3 after the restarts (non-2xx answers: $non202)"
note "chaos audit: analysed $analysed2 (= accepted $((accepted2 + accepted3)) + unconfirmed-extra $extra2) lost $lost2 dispatched-twice $dup2 analyser-duplicates $dups2"
[ "$lost2" = 0 ] || fail "chaos: $lost2 accepted packet(s) never dispatched ($out/assigned.txt.lost)"
[ "$dup2" = 0 ] || fail "chaos: $dup2 packet(s) dispatched twice, e.g. $(head -3 "$out/assigned.txt.duplicates" | tr '\n' ' ')($out/assigned.txt.duplicates)"
[ "$dups2" = 0 ] || fail "chaos: analysers dropped $dups2 duplicate(s)"
[ "$analysed2" = $((accepted2 + accepted3 + extra2)) ] \
    || fail "chaos: analysed $analysed2 != accepted $((accepted2 + accepted3)) + extra $extra2"
[ "$accepted3" -gt 0 ] || fail "chaos: nothing accepted after the restarts"
for c in $kc $dc; do
    st=$("$cli" inspect --format '{{.State.Status}}' "$c" 2>/dev/null)
    [ "$st" = running ] || fail "$c is $st after its restart"
done
note "dispatcher metrics: $(dispatcher_metrics | tr '\n' ';')"

# ================= 4. Prometheus scrapes every service =================
if [ -n "$prometheus_url" ]; then
    expected_targets=$(( ${#ingests[@]} + ${#dispatchers[@]} + ${#analysers[@]} ))
    deadline=$((SECONDS + 60))
    while :; do
        targets=$(curl -fsS --max-time 5 "$prometheus_url/api/v1/targets" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]["activeTargets"]
ours = [t for t in d if t["labels"].get("job", "").startswith("logdist-")]
up = [t for t in ours if t["health"] == "up"]
down = [t["scrapeUrl"] + " " + t["health"] + " " + t.get("lastError", "") for t in ours if t["health"] != "up"]
print(len(up), len(ours), "|", "; ".join(down))' 2>/dev/null)
        read -r up_n all_n _ <<<"$targets"
        [ "${up_n:-0}" -ge "$expected_targets" ] && [ "$up_n" = "$all_n" ] && break
        [ $SECONDS -ge $deadline ] && break
        sleep 2
    done
    note "prometheus: ${up_n:-0}/$expected_targets logdist targets up ${targets#*|}"
    [ "${up_n:-0}" -ge "$expected_targets" ] && [ "$up_n" = "$all_n" ] || fail "prometheus: targets not all up: $targets"
else
    fail "prometheus: not found (SMOKE_PROMETHEUS_URL)"
fi

# ================= report =================
{
    echo "logdist smoke report — $(date -u +%FT%TZ) — $cli project $project, $kafka_count broker(s), $(( SECONDS - start )) s"
    for line in "${report[@]}"; do echo "  $line"; done
    if [ ${#failures[@]} -eq 0 ]; then
        echo "RESULT: PASS"
    else
        echo "RESULT: FAIL (${#failures[@]})"
        for f in "${failures[@]}"; do echo "  - $f"; done
    fi
} | tee "$out/report.txt"
echo "(ids, load logs, lag and the assigned-topic audit in $out)"
[ ${#failures[@]} -eq 0 ]

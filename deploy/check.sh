#!/usr/bin/env bash
# Validates deploy/ without a Docker engine (CI-safe):
#   1. `docker-compose config -q` (Debian's docker-compose 1.29, or Compose v2's `docker compose`) on
#      compose.yaml and compose.single.yaml, with and without the `load` profile;
#   2. check_compose.py: service graph, healthchecks, ids/partitions/weights, Prometheus targets, single = triple;
#   3. check_dashboard.py: the Grafana dashboard is valid JSON and queries only exported metrics (metrics.txt);
#   4. Dockerfile basics: multi-stage, non-root user, ENTRYPOINT ["logdist"]; provisioning files parse.
# Usage: deploy/check.sh   (exits non-zero and says what failed)
# Needs: docker-compose (apt-get install -y docker-compose; brings python3-yaml) or docker compose v2, python3.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."

failures=()
fail() { failures+=("$1"); echo "FAIL $1" >&2; }
ok() { echo "ok   $1"; }

if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
else
    echo "check.sh: needs docker-compose (sudo apt-get install -y docker-compose) or Docker Compose v2" >&2
    exit 2
fi

# Compose interpolation must not depend on the caller's environment.
unset LOGDIST_IMAGE KAFKA_IMAGE PROMETHEUS_IMAGE GRAFANA_IMAGE LOGDIST_BIND LOGDIST_NAMESPACE \
      LOGDIST_PACKET_PARTITIONS LOGDIST_ADMIN_TOKEN LOGDIST_LOG_LEVEL GRAFANA_ADMIN_PASSWORD LOGDIST_KAFKA_HOST
for v in $(compgen -v LOGDIST_PORT_); do unset "$v"; done

for file in deploy/compose.yaml deploy/compose.single.yaml; do
    for profile in "" load; do
        args=(-f "$file")
        [ -n "$profile" ] && args+=(--profile "$profile")
        label="${compose[*]} ${args[*]} config -q"
        if out=$("${compose[@]}" "${args[@]}" config -q 2>&1); then
            ok "$label"
        else
            fail "$label: $out"
        fi
    done
done

if python3 -c 'import yaml' 2>/dev/null; then
    if python3 deploy/check_compose.py; then ok "check_compose.py"; else fail "check_compose.py"; fi
    for f in deploy/prometheus/prometheus.yml deploy/grafana/provisioning/datasources/*.yaml \
             deploy/grafana/provisioning/dashboards/*.yaml; do
        if python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$f" 2>/dev/null; then
            ok "YAML $f"
        else
            fail "YAML $f does not parse"
        fi
    done
else
    fail "python3-yaml missing (apt-get install -y python3-yaml): check_compose.py not run"
fi

if python3 deploy/check_dashboard.py; then ok "check_dashboard.py"; else fail "check_dashboard.py"; fi

dockerfile=deploy/Dockerfile
[ "$(grep -c '^FROM ' "$dockerfile")" -ge 2 ] && ok "Dockerfile: multi-stage" || fail "Dockerfile: not multi-stage"
user=$(grep '^USER ' "$dockerfile" | tail -1 | awk '{print $2}')
if [ -n "$user" ] && [ "${user%%:*}" != root ] && [ "${user%%:*}" != 0 ]; then
    ok "Dockerfile: runs as $user"
else
    fail "Dockerfile: last USER is missing or root"
fi
grep -q '^ENTRYPOINT \["logdist"\]' "$dockerfile" && ok 'Dockerfile: ENTRYPOINT ["logdist"]' \
    || fail 'Dockerfile: ENTRYPOINT ["logdist"] missing'
grep -q 'librdkafka1' "$dockerfile" && ok "Dockerfile: runtime librdkafka1" || fail "Dockerfile: librdkafka1 missing"
for path in $(sed -n 's/^COPY \([A-Za-z][^ ]*\) .*/\1/p' "$dockerfile" | grep -v -- '--from'); do
    case "$path" in *'['*) continue ;; esac  # optional files (glob)
    [ -e "$path" ] || fail "Dockerfile: COPY source $path missing from the build context"
done

if [ ${#failures[@]} -ne 0 ]; then
    echo "deploy/check.sh: ${#failures[@]} failure(s)" >&2
    exit 1
fi
echo "deploy/check.sh: all checks passed"

#!/usr/bin/env bash
# Runs the containers' healthchecks on a podman host without systemd.
#
# Podman schedules healthchecks with systemd timers; without systemd ("unable to get systemd connection to start
# healthchecks") no check ever runs, every container stays "starting" and Compose's `condition: service_healthy`
# waits forever. This loop does systemd's part: every running container that has a healthcheck gets
# `podman healthcheck run` at its own interval (and its start period is honoured by podman itself).
#
#   deploy/podman-healthchecks.sh &          # leave it running while the stack runs; Ctrl-C / kill its pid to stop
#   PROJECT=logdist deploy/podman-healthchecks.sh   # only the containers of one Compose project
#
# Not needed with Docker, nor with podman under systemd.
set -uo pipefail
podman=${PODMAN:-podman}
project=${PROJECT:-}
declare -A last=() every=()

interval_of() { # seconds, from the container's healthcheck config (nanoseconds); 30 s when unset, as podman
    local ns
    ns=$("$podman" inspect --format '{{.Config.Healthcheck.Interval}}' "$1" 2>/dev/null) || { echo 30; return; }
    [[ "$ns" =~ ^[0-9]+$ ]] && [ "$ns" -gt 0 ] && echo $(( (ns + 999999999) / 1000000000 )) || echo 30
}

while true; do
    filter=(--filter status=running)
    [ -n "$project" ] && filter+=(--filter "label=com.docker.compose.project=$project")
    now=$(date +%s)
    while read -r id; do
        [ -z "$id" ] && continue
        if [ -z "${every[$id]:-}" ]; then # looked up once per container
            has=$("$podman" inspect --format '{{if .Config.Healthcheck}}{{len .Config.Healthcheck.Test}}{{else}}0{{end}}' "$id" 2>/dev/null || echo 0)
            if [ "${has:-0}" -gt 0 ]; then every[$id]=$(interval_of "$id"); else every[$id]=none; fi
        fi
        [ "${every[$id]}" = none ] && continue
        if [ $(( now - ${last[$id]:-0} )) -ge "${every[$id]}" ]; then
            last[$id]=$now
            "$podman" healthcheck run "$id" >/dev/null 2>&1 &
        fi
    done < <("$podman" ps -q "${filter[@]}")
    sleep 1
done

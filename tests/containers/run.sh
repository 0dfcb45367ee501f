#!/usr/bin/env bash
# tests/containers: ./dev containers-test — the images and compose.yaml on a real engine, as an operator runs them.
#
# Sets the engine up when it is missing and it can (engine.sh: root, Debian's packages, a dockerd of our own
# under .local/containers/), then runs scenario.py (base images, build, stops, the webhook, scaling, figures),
# and tears down what it started — the project's containers, networks and volumes, the daemon, its bridges
# and NAT rules — on success, failure or interruption alike. Fails loudly when no engine can be had: no skip.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=${MEDIABUY_CONTAINERS_PROJECT:-mediabuy-sync-ctest}
export MEDIABUY_CONTAINERS_PROJECT=$PROJECT

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "containers-test: tearing down (project $PROJECT, then the engine)" >&2
    docker compose --project-name "$PROJECT" --profile demo -f "$HERE/../../compose.yaml" \
      down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || true
    "$HERE/engine.sh" down || rc=1
    # What must be gone: the daemon, our bridges, any DOCKER rule
    if ip -o link show type bridge 2>/dev/null | grep -q -E 'mbsync0|br-[0-9a-f]{12}' \
       || { command -v iptables >/dev/null && iptables-save 2>/dev/null | grep -q DOCKER; }; then
      echo "containers-test: FAILED: bridges or NAT rules were left behind" >&2; rc=1
    else
      echo "containers-test: torn down: no daemon, bridge or DOCKER rule left" >&2
    fi
  fi
  exit "$rc"
}

started=$(date +%s%N)
lines=$("$HERE/engine.sh" up)  # on failure it has said why (not root, no apt-get, …), and we fail with it
eval "$lines"
child=""
trap teardown EXIT
# Interrupted (Ctrl-C, CI's stop): end the scenario first, then the EXIT trap tears down. The scenario runs in
# the background and we `wait` for it, since bash runs a trap only once its foreground command has returned.
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 130' INT TERM
ms=$(( ($(date +%s%N) - started) / 1000000 ))
MEDIABUY_CONTAINERS_ENGINE_SECONDS=$((ms / 1000)).$(( (ms % 1000) / 100 ))
export MEDIABUY_CONTAINERS_ENGINE_SECONDS
# DOCKER_HOST and DOCKER_CONFIG (from engine.sh) point every docker command below at our daemon only
python3 "$HERE/scenario.py" &
child=$!
wait "$child"

#!/usr/bin/env bash
# tests/containers: a container engine of the checkout's own, for ./dev containers-test.
#
#   engine.sh up     install what is missing (root: Debian's docker.io, Compose v2 and buildx from Debian
#                    trixie's .debs unpacked into our own cli-plugins folder), start dockerd by hand with its
#                    own data-root, exec-root, socket and pidfile under .local/containers/, and print the
#                    shell lines (DOCKER_HOST, DOCKER_CONFIG) that point the docker CLI at it
#   engine.sh down   stop that dockerd by its pid and remove what it left: its bridges and its iptables rules
#
# Why by hand: these machines run no init system that could start docker.io's service, and the daemon must
# not touch anything outside the checkout (other engineers share the machine). Facts: ../shared/CONTAINERS.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${MEDIABUY_CONTAINERS_STATE:-$ROOT/.local/containers}
# Unix sockets have a 108-byte path limit: the exec-root (containerd's sockets live under it) goes in /run
# under a name derived from the state folder, so that a deep checkout path still works.
RUN_DIR=/run/mediabuy-containers-$(printf '%s' "$STATE" | sha1sum | cut -c1-10)
PIDFILE=$STATE/dockerd.pid
SOCKET=$RUN_DIR/docker.sock
# A bridge of our own (not docker0), so that teardown can remove exactly what this daemon made.
BRIDGE=mbsync0
BRIDGE_CIDR=${MEDIABUY_CONTAINERS_BRIDGE_CIDR:-10.213.0.1/24}
# Compose's own networks come from this pool (never the host's or another engine's ranges).
POOL=${MEDIABUY_CONTAINERS_POOL:-10.214.0.0/16}

say() { echo "containers-test: $*" >&2; }
die() { say "CANNOT RUN: $*"; exit 1; }

apt_install() {
  # another engineer's ./dev may hold the dpkg lock for a while: wait for it rather than fail
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
         apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" >/dev/null; }
}

install_engine() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v iptables >/dev/null || missing+=(iptables)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "${missing[*]} missing and this is not root: install them (apt-get install ${missing[*]}) or run as root"
  command -v apt-get >/dev/null || die "${missing[*]} missing and there is no apt-get to install them"
  say "installing ${missing[*]} (apt-get)"
  # docker.io's and containerd's postinst would start their services with the default data-root: a
  # policy-rc.d that forbids starting services keeps them stopped (we start our own daemon below).
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  apt_install "${missing[@]}" || { [ -n "$added" ] && rm -f "$policy"; die "apt-get install ${missing[*]} failed"; }
  [ -n "$added" ] && rm -f "$policy"
  return 0
}

# Compose v2 and buildx: Debian 12 has only docker-compose 1.29 (which rejects compose.yaml); trixie's packages
# carry the v2 plugins. Downloaded with a private apt state (our own sources list, lists and cache) so that the
# machine's apt configuration is untouched, and unpacked with dpkg-deb into our own cli-plugins folder.
install_plugins() {
  local plugins=$STATE/config/cli-plugins
  [ -x "$plugins/docker-compose" ] && [ -x "$plugins/docker-buildx" ] && return 0
  command -v apt-get >/dev/null || die "no Compose v2 plugin in $plugins and no apt-get to fetch Debian's"
  say "fetching Compose v2 and buildx (Debian trixie's docker-compose and docker-buildx .debs)"
  local apt=$STATE/apt mirror
  mirror=$(grep -h -o -E 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/debs" "$plugins"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$mirror" >"$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::Archives=$apt/archives"
              -o "Dir::State::Status=/dev/null" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root")
  apt-get "${opts[@]}" update -q >/dev/null || die "apt-get update of Debian trixie's lists failed"
  (cd "$apt/debs" && apt-get "${opts[@]}" download docker-compose docker-buildx >/dev/null) \
    || die "could not download trixie's docker-compose / docker-buildx .debs"
  rm -rf "$apt/x" && mkdir -p "$apt/x"
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$apt/x"; done
  for name in docker-compose docker-buildx; do
    local found
    found=$(find "$apt/x" -type f -name "$name" -path '*cli-plugins*' | head -1)
    [ -n "$found" ] || die "$name not found in the trixie package"
    install -m 0755 "$found" "$plugins/$name"
  done
  rm -rf "$apt/x" "$apt/debs" "$apt/lists" "$apt/archives"
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start_daemon() {
  [ "$(id -u)" = 0 ] || die "dockerd must be started as root (this is uid $(id -u))"
  if running; then return 0; fi
  mkdir -p "$STATE/data" "$RUN_DIR"
  # our own bridge, so that teardown removes exactly it (dockerd would reuse docker0 of another engine)
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge && ip addr add "$BRIDGE_CIDR" dev "$BRIDGE" && ip link set "$BRIDGE" up
  fi
  say "starting dockerd (data-root $STATE/data)"
  # setsid: the daemon outlives this shell, and its own process group keeps it out of our callers' signals
  setsid dockerd --data-root "$STATE/data" --exec-root "$RUN_DIR/exec" --pidfile "$PIDFILE" \
    --host "unix://$SOCKET" --bridge "$BRIDGE" --default-address-pool "base=$POOL,size=24" \
    --containerd-namespace mediabuy-sync --containerd-plugins-namespace mediabuy-sync-plugins \
    >"$STATE/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    if DOCKER_HOST=unix://$SOCKET docker version >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  tail -20 "$STATE/dockerd.log" >&2
  die "dockerd did not answer within 30 s (log: $STATE/dockerd.log)"
}

stop_daemon() {
  if running; then
    local pid; pid=$(cat "$PIDFILE")
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { say "dockerd did not stop in 30 s: killing it"; kill -KILL "$pid"; }
  fi
  rm -f "$PIDFILE"
  # dockerd leaves its chains and rules behind when it stops: remove every rule naming a DOCKER chain or one
  # of our bridges (compose's br-… and ours), then the chains themselves.
  local table rule bridges
  bridges=$(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep -E "^($BRIDGE|br-[0-9a-f]{12})$" || true)
  if command -v iptables >/dev/null; then
    for table in nat filter; do
      iptables -t "$table" -S 2>/dev/null | grep '^-A' | grep -E -- "DOCKER|$BRIDGE|br-[0-9a-f]{12}" | sed 's/^-A/-D/' \
        | while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
      for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^DOCKER/ {print $2}'); do
        iptables -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^DOCKER/ {print $2}'); do
        iptables -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  fi
  for b in $bridges; do ip link delete "$b" 2>/dev/null || true; done
  # the veths went with their containers; the exec-root is only state of the stopped daemon
  rm -rf "$RUN_DIR"
}

case "${1:-}" in
  up)
    [ "$(id -u)" = 0 ] || command -v dockerd >/dev/null || die "no container engine here and not root: cannot set one up"
    install_engine
    install_plugins
    start_daemon
    echo "export DOCKER_HOST=unix://$SOCKET DOCKER_CONFIG=$STATE/config"
    ;;
  down)
    stop_daemon
    ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# //'; exit 2 ;;
esac

#!/usr/bin/env bash
# tests/containers: the base images compose.yaml and the Dockerfiles name, real or stand-in.
#
#   standins.sh TAG...   for each tag: kept if present, else pulled, else (no registry reachable, as on these
#                        machines) built as a stand-in from Debian 12 under the same tag, labelled
#                        mediabuy-sync.stand-in=true. Prints one line per tag: "TAG real" or "TAG stand-in".
# The docker CLI must point at the engine (engine.sh up prints how). Stand-ins trust the host's CA
# certificates, which TLS from inside a build needs here (../shared/CONTAINERS.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${MEDIABUY_CONTAINERS_STATE:-$(cd "$HERE/../.." && pwd)/.local/containers}

say() { echo "containers-test: $*" >&2; }
die() { say "CANNOT RUN: $*"; exit 1; }

standin_of() {
  case "$1" in
    python:*) echo python ;; postgres:*) echo postgres ;; redis:*) echo redis ;; nginx:*) echo nginx ;;
    *) die "no stand-in for $1 and it cannot be pulled" ;;
  esac
}

kind() {  # an image we have: real, or a stand-in of ours
  [ "$(docker image inspect --format '{{index .Config.Labels "mediabuy-sync.stand-in"}}' "$1")" = true ] && echo stand-in || echo real
}

base() {  # debian:bookworm-slim, pulled or made with debootstrap (minbase) from the host's Debian mirror
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
  docker pull -q debian:bookworm-slim >/dev/null 2>&1 && return 0
  command -v debootstrap >/dev/null || die "debian:bookworm-slim cannot be pulled and debootstrap is missing"
  local rootfs=$STATE/rootfs mirror
  mirror=$(grep -h -o -E 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 | tr -d ' ' || true)
  say "making debian:bookworm-slim with debootstrap (no registry reachable)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >"$STATE/debootstrap.log" 2>&1 \
    || { tail -5 "$STATE/debootstrap.log" >&2; die "debootstrap failed (log: $STATE/debootstrap.log)"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  # as the official debian image: apt keeps no package cache in an image layer
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
  tar -C "$rootfs" -c . | docker import - debian:bookworm-slim >/dev/null
  rm -rf "$rootfs"
}

# Each tag: present or pulled (real, or a stand-in of an earlier run), else built below — the stand-ins in
# parallel (mostly waiting on the package mirror), each from its own build context.
needed=()
for tag in "$@"; do
  if docker image inspect "$tag" >/dev/null 2>&1 || docker pull -q "$tag" >/dev/null 2>&1; then
    echo "$tag $(kind "$tag")"
  else
    standin_of "$tag" >/dev/null
    needed+=("$tag")
  fi
done
[ ${#needed[@]} -eq 0 ] && exit 0
base
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pids=()
for tag in "${needed[@]}"; do
  name=$(standin_of "$tag")
  say "building a stand-in for $tag (Docker Hub cannot be reached)"
  context=$work/$name
  mkdir -p "$context/ca"
  cp "$HERE"/standins/* "$context/"
  cp /usr/local/share/ca-certificates/*.crt "$context/ca/" 2>/dev/null || true
  docker build -q --label mediabuy-sync.stand-in=true -t "$tag" -f "$context/$name.Dockerfile" "$context" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
done
failed=""
for i in "${!needed[@]}"; do
  if wait "${pids[$i]}"; then
    echo "${needed[$i]} stand-in"
  else
    name=$(standin_of "${needed[$i]}")
    tail -20 "$work/$name.log" >&2
    failed+=" ${needed[$i]}"
  fi
done
[ -z "$failed" ] || die "building the stand-in for$failed failed"

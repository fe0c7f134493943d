#!/usr/bin/env bash
# Installs the Debian 12 packages that only the benchmarks need (the peers
# taskgrid is compared against, and GNU time for peak memory). Idempotent:
# when everything is already installed it does nothing (no apt-get update),
# so a second run is instant and works offline.
set -euo pipefail

BENCH_PKGS=(
  time           # /usr/bin/time -v: wall time and maximum resident set size
  redis-server   # broker and result backend for the Celery peer
  python3-celery
  python3-redis  # kombu's / celery's redis transport (only "Suggested" by celery)
  python3-distributed  # Dask distributed (pulls python3-dask)
  parallel       # GNU parallel: the `parallel 'zcat {} | awk ...'` logstats peer
  isal           # igzip: the 2-core gzip decode-only limit in the logstats benchmark
  zstd           # zstd/zstdcat: the zstd peers in the logstats benchmark
)

want=("${BENCH_PKGS[@]}" "$@")
missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

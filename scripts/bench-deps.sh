#!/usr/bin/env bash
# Installs the Debian 12 packages that only the benchmarks need (the peers
# taskgrid is compared against, and GNU time for peak memory), through
# deps.sh: idempotent, no apt-get update when everything is there.
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
  sqlite3        # bench/logstats_phases.sh reads the job's state file
)

# deps.sh does the installing (and installs the build packages too, which a
# benchmark needs anyway).
exec "$(dirname "$0")/deps.sh" "${BENCH_PKGS[@]}" "$@"

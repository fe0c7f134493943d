#!/usr/bin/env bash
# Runs taskgrid's end-to-end benchmarks and prints their results (RESULT
# lines and markdown table rows, see docs/benchmarks.md). It writes nothing:
# copy the figures into docs/benchmarks.md by hand, with the machine and date.
#
#   bench/run_all.sh BUILD_DIR        (./dev.sh bench runs: bench/run_all.sh build)
#
# Environment:
#   NOOP_TASKS=1000000      no-op throughput run, against Celery and Dask
#   NOOP_BIG_TASKS=10000000 taskgrid alone, must complete (0 skips it)
#   CELERY_TASKS, DASK_TASKS, PYTHON: see bench/noop_e2e.sh
#   LOGSTATS_SIZE=2GiB, LOGSTATS_DIR, LOGSTATS_CODECS, LOGSTATS_SPLIT,
#   LOGSTATS_RUNS, LOGSTATS_PEERS:
#                           log processing throughput, see bench/logstats_e2e.sh
#   CLUSTER_PARTS, CLUSTER_NOOP_TASKS, CLUSTER_WORKERS, CLUSTER_SLOTS,
#   CLUSTER_RUNS, CLUSTER_LATENCY_JOBS, CLUSTER_LOGSTATS_SIZE, CLUSTER_PEERS:
#                           cluster mode (master + PostgreSQL + worker
#                           processes), see bench/cluster_e2e.sh
# Exits non-zero if any benchmark failed.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR   (env: NOOP_TASKS, NOOP_BIG_TASKS, CELERY_TASKS, DASK_TASKS, LOGSTATS_SIZE, ...)" >&2
  exit 2
fi
BUILD_DIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
NOOP_TASKS=${NOOP_TASKS:-1000000}
NOOP_BIG_TASKS=${NOOP_BIG_TASKS:-10000000}

# The peers (Celery, Redis, Dask, GNU parallel, igzip, zstd) and GNU time;
# does nothing when installed.
"$HERE/../scripts/bench-deps.sh"

failed=()

echo "### no-op subtask throughput: taskgrid ($NOOP_TASKS) vs Celery and Dask"
"$HERE/noop_e2e.sh" "$BUILD_DIR" "$NOOP_TASKS" || failed+=("noop_e2e $NOOP_TASKS")

if [[ $NOOP_BIG_TASKS != 0 ]]; then
  echo
  echo "### no-op subtask throughput: taskgrid alone, $NOOP_BIG_TASKS subtasks"
  PEERS="" "$HERE/noop_e2e.sh" "$BUILD_DIR" "$NOOP_BIG_TASKS" || failed+=("noop_e2e $NOOP_BIG_TASKS")
fi

echo
echo "### log processing throughput: taskgrid logstats vs parallel+awk and the decode-only limit (${LOGSTATS_SIZE:-2GiB} per encoding)"
"$HERE/logstats_e2e.sh" "$BUILD_DIR" || failed+=("logstats_e2e")

echo
echo "### cluster mode: no-op throughput, single-task latency and logstats, master + PostgreSQL + ${CLUSTER_WORKERS:-2} worker processes"
"$HERE/cluster_e2e.sh" "$BUILD_DIR" || failed+=("cluster_e2e")

echo
echo "### dashboard: task-list pages of a ${DASH_TASKS:-10000000}-task job"
"$HERE/dashboard_tasks.sh" "$BUILD_DIR" || failed+=("dashboard_tasks")

echo
if ((${#failed[@]})); then
  echo "run_all: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run_all: all benchmarks completed"

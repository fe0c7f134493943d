#!/usr/bin/env bash
# The task-list page of a 10,000,000-task job, as the dashboard asks for it:
# GET /api/jobs/{id}/tasks pages at the start, middle and end of the job,
# with and without filters, timed with curl against `taskgrid dashboard`.
#
#   bench/dashboard_tasks.sh BUILD_DIR
#
# Makes (once, kept in $DASH_DIR) a SQLite state file holding a finished
# 10M-task noop job (`taskgrid run`, about a minute), then serves it and
# prints the median and p90 of DASH_REPS requests per query, in ms.
# Environment: DASH_DIR (default /tmp/taskgrid-dash-bench), DASH_TASKS
# (10000000), DASH_REPS (20), DASH_PORT (7791).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

build=${1:?usage: $0 BUILD_DIR}
tg=$(cd "$build" && pwd)/taskgrid
dir=${DASH_DIR:-/tmp/taskgrid-dash-bench}
tasks=${DASH_TASKS:-10000000}
reps=${DASH_REPS:-20}
port=${DASH_PORT:-7791}
state=$dir/state-$tasks.db
CHILD_PID=""
SERVER_PID=""
cleanup() {
  stop_pid "$CHILD_PID"
  stop_pid "$SERVER_PID"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_machine "$here/.."
mkdir -p "$dir"
if [[ ! -f $state ]]; then
  cat >"$dir/noop.yaml" <<EOF
name: noop-$tasks
processor: noop
model: map
input: {range: {start: 0, end: $tasks, step: 1}}
EOF
  echo "making a $tasks-task job in $state (once)"
  t0=$(now_ns)
  run_child "$tg" run "$dir/noop.yaml" --state "$state" --workers 2 \
    --no-progress >"$dir/run.log" 2>&1 || {
    show_tail "$dir/run.log" run 20
    rm -f "$state"
    exit 1
  }
  echo "  done in $(secs_since "$t0") s"
fi

setsid "$tg" dashboard --state "$state" --http "127.0.0.1:$port" \
  >"$dir/dashboard.log" 2>&1 &
SERVER_PID=$!
base=http://127.0.0.1:$port
for ((i = 0; i < 100; i++)); do
  curl -sf "$base/api/jobs?limit=1" >/dev/null 2>&1 && break
  sleep 0.1
done
job=$(curl -sf "$base/api/jobs?limit=1" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p' | head -1)
[[ -n $job ]] || {
  show_tail "$dir/dashboard.log" dashboard 20
  exit 1
}

# time_query PATH [REPS]: prints "median p90" in ms over REPS (default
# $reps) requests.
time_query() {
  local i n=${2:-$reps}
  for ((i = 0; i < n; i++)); do
    curl -s -o /dev/null -w '%{time_total}\n' "$base$1"
  done | sort -n | awk '{ t[NR] = $1 * 1000 }
    END { printf "%.1f %.1f\n", t[int((NR + 1) / 2)], t[int(NR * 0.9 + 0.5)] }'
}

mid=$((tasks / 2))
last=$((tasks - 100))
echo
echo "| query (job $job, $tasks tasks) | median ms | p90 ms |"
echo "|---|---:|---:|"
for q in \
  "/api/jobs/$job" \
  "/api/jobs/$job/tasks?limit=100" \
  "/api/jobs/$job/tasks?after=$mid&limit=100" \
  "/api/jobs/$job/tasks?after=$last&limit=100" \
  "/api/jobs/$job/tasks?offset=$mid&limit=100" \
  "/api/jobs/$job/tasks?state=succeeded&after=$mid&limit=100" \
  "/api/jobs/$job/tasks?stage=map&after=$last&limit=100" \
  "/api/jobs/$job/tasks?state=dead&limit=100" \
  "/api/jobs/$job/tasks?state=failed&sort=attempts&limit=100"; do
  read -r med p90 < <(time_query "$q")
  echo "| \`$q\` | $med | $p90 |"
done
# Sorted pages scan the job's tasks: a few requests each.
for q in \
  "/api/jobs/$job/tasks?sort=duration&limit=100" \
  "/api/jobs/$job/tasks?sort=attempts&offset=1000&limit=100"; do
  read -r med p90 < <(time_query "$q" "${DASH_SORT_REPS:-3}")
  echo "| \`$q\` (${DASH_SORT_REPS:-3} requests) | $med | $p90 |"
done

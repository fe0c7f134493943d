#!/usr/bin/env bash
# Where a logstats job's wall time goes, phase by phase, from the state
# file it leaves: for telling the host's speed (the map phase) apart from
# what the job waits on (start-up, the reduce's tail, the commit, the exit).
#
#   bench/logstats_phases.sh BUILD_DIR [RUNS]
#
# Runs BUILD_DIR/taskgrid run SPEC --workers 2 --state TMP/state.db
# --no-progress RUNS times (default 8) on LOGSTATS_DIR/<ENCODING>/logs/**
# (the data bench/logstats_e2e.sh generates and keeps), a fresh state file
# and output directory each time, and prints per run, in milliseconds:
#   wall        process start to exit (as this script sees it)
#   to_created  process start to the job's row (spec read, files globbed,
#               tasks created)
#   first_task  job created to the first map task started
#   last_map    job created to the last map task finished
#   reduce      the last map to the reduce finished
#   commit      the reduce to the job finished (outputs committed)
#   exit        the job finished to the process's exit
# Environment: LOGSTATS_DIR (/tmp/taskgrid-logstats-bench), ENCODING (gz).
# Needs sqlite3 (scripts/bench-deps.sh).
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || {
  echo "usage: $0 BUILD_DIR [RUNS]" >&2
  exit 2
}
tg=$1/taskgrid
runs=${2:-8}
[[ -x $tg ]] || { echo "no taskgrid binary at $tg" >&2; exit 2; }
data=${LOGSTATS_DIR:-/tmp/taskgrid-logstats-bench}/${ENCODING:-gz}/logs
[[ -d $data ]] || {
  echo "no logs in $data: run bench/logstats_e2e.sh first" >&2
  exit 2
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-phases.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/spec.yaml" <<YAML
name: bench-logstats-phases
processor: logstats
model: mapreduce
input: {files: ["$data/**"]}
output: "$tmp/out"
YAML
echo "wall to_created first_task last_map reduce commit exit"
for ((r = 1; r <= runs; r++)); do
  rm -rf "$tmp/out" "$tmp"/state.db*
  start=$(($(date +%s%N) / 1000000))
  "$tg" run "$tmp/spec.yaml" --workers 2 --state "$tmp/state.db" \
    --no-progress >/dev/null 2>"$tmp/err" || {
    cat "$tmp/err" >&2
    exit 1
  }
  end=$(($(date +%s%N) / 1000000))
  sqlite3 -separator ' ' "$tmp/state.db" "
    SELECT $end - $start, j.created_ms - $start,
           m.first - j.created_ms, m.last - j.created_ms,
           r.done - m.last, j.finished_ms - r.done, $end - j.finished_ms
    FROM jobs j,
         (SELECT min(started_ms) AS first, max(finished_ms) AS last
          FROM tasks WHERE stage <> 'reduce') m,
         (SELECT max(finished_ms) AS done FROM tasks WHERE stage = 'reduce') r"
done

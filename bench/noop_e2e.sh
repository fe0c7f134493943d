#!/usr/bin/env bash
# No-op subtask throughput, end to end: taskgrid against Celery (Redis broker)
# and Dask distributed, all measured in this run on this machine.
#
#   bench/noop_e2e.sh BUILD_DIR [TASKS]       TASKS defaults to 1000000
#
# Environment:
#   CELERY_TASKS=20000  DASK_TASKS=20000  task counts for the peers (they are
#                       ~1000x slower; these finish in ~10-60 s each)
#   PEERS=celery,dask   which peers to run; PEERS= runs taskgrid alone
#   PYTHON=/usr/bin/python3   the interpreter that sees Debian's packages
#
# taskgrid: BUILD_DIR/taskgrid run SPEC --workers 2 --state TMP/state.db under
# /usr/bin/time -v (wall time from the clock around it, peak memory from
# "Maximum resident set size"). Peers: bench/peers/*.py, each sums the memory
# of its whole process tree (client, workers, scheduler, redis-server).
#
# Prints a RESULT line per system, then a markdown table row per system.
# Exits non-zero if any system failed (or the taskgrid binary is missing,
# after the peers have run). Debian packages: scripts/bench-deps.sh.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR [TASKS]   (env: CELERY_TASKS, DASK_TASKS, PEERS, PYTHON)" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
BUILD_ARG=$1
TASKS=${2:-1000000}
CELERY_TASKS=${CELERY_TASKS:-20000}
DASK_TASKS=${DASK_TASKS:-20000}
PEERS=${PEERS-celery,dask}
PYTHON=${PYTHON:-/usr/bin/python3}
for n in "$TASKS" "$CELERY_TASKS" "$DASK_TASKS"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "not a positive task count: $n" >&2; usage; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ -d $BUILD_ARG ]]; then BUILD_DIR=$(cd "$BUILD_ARG" && pwd); else BUILD_DIR=$BUILD_ARG; fi
TG=$BUILD_DIR/taskgrid

# stop_pid, run_child, now_ns, bench_machine
source "$ROOT/bench/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-bench.XXXXXX")
REDIS_PID=""
CHILD_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$CHILD_PID" 30
  stop_pid "$REDIS_PID" 5
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

field() { # "RESULT k=v ..." key -> v
  local kv
  for kv in $1; do
    if [[ $kv == "$2="* ]]; then
      echo "${kv#*=}"
      return 0
    fi
  done
  echo "-"
}

# ---------------------------------------------------------------- machine
bench_machine "$ROOT"

declare -A STATUS SECS RATE MEM VERSION CMD
SYSTEMS=()
FAILED=0

record_peer() { # name result-line command
  local name=$1 line=$2
  SYSTEMS+=("$name")
  CMD[$name]=$3
  if [[ -z $line ]]; then
    STATUS[$name]=FAILED
    FAILED=1
    return
  fi
  STATUS[$name]=ok
  SECS[$name]=$(field "$line" seconds)
  RATE[$name]=$(field "$line" rate)
  MEM[$name]="$(field "$line" peak_rss_mib) (PSS $(field "$line" peak_pss_mib))"
  VERSION[$name]=$(field "$line" version)
}

# ---------------------------------------------------------------- taskgrid
TG_CMD="$BUILD_ARG/taskgrid run noop.yaml --workers 2 --state state.db"
SYSTEMS+=(taskgrid)
CMD[taskgrid]=$TG_CMD
VERSION[taskgrid]=$REV
if [[ ! -x $TG ]]; then
  echo "taskgrid binary missing: $TG (build it first: ./dev.sh build)" >&2
  STATUS[taskgrid]=MISSING
  FAILED=1
elif [[ ! -x /usr/bin/time ]]; then
  echo "/usr/bin/time missing: run scripts/bench-deps.sh" >&2
  STATUS[taskgrid]=FAILED
  FAILED=1
else
  SPEC=$TMP/noop.yaml
  cat >"$SPEC" <<EOF
name: bench-noop
processor: noop
model: map
input: {range: {start: 0, end: $TASKS, step: 1}}
EOF
  echo "== taskgrid: $TASKS no-op subtasks: $TG_CMD"
  rc=0
  t0=$(now_ns)
  # cwd=TMP: anything the run leaves behind (.taskgrid/, logs) goes with TMP.
  run_child env -C "$TMP" /usr/bin/time -v -o "$TMP/taskgrid.time" \
    "$TG" run "$SPEC" --workers 2 --state "$TMP/state.db" \
    >"$TMP/taskgrid.log" 2>&1 || rc=$?
  t1=$(now_ns)
  tr '\r' '\n' <"$TMP/taskgrid.log" | grep -v '^[[:space:]]*$' | tail -n 5 | sed 's/^/  taskgrid| /' || true
  rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/taskgrid.time" 2>/dev/null || true)
  if ((rc != 0)) || [[ -z $rss_kib ]]; then
    echo "taskgrid FAILED (exit $rc); the end of its output:" >&2
    tr '\r' '\n' <"$TMP/taskgrid.log" | tail -n 30 | sed 's/^/  taskgrid| /' >&2 || true
    STATUS[taskgrid]=FAILED
    FAILED=1
  else
    STATUS[taskgrid]=ok
    SECS[taskgrid]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    RATE[taskgrid]=$(awk -v n="$TASKS" -v s="${SECS[taskgrid]}" 'BEGIN { printf "%.1f", n / s }')
    MEM[taskgrid]=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "RESULT peer=taskgrid tasks=$TASKS seconds=${SECS[taskgrid]} rate=${RATE[taskgrid]} peak_rss_mib=${MEM[taskgrid]}"
  fi
fi

# ---------------------------------------------------------------- peers
peer_result() { # output file -> the RESULT line, or nothing
  grep '^RESULT ' "$1" | tail -n 1 || true
}

if [[ ,$PEERS, == *,celery,* ]]; then
  echo "== celery: $CELERY_TASKS no-op tasks (redis broker + result backend, prefork worker -c 2)"
  line=""
  if ! command -v redis-server >/dev/null || ! "$PYTHON" -c 'import celery, redis' 2>/dev/null; then
    echo "celery peer: redis-server / python3-celery / python3-redis missing: run scripts/bench-deps.sh" >&2
  else
    PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Throwaway: loopback only, no RDB snapshots, no AOF, files in TMP.
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$TMP" --logfile "$TMP/redis.log" --daemonize no &
    REDIS_PID=$!
    for ((i = 0; i < 100; i++)); do
      [[ $(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]] && break
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
    rc=0
    run_child "$PYTHON" "$ROOT/bench/peers/celery_noop.py" --tasks "$CELERY_TASKS" \
      --redis-url "redis://127.0.0.1:$PORT" --redis-pid "$REDIS_PID" \
      >"$TMP/celery.out" || rc=$?
    cat "$TMP/celery.out"
    if ((rc == 0)); then line=$(peer_result "$TMP/celery.out"); fi
    stop_pid "$REDIS_PID" 5
    REDIS_PID=""
  fi
  record_peer celery "$line" \
    "python3 bench/peers/celery_noop.py --tasks $CELERY_TASKS --redis-url redis://127.0.0.1:PORT"
  if [[ -n $line ]]; then VERSION[celery]="${VERSION[celery]}, redis ${REDIS_VERSION:-?}"; fi
fi

if [[ ,$PEERS, == *,dask,* ]]; then
  echo "== dask: $DASK_TASKS no-op tasks (LocalCluster, 2 worker processes x 1 thread)"
  line=""
  rc=0
  run_child "$PYTHON" "$ROOT/bench/peers/dask_noop.py" --tasks "$DASK_TASKS" \
    >"$TMP/dask.out" || rc=$?
  cat "$TMP/dask.out"
  if ((rc == 0)); then line=$(peer_result "$TMP/dask.out"); fi
  record_peer dask "$line" "python3 bench/peers/dask_noop.py --tasks $DASK_TASKS"
fi

# ---------------------------------------------------------------- table
echo
if [[ -n $PEERS ]]; then
  echo "Reproduce: CELERY_TASKS=$CELERY_TASKS DASK_TASKS=$DASK_TASKS PEERS=$PEERS bench/noop_e2e.sh $BUILD_ARG $TASKS"
else
  echo "Reproduce: PEERS= bench/noop_e2e.sh $BUILD_ARG $TASKS"
fi
echo "(taskgrid spec noop.yaml: name: bench-noop, processor: noop, model: map, input: {range: {start: 0, end: $TASKS, step: 1}})"
echo "(peak memory: taskgrid = max RSS from /usr/bin/time -v; peers = peak of the summed RSS (and PSS) of the whole process tree, incl. redis-server for celery)"
echo
echo "| system | version | tasks | seconds | tasks/s | peak memory (MiB) | machine | date | command |"
echo "|---|---|---:|---:|---:|---:|---|---|---|"
for s in "${SYSTEMS[@]}"; do
  case $s in
    taskgrid) n=$TASKS ;;
    celery) n=$CELERY_TASKS ;;
    dask) n=$DASK_TASKS ;;
  esac
  if [[ ${STATUS[$s]} == ok ]]; then
    echo "| $s | ${VERSION[$s]:-} | $n | ${SECS[$s]} | ${RATE[$s]} | ${MEM[$s]} | $MACHINE | $DATE | \`${CMD[$s]}\` |"
  else
    echo "| $s | ${VERSION[$s]:-} | $n | ${STATUS[$s]} | - | - | $MACHINE | $DATE | \`${CMD[$s]}\` |"
  fi
done

if ((FAILED)); then
  echo "noop_e2e: at least one system failed or is missing" >&2
  exit 1
fi

#!/usr/bin/env bash
# Cluster mode, end to end: one `taskgrid master` on a throwaway PostgreSQL 15
# (scripts/pg-test-server.sh) and CLUSTER_WORKERS `taskgrid worker` processes,
# all on loopback, each figure against a peer measured in this run on this
# machine:
#
#   noop      CLUSTER_NOOP_TASKS no-op subtasks (processor noop, model map)
#             with `taskgrid submit --wait`: subtasks/s = tasks / wall
#             seconds of the submit command (client start-up, job creation,
#             the run, until the client has seen the job succeed). Also the
#             store's finished_ms - created_ms, and the CPU seconds master,
#             workers, PostgreSQL and client used meanwhile. Peers: embedded
#             `taskgrid run --workers 2` on the same spec (taking turns with
#             the cluster), and Celery + Redis through bench/noop_e2e.sh.
#   latency   CLUSTER_LATENCY_JOBS single-task jobs (processor noop, model
#             standalone), one at a time on the idle cluster (0.2 s apart,
#             after 3 unmeasured ones): the store's finished_ms - created_ms
#             and the client's wall time of `submit --wait`; baseline: the
#             wall time of `taskgrid jobs --limit 1` against the same master
#             (process start-up, token, connection, one call); peer: embedded
#             `taskgrid run` of the same spec, wall time.
#   logstats  the logstats job (mapreduce) on generated gzip logs, cluster
#             (CLUSTER_WORKERS workers, --slots 1 each) against embedded
#             `taskgrid run --workers 2` on the same data, taking turns:
#             MB/s of decoded log text (the submit's / run's wall time); the
#             two output directories must be byte-identical (diff -r).
#
#   bench/cluster_e2e.sh BUILD_DIR
#
# Environment:
#   CLUSTER_PARTS=noop,latency,logstats   which parts to run
#   CLUSTER_NOOP_TASKS=1000000
#   CLUSTER_WORKERS=2        worker processes
#   CLUSTER_SLOTS=1          --slots of each worker in the noop and latency parts
#                            (logstats: always 1, matching `run --workers 2`)
#   CLUSTER_RUNS=3           runs of each system in the noop and logstats
#                            parts; the table keeps the fastest
#   CLUSTER_LATENCY_JOBS=50
#   CLUSTER_LOGSTATS_SIZE=16GiB  decoded size of the generated gzip logs
#   LOGSTATS_DIR=/tmp/taskgrid-logstats-bench   the logs go to
#                            DIR/cluster-gz-SIZE/logs, kept between runs
#   CLUSTER_NOOP_OUTPUT=     non-empty: the no-op job has an `output`
#                            directory, so the cluster master saves every
#                            dispatch before handing it out (durable
#                            dispatch; the tasks still write nothing)
#   CLUSTER_PEERS=celery     `celery` runs bench/noop_e2e.sh with PEERS=celery
#                            (CELERY_TASKS, PYTHON as there); empty skips it
#
# Every measured run gets a fresh database (the latency part one for all
# its jobs) and a fresh master and workers, whose start-up is not timed.
# Prints RESULT lines, then markdown table rows. Exits non-zero if a system
# failed or the outputs differ (a missed target only shows in the table).
# Needs postgresql-15 (scripts/deps.sh) and, for the peer, scripts/bench-deps.sh.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR   (env: CLUSTER_PARTS, CLUSTER_NOOP_TASKS, CLUSTER_WORKERS, CLUSTER_SLOTS, CLUSTER_RUNS, CLUSTER_LATENCY_JOBS, CLUSTER_LOGSTATS_SIZE, LOGSTATS_DIR, CLUSTER_NOOP_OUTPUT, CLUSTER_PEERS)" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage
BUILD_ARG=$1
PARTS=${CLUSTER_PARTS:-noop,latency,logstats}
TASKS=${CLUSTER_NOOP_TASKS:-1000000}
WORKERS=${CLUSTER_WORKERS:-2}
SLOTS=${CLUSTER_SLOTS:-1}
RUNS=${CLUSTER_RUNS:-3}
LAT_JOBS=${CLUSTER_LATENCY_JOBS:-50}
SIZE=${CLUSTER_LOGSTATS_SIZE:-16GiB}
DATA_ROOT=${LOGSTATS_DIR:-/tmp/taskgrid-logstats-bench}
PEERS=${CLUSTER_PEERS-celery}
NOOP_OUTPUT=${CLUSTER_NOOP_OUTPUT:-}
for n in "$TASKS" "$WORKERS" "$SLOTS" "$RUNS" "$LAT_JOBS"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "not a positive count: $n" >&2; usage; }
done
[[ $SIZE =~ ^[1-9][0-9]*([KMGT]i?B?)?$ ]] || { echo "CLUSTER_LOGSTATS_SIZE: not a size: $SIZE" >&2; usage; }
for p in ${PARTS//,/ }; do
  [[ $p == noop || $p == latency || $p == logstats ]] || { echo "CLUSTER_PARTS: unknown part: $p" >&2; usage; }
done
[[ $DATA_ROOT == /* ]] || DATA_ROOT=$PWD/$DATA_ROOT
has_part() { [[ ,$PARTS, == *,$1,* ]]; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ -d $BUILD_ARG ]]; then BUILD_DIR=$(cd "$BUILD_ARG" && pwd); else BUILD_DIR=$BUILD_ARG; fi
TG=$BUILD_DIR/taskgrid

# stop_pid, run_child, now_ns, secs_since, show_tail, bench_machine
source "$ROOT/bench/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-bench.XXXXXX")
cd "$TMP" # every path below is absolute; whatever a run leaves goes with TMP
CHILD_PID=""
MASTER_PID=""
WORKER_PIDS=()
PG_DIR=""

stop_cluster() {
  local pid
  # Workers first: a worker whose master is gone waits out its failover.
  for pid in "${WORKER_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${WORKER_PIDS[@]}"; do stop_pid "$pid" 15; done
  WORKER_PIDS=()
  stop_pid "$MASTER_PID" 15
  MASTER_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$CHILD_PID" 30
  stop_cluster
  if [[ -n $PG_DIR ]]; then
    "$ROOT/scripts/pg-test-server.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
  rm -rf "$TMP" # the generated logs (LOGSTATS_DIR) are kept for the next run
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ms_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
mbps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s / 1e6 }'; }
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
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
# stats FILE: "median p90 min max" of the numbers in FILE, one a line.
# Median: the middle value (the mean of the two middle ones for an even
# count); p90: the nearest rank, the ceil(0.9 n)-th smallest.
stats() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = int(0.9 * NR); if (r < 0.9 * NR) r++
    printf "%.1f %.1f %.1f %.1f\n", m, v[r], v[1], v[NR] }'
}

# ---------------------------------------------------------------- CPU time
CLK_TCK=$(getconf CLK_TCK)
# ticks PID...: user + system clock ticks of these processes (all threads).
ticks() {
  local p t=0 n
  for p in "$@"; do
    n=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || n=0
    t=$((t + ${n:-0}))
  done
  echo "$t"
}
# pg_ticks: the PostgreSQL server's ticks: the postmaster, its live children
# (backends, checkpointer, ...) and its reaped ones (cutime + cstime), so a
# backend that ended in between still counts.
pg_ticks() {
  local pm t kids
  pm=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pm/stat" 2>/dev/null) || t=0
  mapfile -t kids < <(pgrep -P "$pm" || true)
  echo $((t + $(ticks "${kids[@]}")))
}
# cpu_snapshot: "master workers postgres" ticks now.
cpu_snapshot() { echo "$(ticks "$MASTER_PID") $(ticks "${WORKER_PIDS[@]}") $(pg_ticks)"; }
# cpu_delta "BEFORE" "AFTER": "master=S workers=S postgres=S" CPU seconds.
cpu_delta() {
  awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "master=%.2f workers=%.2f postgres=%.2f", (y[1] - x[1]) / hz, (y[2] - x[2]) / hz, (y[3] - x[3]) / hz }'
}
# hwm_mib PID: the peak resident memory of a live process.
hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "-"; }

# ---------------------------------------------------------------- machine
bench_machine "$ROOT"
if [[ ! -x $TG ]]; then
  echo "taskgrid binary missing: $TG (build it first: ./dev.sh build)" >&2
  exit 1
fi
for t in psql pgrep getconf /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing: $t (scripts/bench-deps.sh installs it)" >&2; exit 1; }
done

# ---------------------------------------------------------------- the cluster
PG_DIR=$(mktemp -d /tmp/taskgrid-bench-pg.XXXXXX) # pg-test-server.sh gives it to postgres
PG_URL=$("$ROOT/scripts/pg-test-server.sh" start "$PG_DIR")
PG_BASE=${PG_URL%/*}
PG_VERSION=$(psql -qAtX "$PG_URL" -c 'SHOW server_version' | cut -d' ' -f1)
echo "PostgreSQL $PG_VERSION: $PG_BASE/DB (scripts/pg-test-server.sh: loopback, fsync off, synchronous_commit off)"
head -c 32 /dev/urandom | base64 >"$TMP/token"
chmod 600 "$TMP/token"
MASTER_ADDR=""
pg() { psql -qAtX "$PG_BASE/$1" -c "$2"; } # DB SQL
drop_db() { pg postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true; }

# wait_for_line FILE REGEX PID SECONDS: until FILE has a line matching REGEX;
# fails if PID exits first or SECONDS pass.
wait_for_line() {
  local i
  for ((i = 0; i < $4 * 20; i++)); do
    grep -Eq "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  grep -Eq "$2" "$1" 2>/dev/null
}

# start_cluster DB SLOTS: a fresh database DB, a master on it on a free
# loopback port (MASTER_ADDR), CLUSTER_WORKERS workers with SLOTS slots;
# returns once the master leads and every worker has registered.
start_cluster() {
  local db=$1 slots=$2 log=$TMP/master-$1.log port i
  DB_NAME=$db
  drop_db "$db"
  pg postgres "CREATE DATABASE $db"
  setsid "$TG" master --store "$PG_BASE/$db" --listen 127.0.0.1:0 \
    --token-file "$TMP/token" >"$log" 2>&1 &
  MASTER_PID=$!
  if ! wait_for_line "$log" 'leading the cluster' "$MASTER_PID" 30; then
    echo "master did not start (or lead); its log:" >&2
    show_tail "$log" master 30 >&2
    return 1
  fi
  port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | head -n 1)
  MASTER_ADDR=127.0.0.1:$port
  for ((i = 1; i <= WORKERS; i++)); do
    setsid "$TG" worker --master "$MASTER_ADDR" --token-file "$TMP/token" \
      --slots "$slots" --id "w$i" --data-dir "$TMP/worker-$i" >"$TMP/worker-$db-$i.log" 2>&1 &
    WORKER_PIDS+=($!)
  done
  for ((i = 1; i <= WORKERS; i++)); do
    if ! wait_for_line "$TMP/worker-$db-$i.log" 'slot\(s\), masters' "${WORKER_PIDS[i - 1]}" 30; then
      echo "worker w$i did not register; its log:" >&2
      show_tail "$TMP/worker-$db-$i.log" "w$i" 30 >&2
      return 1
    fi
  done
}

# submit SPEC OUT: `taskgrid submit SPEC --wait` against the cluster; sets
# T_MS (wall ms), JOB (id) and CLIENT_CPU (user + system s); its status.
submit() {
  local rc=0
  T0=$(now_ns)
  run_child /usr/bin/time -f '%U %S' -o "$2.time" "$TG" submit "$1" --wait --no-progress \
    --master "$MASTER_ADDR" --token-file "$TMP/token" >"$2" 2>"$2.err" || rc=$?
  T1=$(now_ns)
  T_MS=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
  JOB=$(sed -n 's/^job \([0-9]*\) submitted.*/\1/p' "$2" | head -n 1)
  CLIENT_CPU=$(awk 'END { printf "%.2f", $1 + $2 }' "$2.time" 2>/dev/null || echo "-")
  if ((rc != 0)) || [[ -z $JOB ]]; then
    echo "submit FAILED (exit $rc):" >&2
    show_tail "$2" submit 10 >&2
    show_tail "$2.err" submit 30 >&2
    return 1
  fi
}
# phases JOB T0_NS T1_NS: where the submit's wall time went, from the
# master's log ("running job N" once the job is created and listed, "job N
# succeeded" once its final state is written): "create=S run=S wait=S",
# seconds from the submit's start to the first, between them, and from the
# second to the client's exit (its poll interval grows to 250 ms).
phases() {
  local log=$TMP/master-$DB_NAME.log a b
  a=$(sed -n "s/^\[\([^]]*\)\] \[taskgrid\] \[info\] running job $1\$/\1/p" "$log" | head -n 1)
  b=$(sed -n "s/^\[\([^]]*\)\] \[taskgrid\] \[info\] job $1 succeeded\$/\1/p" "$log" | head -n 1)
  [[ -n $a && -n $b ]] || { echo "create=? run=? wait=?"; return; }
  a=$(date -d "$a" +%s%N)
  b=$(date -d "$b" +%s%N)
  awk -v t0="$2" -v a="$a" -v b="$b" -v t1="$3" 'BEGIN {
    printf "create=%.2f run=%.2f wait=%.2f", (a - t0) / 1e9, (b - a) / 1e9, (t1 - b) / 1e9 }'
}
# store_ms DB JOB: the job's finished_ms - created_ms, if it succeeded.
store_ms() { pg "$1" "SELECT finished_ms - created_ms FROM jobs WHERE id = $2 AND state = 2"; }

# embedded OUT CMD-ARGS...: `taskgrid run ... --no-progress` timed; sets
# T_MS and EMB_CPU (user + system s).
embedded() {
  local out=$1 rc=0 t0
  shift
  t0=$(now_ns)
  run_child /usr/bin/time -f '%U %S' -o "$out.time" "$TG" run "$@" --no-progress >"$out" 2>&1 || rc=$?
  T_MS=$(ms_since "$t0")
  EMB_CPU=$(awk 'END { printf "%.2f", $1 + $2 }' "$out.time" 2>/dev/null || echo "-")
  if ((rc != 0)); then
    echo "taskgrid run FAILED (exit $rc):" >&2
    show_tail "$out" run 30 >&2
    return 1
  fi
}

FAILED=0
declare -A BEST ALL NOTE
best() { # key value: keeps the smallest
  ALL[$1]="${ALL[$1]:+${ALL[$1]}, }$2"
  if [[ -z ${BEST[$1]:-} ]] || less_than "$2" "${BEST[$1]}"; then BEST[$1]=$2; fi
}
TG_RUN="$BUILD_ARG/taskgrid"
CL_START="$TG_RUN master --store postgresql://postgres@127.0.0.1:PORT/DB --listen 127.0.0.1:0 --token-file tok & $WORKERS x $TG_RUN worker --master 127.0.0.1:MPORT --token-file tok"
SUBMIT="$TG_RUN submit"
SUBMIT_ARGS="--wait --no-progress --master 127.0.0.1:MPORT --token-file tok"

# ================================================================ noop
NOOP_ROWS=()
if has_part noop; then
  echo
  echo "### noop: $TASKS no-op subtasks, cluster ($WORKERS workers x --slots $SLOTS) vs embedded run --workers 2"
  cat >"$TMP/noop.yaml" <<EOF
name: bench-noop
processor: noop
model: map
input: {range: {start: 0, end: $TASKS, step: 1}}
EOF
  # With an output directory (the tasks write nothing into it), the
  # cluster master saves each dispatch before handing it out.
  [[ -n $NOOP_OUTPUT ]] && echo "output: \"$TMP/noop-out\"" >>"$TMP/noop.yaml"
  for ((run = 1; run <= RUNS; run++)); do
    rm -rf "$TMP/noop-out"
    echo "== noop run $run/$RUNS: cluster: $SUBMIT noop.yaml $SUBMIT_ARGS"
    if start_cluster "noop$run" "$SLOTS"; then
      before=$(cpu_snapshot)
      if submit "$TMP/noop.yaml" "$TMP/noop-$run.out"; then
        cpu="$(cpu_delta "$before" "$(cpu_snapshot)") client=$CLIENT_CPU"
        show_tail "$TMP/noop-$run.out" submit 2
        sms=$(store_ms "noop$run" "$JOB")
        done_n=$(sed -n 's/.* total: \([0-9]*\) succeeded.*/\1/p' "$TMP/noop-$run.out")
        if [[ $done_n != "$TASKS" || -z $sms ]]; then
          echo "noop cluster run $run: $done_n of $TASKS succeeded (store: '${sms}')" >&2
          FAILED=1
        else
          s=$(awk -v m="$T_MS" 'BEGIN { printf "%.3f", m / 1000 }')
          echo "RESULT part=noop system=cluster run=$run tasks=$TASKS seconds=$s rate=$(rate "$TASKS" "$s") store_ms=$sms master_rss_mib=$(hwm_mib "$MASTER_PID") phases: $(phases "$JOB" "$T0" "$T1") cpu_s: $cpu"
          best noop/cluster "$s"
          best noop/store "$sms"
          [[ ${BEST[noop/cluster]} == "$s" ]] && NOTE[noop/cluster]="$sms | seconds: $(phases "$JOB" "$T0" "$T1"); master peak RSS $(hwm_mib "$MASTER_PID") MiB; CPU s: $cpu"
        fi
      else
        FAILED=1
      fi
    else
      FAILED=1
    fi
    stop_cluster
    drop_db "noop$run"

    rm -rf "$TMP/noop-out"
    echo "== noop run $run/$RUNS: embedded: $TG_RUN run noop.yaml --workers 2 --state state.db --no-progress"
    if embedded "$TMP/noop-emb-$run.out" "$TMP/noop.yaml" --workers 2 --state "$TMP/noop-$run.db"; then
      s=$(awk -v m="$T_MS" 'BEGIN { printf "%.3f", m / 1000 }')
      echo "RESULT part=noop system=embedded run=$run tasks=$TASKS seconds=$s rate=$(rate "$TASKS" "$s")"
      best noop/embedded "$s"
    else
      FAILED=1
    fi
    rm -f "$TMP/noop-$run.db"*
  done
  if [[ -n ${BEST[noop/cluster]:-} ]]; then
    r=$(rate "$TASKS" "${BEST[noop/cluster]}")
    if less_than "$r" 50000; then t="**no** (< 50,000/s)"; else t="yes (>= 50,000/s)"; fi
    NOOP_ROWS+=("| taskgrid cluster, $WORKERS workers x --slots $SLOTS, PostgreSQL $PG_VERSION | $TASKS | ${BEST[noop/cluster]} | $r | ${ALL[noop/cluster]} | ${NOTE[noop/cluster]} | $t | \`$CL_START --slots $SLOTS; $SUBMIT noop.yaml $SUBMIT_ARGS\` |")
  else
    NOOP_ROWS+=("| taskgrid cluster | $TASKS | FAILED | - | - | - | - | - | - |")
  fi
  if [[ -n ${BEST[noop/embedded]:-} ]]; then
    NOOP_ROWS+=("| taskgrid embedded (SQLite) | $TASKS | ${BEST[noop/embedded]} | $(rate "$TASKS" "${BEST[noop/embedded]}") | ${ALL[noop/embedded]} | - | - | - | \`$TG_RUN run noop.yaml --workers 2 --state state.db --no-progress\` |")
  fi

  if [[ ,$PEERS, == *,celery,* ]]; then
    echo "== noop peer: Celery + Redis through bench/noop_e2e.sh (PEERS=celery; it runs embedded taskgrid too)"
    rc=0
    PEERS=celery "$ROOT/bench/noop_e2e.sh" "$BUILD_ARG" "$TASKS" >"$TMP/noop-peers.out" 2>&1 || rc=$?
    sed 's/^/  noop_e2e| /' "$TMP/noop-peers.out"
    line=$(grep '^RESULT peer=celery ' "$TMP/noop-peers.out" | tail -n 1 || true)
    if ((rc != 0)) || [[ -z $line ]]; then
      echo "the Celery peer FAILED (bench/noop_e2e.sh exit $rc)" >&2
      NOOP_ROWS+=("| Celery + Redis | ${CELERY_TASKS:-20000} | FAILED | - | - | - | - | - | - |")
      FAILED=1
    else
      NOOP_ROWS+=("| Celery $(field "$line" version) + Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), 1 worker, prefork -c 2 | $(field "$line" tasks) | $(field "$line" seconds) | $(field "$line" rate) | - | - | peak RSS $(field "$line" peak_rss_mib) MiB (whole tree) | - | \`python3 bench/peers/celery_noop.py --tasks $(field "$line" tasks) --redis-url redis://127.0.0.1:PORT\` (via \`PEERS=celery bench/noop_e2e.sh\`) |")
    fi
  fi
fi

# ================================================================ latency
LAT_ROWS=()
if has_part latency; then
  echo
  echo "### latency: $LAT_JOBS single-task jobs on an idle cluster ($WORKERS workers x --slots $SLOTS)"
  cat >"$TMP/one.yaml" <<'EOF'
name: bench-latency
processor: noop
model: standalone
EOF
  # Each command runs straight from this shell (no setsid, env or time in
  # between), the same way for all four measures.
  lat() { # MS-FILE CMD...: runs CMD, appends its wall ms to MS-FILE
    local f=$1 rc=0 t0
    shift
    t0=$(now_ns)
    "$@" >"$TMP/lat.out" 2>&1 || rc=$?
    ms_since "$t0" >>"$f"
    if ((rc != 0)); then
      echo "FAILED (exit $rc): $*" >&2
      show_tail "$TMP/lat.out" latency 20 >&2
      return 1
    fi
  }
  lat_ok=1
  ids=()
  if start_cluster latency "$SLOTS"; then
    for ((i = -2; i <= LAT_JOBS; i++)); do # 3 unmeasured warm-up jobs first
      sleep 0.2
      lat "$TMP/lat-client.ms" "$TG" submit "$TMP/one.yaml" --wait --no-progress \
        --master "$MASTER_ADDR" --token-file "$TMP/token" || { lat_ok=0; break; }
      ((i > 0)) || : >"$TMP/lat-client.ms"
      ids+=("$(sed -n 's/^job \([0-9]*\) submitted.*/\1/p' "$TMP/lat.out")")
    done
    ids=("${ids[@]:3}")
    for ((i = -2; i <= LAT_JOBS && lat_ok; i++)); do
      sleep 0.05
      lat "$TMP/lat-jobs.ms" "$TG" jobs --limit 1 --master "$MASTER_ADDR" \
        --token-file "$TMP/token" || { lat_ok=0; break; }
      ((i > 0)) || : >"$TMP/lat-jobs.ms"
    done
    if ((lat_ok)); then
      ids_csv=$(IFS=,; echo "${ids[*]}")
      pg latency "SELECT finished_ms - created_ms FROM jobs WHERE id IN ($ids_csv) AND state = 2" >"$TMP/lat-store.ms"
      if (($(wc -l <"$TMP/lat-store.ms") != LAT_JOBS)); then
        echo "latency: only $(wc -l <"$TMP/lat-store.ms") of $LAT_JOBS jobs succeeded" >&2
        lat_ok=0
      fi
      echo "  store finished_ms - created_ms (ms): $(sort -g "$TMP/lat-store.ms" | tr '\n' ' ')"
      echo "  submit --wait wall (ms): $(sort -g "$TMP/lat-client.ms" | tr '\n' ' ')"
    fi
  else
    lat_ok=0
  fi
  stop_cluster
  drop_db latency
  for ((i = -2; i <= LAT_JOBS && lat_ok; i++)); do
    sleep 0.05
    lat "$TMP/lat-embedded.ms" "$TG" run "$TMP/one.yaml" --workers 2 --state "$TMP/lat-emb.db" \
      --no-progress || { lat_ok=0; break; }
    ((i > 0)) || : >"$TMP/lat-embedded.ms"
  done
  if ((lat_ok)); then
    lat_row() { # key label file target command
      local m p90 min max
      read -r m p90 min max < <(stats "$3")
      echo "RESULT part=latency measure=$1 n=$(wc -l <"$3") median_ms=$m p90_ms=$p90 min_ms=$min max_ms=$max"
      LAT_ROWS+=("| $2 | $(wc -l <"$3") | $m | $p90 | $min | $max | $4 | \`$5\` |")
    }
    m=$(stats "$TMP/lat-store.ms" | cut -d' ' -f1)
    if less_than "$m" 10; then t="yes (< 10 ms)"; else t="**no** (>= 10 ms)"; fi
    lat_row cluster_store "cluster: store finished_ms - created_ms" "$TMP/lat-store.ms" "$t" "$SUBMIT one.yaml $SUBMIT_ARGS"
    lat_row cluster_client "cluster: client wall of submit --wait" "$TMP/lat-client.ms" "-" "$SUBMIT one.yaml $SUBMIT_ARGS"
    lat_row jobs_client "baseline: client wall of jobs --limit 1" "$TMP/lat-jobs.ms" "-" "$TG_RUN jobs --limit 1 --master 127.0.0.1:MPORT --token-file tok"
    lat_row embedded "embedded: wall of run (SQLite)" "$TMP/lat-embedded.ms" "-" "$TG_RUN run one.yaml --workers 2 --state state.db --no-progress"
  else
    FAILED=1
    LAT_ROWS+=("| cluster | $LAT_JOBS | FAILED | - | - | - | - | - |")
  fi
fi

# ================================================================ logstats
LS_ROWS=()
LS_CHECK="not run"
if has_part logstats; then
  echo
  D=$DATA_ROOT/cluster-gz-$SIZE
  echo "### logstats: $SIZE of gzip logs in $D/logs, cluster ($WORKERS workers x --slots 1) vs embedded run --workers 2"
  t0=$(now_ns)
  if ! "$TG" demo --dir "$D" --size "$SIZE" --codecs gz --generate-only >"$TMP/gen.out" 2>&1; then
    echo "generating the logs FAILED:" >&2
    show_tail "$TMP/gen.out" gen 30 >&2
    FAILED=1
  else
    GEN_LINE=$(grep ' files, ' "$TMP/gen.out" | sed 's/^ *//')
    echo "  generator: $GEN_LINE ($(secs_since "$t0") s)"
    BYTES=$(sed -n 's/.* decoded=\([0-9]*\).*/\1/p' "$D/logs/.taskgrid-demo-data")
    find "$D/logs" -type f -name '*.log.gz' -print0 | xargs -0 cat >/dev/null # page cache warm for both
    echo "  $BYTES bytes decoded (the generator's count)"
    LS_CHECK=""
    for ((run = 1; run <= RUNS; run++)); do
      for sys in embedded cluster; do
        out=$TMP/ls-$sys-$run
        cat >"$TMP/ls-$sys.yaml" <<EOF
name: bench-logstats
processor: logstats
model: mapreduce
input: {files: ["$D/logs/**"]}
output: "$out"
EOF
        if [[ $sys == embedded ]]; then
          echo "== logstats run $run/$RUNS: embedded: $TG_RUN run logstats.yaml --workers 2 --state state.db --no-progress"
          if embedded "$TMP/ls-emb-$run.out" "$TMP/ls-embedded.yaml" --workers 2 --state "$TMP/ls-$run.db"; then
            s=$(awk -v m="$T_MS" 'BEGIN { printf "%.3f", m / 1000 }')
            echo "RESULT part=logstats system=embedded run=$run bytes=$BYTES seconds=$s mb_per_s=$(mbps "$BYTES" "$s") cpu_s: taskgrid=$EMB_CPU"
            best ls/embedded "$s"
          else
            FAILED=1
          fi
        else
          echo "== logstats run $run/$RUNS: cluster: $SUBMIT logstats.yaml $SUBMIT_ARGS"
          if start_cluster "logstats$run" 1 && before=$(cpu_snapshot) &&
            submit "$TMP/ls-cluster.yaml" "$TMP/ls-cl-$run.out"; then
            cpu="$(cpu_delta "$before" "$(cpu_snapshot)") client=$CLIENT_CPU"
            s=$(awk -v m="$T_MS" 'BEGIN { printf "%.3f", m / 1000 }')
            sms=$(store_ms "logstats$run" "$JOB")
            echo "RESULT part=logstats system=cluster run=$run bytes=$BYTES seconds=$s mb_per_s=$(mbps "$BYTES" "$s") store_ms=$sms phases: $(phases "$JOB" "$T0" "$T1") cpu_s: $cpu"
            best ls/cluster "$s"
            best ls/store "$sms"
          else
            FAILED=1
          fi
          stop_cluster
          drop_db "logstats$run"
        fi
      done
      # The same answer, byte for byte: every file, _manifest.csv included.
      if [[ -f $TMP/ls-embedded-$run/_SUCCESS && -f $TMP/ls-cluster-$run/_SUCCESS ]]; then
        if diff -r "$TMP/ls-embedded-$run" "$TMP/ls-cluster-$run" >"$TMP/ls-diff" 2>&1; then
          echo "  check (run $run): outputs identical ($(find "$TMP/ls-cluster-$run" -type f -printf '%f\n' | sort | tr '\n' ' '))"
          [[ $LS_CHECK == MISMATCH* ]] || LS_CHECK="identical (diff -r, every file incl. _manifest.csv)"
        else
          echo "!!!!!!!! MISMATCH (run $run): the cluster's output differs from the embedded one: !!!!!!!!" >&2
          head -n 20 "$TMP/ls-diff" >&2
          LS_CHECK="MISMATCH"
          FAILED=1
        fi
      fi
      rm -rf "$TMP/ls-embedded-$((run - 1))" "$TMP/ls-cluster-$((run - 1))" "$TMP/ls-$run.db"*
    done
    if [[ -n ${BEST[ls/embedded]:-} ]]; then
      LS_ROWS+=("| taskgrid embedded (SQLite) | ${BEST[ls/embedded]} | $(mbps "$BYTES" "${BEST[ls/embedded]}") | ${ALL[ls/embedded]} | - | - | \`$TG_RUN run logstats.yaml --workers 2 --state state.db --no-progress\` |")
    fi
    if [[ -n ${BEST[ls/cluster]:-} ]]; then
      note="-"
      if [[ -n ${BEST[ls/embedded]:-} ]]; then
        r=$(awk -v a="${BEST[ls/embedded]}" -v b="${BEST[ls/cluster]}" 'BEGIN { printf "%.3f", a / b }')
        if less_than "$r" 0.9; then note="$r of embedded: **no** (< 0.9)"; else note="$r of embedded: yes (>= 0.9)"; fi
      fi
      LS_ROWS+=("| taskgrid cluster, $WORKERS workers x --slots 1, PostgreSQL $PG_VERSION | ${BEST[ls/cluster]} | $(mbps "$BYTES" "${BEST[ls/cluster]}") | ${ALL[ls/cluster]} | ${BEST[ls/store]} | $note | \`$CL_START --slots 1; $SUBMIT logstats.yaml $SUBMIT_ARGS\` |")
    fi
  fi
fi

# ================================================================ tables
echo
REPRO="CLUSTER_PARTS=$PARTS CLUSTER_WORKERS=$WORKERS CLUSTER_SLOTS=$SLOTS CLUSTER_RUNS=$RUNS"
has_part noop && REPRO+=" CLUSTER_NOOP_TASKS=$TASKS CLUSTER_NOOP_OUTPUT=$NOOP_OUTPUT CLUSTER_PEERS=$PEERS"
has_part latency && REPRO+=" CLUSTER_LATENCY_JOBS=$LAT_JOBS"
has_part logstats && REPRO+=" CLUSTER_LOGSTATS_SIZE=$SIZE"
echo "Reproduce: $REPRO bench/cluster_e2e.sh $BUILD_ARG"
echo "(machine: $MACHINE; date: $DATE; load average at the start: $LOAD; taskgrid rev: $REV; PostgreSQL $PG_VERSION)"
if ((${#NOOP_ROWS[@]})); then
  echo
  echo "| system | tasks | seconds (best of $RUNS) | tasks/s | all runs (s) | store finished - created (ms) | best run: phases, memory, CPU seconds | target | command |"
  echo "|---|---:|---:|---:|---|---:|---|---|---|"
  printf '%s\n' "${NOOP_ROWS[@]}"
fi
if ((${#LAT_ROWS[@]})); then
  echo
  echo "| measure | jobs | median (ms) | p90 (ms) | min (ms) | max (ms) | target | command |"
  echo "|---|---:|---:|---:|---:|---:|---|---|"
  printf '%s\n' "${LAT_ROWS[@]}"
fi
if ((${#LS_ROWS[@]})); then
  echo
  echo "(logstats data: ${GEN_LINE:-?}; $BYTES bytes decoded; outputs: $LS_CHECK)"
  echo "| system | seconds (best of $RUNS) | MB/s | all runs (s) | store finished - created (ms, best) | target | command |"
  echo "|---|---:|---:|---|---:|---|---|"
  printf '%s\n' "${LS_ROWS[@]}"
fi

if ((FAILED)); then
  echo "cluster_e2e: at least one system failed or the outputs differ" >&2
  exit 1
fi
exit 0

# shellcheck shell=bash
# Helpers shared by the bench/*_e2e.sh scripts. Sourced, not run:
#
#   source "$(dirname "$0")/lib.sh"
#
# The caller keeps CHILD_PID (run_child sets and clears it) and stops it in
# its own cleanup trap with stop_pid.

# stop_pid PID [SECONDS]: TERM (its process group too, if it leads one),
# wait up to SECONDS (default 20), then KILL.
stop_pid() {
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# run_child CMD...: runs CMD in the background, in a process group of its
# own (setsid execs in place, so $! is the command's pid and the group's
# id), and waits for it: a signal to the script then runs its trap at once,
# and the trap stops the whole group (e.g. /usr/bin/time and taskgrid, or a
# peer and its workers). Returns the child's exit status.
run_child() {
  setsid "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}

now_ns() { date +%s%N; }
# secs_since T0_NS: seconds (3 decimals) from T0_NS to now.
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
# show_tail FILE PREFIX [LINES]: the last non-empty lines of FILE, indented.
show_tail() {
  tr '\r' '\n' <"$1" | grep -v '^[[:space:]]*$' | tail -n "${3:-5}" | sed "s/^/  $2| /" || true
}

# bench_machine ROOT: sets MACHINE (cores, CPU model, RAM), DATE, LOAD and
# REV (git describe of ROOT), prints them, and warns when the 1-minute load
# average is above 0.5 (figures from a busy machine are not comparable).
bench_machine() {
  local cpu_model mem_gib
  cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  mem_gib=$(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
  MACHINE="$(nproc) x ${cpu_model:-unknown CPU}, ${mem_gib} GiB RAM"
  DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
  LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
  REV=$(git -C "$1" describe --always --dirty 2>/dev/null || echo unknown)
  echo "machine: $MACHINE; date: $DATE; load average: $LOAD; taskgrid rev: $REV"
  if awk -v l="${LOAD%% *}" 'BEGIN { exit !(l > 0.5) }'; then
    echo "WARNING: the machine is not idle (1-min load average ${LOAD%% *}):" \
      "other work shares the CPUs, figures are not comparable to an idle run" >&2
  fi
}

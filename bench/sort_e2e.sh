#!/usr/bin/env bash
# The distributed sort (processor sort, model shuffle, format u64) of
# SORT_VALUES random 64-bit integers (SORT_VALUES x 8 bytes, one binary
# file cut into byte splits), embedded `taskgrid run --workers 2` with
# partitions 2, against peers measured in this run on this machine:
#
#   taskgrid      memory SORT_MEMORY (default 2GiB: each range sorted in
#                 memory) — wall time of `taskgrid run`, peak RSS
#   external      the same with memory SORT_EXTERNAL_MEMORY (256MiB): runs
#                 merged from disk
#   std::sort     single-threaded in-process std::sort of the same values
#                 (bench/shuffle_bench, which also times RadixSortU64)
#   sort -n       GNU sort -n --parallel=2 -S 4G on SORT_TEXT_VALUES of the
#                 values as decimal text (the issue's peer; its time per
#                 value is extrapolated to SORT_VALUES, stated as such)
#
#   bench/sort_e2e.sh BUILD_DIR     (a Release build)
#
# Checks that the output is the input sorted: same count, same sum and xor
# of the values, and ascending (bench/u64_check).
# Environment: SORT_DIR (/tmp/taskgrid-sort-bench, the data is kept),
# SORT_VALUES (100000000), SORT_TEXT_VALUES (10000000), SORT_SPLIT
# (bytes:100MiB), SORT_MEMORY, SORT_EXTERNAL_MEMORY, SORT_RUNS (3, best).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
tg=$build/taskgrid
dir=${SORT_DIR:-/tmp/taskgrid-sort-bench}
values=${SORT_VALUES:-100000000}
text_values=${SORT_TEXT_VALUES:-10000000}
split=${SORT_SPLIT:-bytes:100MiB}
memory=${SORT_MEMORY:-2GiB}
ext_memory=${SORT_EXTERNAL_MEMORY:-256MiB}
runs=${SORT_RUNS:-3}
CHILD_PID=""
trap 'stop_pid "$CHILD_PID"' EXIT
trap 'exit 130' INT TERM

bench_machine "$here/.."
mkdir -p "$dir"
data=$dir/u64-$values.bin
if [[ ! -f $data ]]; then
  echo "making $data (once)"
  head -c $((values * 8)) /dev/urandom >"$data.tmp" && mv "$data.tmp" "$data"
fi

# run_sort NAME MEMORY: best wall seconds and the peak RSS (KiB) of its run.
run_sort() {
  local name=$1 mem=$2 best="" rss="" i
  cat >"$dir/$name.yaml" <<YAML
name: sort-$name
processor: sort
model: shuffle
input: {files: ["$data"], split: "$split"}
partitions: 2
memory: $mem
params: {format: u64}
output: $dir/out-$name
YAML
  for ((i = 0; i < runs; i++)); do
    rm -rf "$dir/out-$name" "$dir/state-$name.db"* "$dir/data"
    sync
    local t0 t
    t0=$(now_ns)
    /usr/bin/time -f "%M" -o "$dir/rss" "$tg" run "$dir/$name.yaml" \
      --workers 2 --no-progress --state "$dir/state-$name.db" \
      >"$dir/$name.log" 2>&1 || {
      show_tail "$dir/$name.log" "$name" 20
      exit 1
    }
    t=$(secs_since "$t0")
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$t
      rss=$(cat "$dir/rss")
    fi
  done
  echo "$best $rss"
}

check_sorted() {
  "$build/bench/u64_check" "$data" -- "$1"/part-*
}

read -r tg_s tg_rss < <(run_sort mem "$memory")
read -r ext_s ext_rss < <(run_sort ext "$ext_memory")
check_sorted "$dir/out-mem"
check_sorted "$dir/out-ext"

"$build/bench/shuffle_bench" "$values" 1 >"$dir/shuffle_bench.txt" 2>&1
std_s=$(awk '/^std::sort/ { for (i = 2; i <= NF; ++i) if ($i == "s") { print $(i - 1); exit } }' "$dir/shuffle_bench.txt")

text=$dir/text-$text_values.txt
if [[ ! -f $text ]]; then
  python3 - "$data" "$text" "$text_values" <<'PY'
import sys, array
a = array.array("Q")
with open(sys.argv[1], "rb") as f:
    a.frombytes(f.read(int(sys.argv[3]) * 8))
with open(sys.argv[2], "w") as out:
    out.write("\n".join(map(str, a)) + "\n")
PY
fi
t0=$(now_ns)
LC_ALL=C sort -n --parallel=2 -S 4G "$text" >/dev/null
sortn_s=$(secs_since "$t0")
sortn_full=$(awk -v s="$sortn_s" -v a="$text_values" -v b="$values" 'BEGIN { printf "%.1f", s * b / a }')

echo
echo "RESULT taskgrid_s=$tg_s taskgrid_rss_kib=$tg_rss external_s=$ext_s external_rss_kib=$ext_rss std_sort_s=$std_s sort_n_s_${text_values}=$sortn_s sort_n_extrapolated_s=$sortn_full"
echo
echo "| system ($values values, $((values * 8 / 1000000)) MB) | seconds | peak RSS | vs taskgrid |"
echo "|---|---:|---:|---:|"
echo "| taskgrid sort, 2 workers, memory $memory | $tg_s | $((tg_rss / 1024)) MiB | 1.0x |"
echo "| taskgrid sort, memory $ext_memory (external) | $ext_s | $((ext_rss / 1024)) MiB | $(awk -v a="$ext_s" -v b="$tg_s" 'BEGIN { printf "%.2f", a / b }')x |"
echo "| std::sort, 1 thread, in process | $std_s | | $(awk -v a="$std_s" -v b="$tg_s" 'BEGIN { printf "%.2f", a / b }')x |"
echo "| sort -n --parallel=2 -S 4G, $text_values as text: $sortn_s s, x$((values / text_values)) | $sortn_full (extrapolated) | | $(awk -v a="$sortn_full" -v b="$tg_s" 'BEGIN { printf "%.1f", a / b }')x |"

#!/usr/bin/env bash
# wordcount over WC_BYTES of plain text (WC_FILES files of words drawn from
# a Zipf-like vocabulary of 200,000 words, lines of 1-20 words), embedded
# `taskgrid run --workers 2`, wall time of the command, against peers
# measured in this run on this machine:
#
#   shuffle    processor wordcount, model shuffle, partitions 2 (map outputs
#              worker to worker)
#   mapreduce  the same processor and input as model mapreduce (each map
#              task's counts go through the master as its result, Reduce
#              merges them)
#   coreutils  cat FILES | tr -s ' ' '\n' | LC_ALL=C sort | uniq -c
#              (the issue's peer; byte order, as ours)
#
#   bench/wordcount_e2e.sh BUILD_DIR     (a Release build)
#
# The three outputs must agree (word and count for every word).
# Environment: WC_DIR (/tmp/taskgrid-wc-bench; the text is kept), WC_BYTES
# (1000000000), WC_FILES (16), WC_SPLIT (bytes:64MiB), WC_RUNS (3, best;
# the coreutils pipeline runs once).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
tg=$build/taskgrid
dir=${WC_DIR:-/tmp/taskgrid-wc-bench}
bytes=${WC_BYTES:-1000000000}
files=${WC_FILES:-16}
split=${WC_SPLIT:-bytes:64MiB}
runs=${WC_RUNS:-3}
CHILD_PID=""
trap 'stop_pid "$CHILD_PID"' EXIT
trap 'exit 130' INT TERM

bench_machine "$here/.."
text=$dir/text-$bytes
if [[ ! -f $text/done ]]; then
  echo "making $files files, $bytes bytes of text in $text (once)"
  rm -rf "$text" && mkdir -p "$text"
  python3 - "$text" "$bytes" "$files" <<'PY'
import random, sys
out, total, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 12)))
         for _ in range(200000)]
weights = [1.0 / (i + 1) for i in range(len(vocab))]
per_file = total // files
for f in range(files):
    with open(f"{out}/part-{f:03d}.txt", "w") as fh:
        written = 0
        while written < per_file:
            words = rng.choices(vocab, weights, k=200000)
            lines, i = [], 0
            while i < len(words):
                n = rng.randint(1, 20)
                lines.append(" ".join(words[i:i + n]))
                i += n
            chunk = "\n".join(lines) + "\n"
            fh.write(chunk)
            written += len(chunk)
PY
  touch "$text/done"
fi
actual=$(cat "$text"/*.txt | wc -c)

# run_wc MODEL: best wall seconds of `taskgrid run` over $runs runs.
run_wc() {
  local model=$1 best="" i t0 t extra=""
  [[ $model == shuffle ]] && extra="partitions: 2"
  cat >"$dir/$model.yaml" <<YAML
name: wc-$model
processor: wordcount
model: $model
input: {files: ["$text/*.txt"], split: "$split"}
$extra
output: $dir/out-$model
YAML
  for ((i = 0; i < runs; i++)); do
    rm -rf "$dir/out-$model" "$dir/state-$model.db"* "$dir/data"
    t0=$(now_ns)
    "$tg" run "$dir/$model.yaml" --workers 2 --no-progress \
      --state "$dir/state-$model.db" >"$dir/$model.log" 2>&1 || {
      show_tail "$dir/$model.log" "$model" 20
      exit 1
    }
    t=$(secs_since "$t0")
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$t
    fi
  done
  echo "$best"
}

shuffle_s=$(run_wc shuffle)
mapreduce_s=$(run_wc mapreduce)
t0=$(now_ns)
cat "$text"/*.txt | tr -s ' ' '\n' | LC_ALL=C sort | uniq -c >"$dir/coreutils.txt"
core_s=$(secs_since "$t0")

# Every output as "word<TAB>count" lines in byte order.
cat "$dir"/out-shuffle/part-* >"$dir/shuffle.txt"
awk '$2 != "" { printf "%s\t%s\n", $2, $1 }' "$dir/coreutils.txt" >"$dir/coreutils.tsv"
cmp -s "$dir/shuffle.txt" "$dir/out-mapreduce/part-00000" || {
  echo "shuffle and mapreduce outputs differ" >&2
  exit 1
}
cmp -s "$dir/shuffle.txt" "$dir/coreutils.tsv" || {
  echo "taskgrid and coreutils outputs differ" >&2
  exit 1
}
echo "outputs agree: $(wc -l <"$dir/shuffle.txt") distinct words"

mb() { awk -v b="$actual" -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
echo
echo "RESULT bytes=$actual shuffle_s=$shuffle_s mapreduce_s=$mapreduce_s coreutils_s=$core_s"
echo
echo "| system ($actual bytes of text) | seconds | MB/s | shuffle is |"
echo "|---|---:|---:|---:|"
echo "| taskgrid wordcount, model shuffle, 2 workers | $shuffle_s | $(mb "$shuffle_s") | — |"
echo "| taskgrid wordcount, model mapreduce, 2 workers | $mapreduce_s | $(mb "$mapreduce_s") | $(awk -v a="$mapreduce_s" -v b="$shuffle_s" 'BEGIN { printf "%.2f", a / b }')x faster |"
echo "| tr -s ' ' '\\n' \\| sort \\| uniq -c | $core_s | $(mb "$core_s") | $(awk -v a="$core_s" -v b="$shuffle_s" 'BEGIN { printf "%.1f", a / b }')x faster |"

#!/usr/bin/env bash
# Log processing throughput, end to end (issue 3): taskgrid's logstats job
# against the common shell approach, `parallel 'zcat {} | awk ...'`, and
# against the decode-only limit of the machine (two cores doing nothing but
# decompressing), all measured in this run on this machine, for gzip, zstd
# and plain (split by bytes) inputs.
#
#   bench/logstats_e2e.sh BUILD_DIR
#
# Environment:
#   LOGSTATS_SIZE=2GiB    decoded size of the generated logs, per encoding
#   LOGSTATS_DIR=/tmp/taskgrid-logstats-bench
#                         where the logs are generated (DIR/<encoding>/logs);
#                         kept between runs: generation is skipped when the
#                         data for the same options is already there
#   LOGSTATS_CODECS=gz,zst,plain   which encodings to measure
#   LOGSTATS_SPLIT=64MiB  the byte split of the plain-text job
#   LOGSTATS_RUNS=3       runs of each system per encoding; the table keeps
#                         the fastest (the systems take turns)
#   LOGSTATS_PEERS=awk,decode   which peers to run; empty runs taskgrid alone
#
# Per encoding:
# - data: BUILD_DIR/taskgrid demo --dir DIR/<enc> --size SIZE --codecs <enc>
#   --generate-only (deterministic nginx logs, DIR/<enc>/logs/<domain>/
#   <YYYYMMDDHH>/access-<n>.log[.gz|.zst]; not timed). The files are then read
#   once (page cache warm for every system) and their decoded size is counted
#   once with `zcat | wc -c` (zstdcat, cat); it must equal the generator's.
# - taskgrid: BUILD_DIR/taskgrid run SPEC --workers 2 --state TMP/state.db
#   --no-progress under /usr/bin/time -v, SPEC = processor logstats, model
#   mapreduce, input {files: ["DIR/<enc>/logs/**"]} (plain: plus
#   split: "bytes:LOGSTATS_SPLIT").
# - awk peer: find | parallel -j2 '<dec> {} | awk -f map.awk' | sort -u |
#   awk -f reduce.awk, the whole pipeline under /usr/bin/time -v. It computes
#   the same table as logstats' summary.csv (see the awk programs below).
# - decode peer: find -print0 | xargs -0 -P2 -n1 <dec> > /dev/null (igzip -dc,
#   zstd -dc, cat): the 2-core decode-only limit.
# Throughput = decoded bytes / wall seconds (MB = 10^6 bytes), of the fastest
# of LOGSTATS_RUNS runs. Peak memory = "Maximum resident set size" of
# /usr/bin/time -v, the largest of the runs: for a pipeline that is its
# largest single process, not the sum.
#
# Correctness: taskgrid's summary.csv and the awk peer's table must agree on
# the total requests and malformed lines (printed for both) and, on this
# generated data, row for row; a mismatch is reported loudly and makes the
# exit status non-zero.
#
# Prints a RESULT line per system and encoding, then markdown table rows.
# Exits non-zero if any system failed, a check failed, or the taskgrid
# binary is missing. Debian packages: scripts/bench-deps.sh.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR   (env: LOGSTATS_SIZE, LOGSTATS_DIR, LOGSTATS_CODECS, LOGSTATS_SPLIT, LOGSTATS_RUNS, LOGSTATS_PEERS)" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage
BUILD_ARG=$1
SIZE=${LOGSTATS_SIZE:-2GiB}
DATA=${LOGSTATS_DIR:-/tmp/taskgrid-logstats-bench}
CODECS=${LOGSTATS_CODECS:-gz,zst,plain}
SPLIT=${LOGSTATS_SPLIT:-64MiB}
RUNS=${LOGSTATS_RUNS:-3}
PEERS=${LOGSTATS_PEERS-awk,decode}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "LOGSTATS_RUNS: not a positive count: $RUNS" >&2; usage; }
[[ $SIZE =~ ^[1-9][0-9]*([KMGT]i?B?)?$ ]] || { echo "LOGSTATS_SIZE: not a size: $SIZE" >&2; usage; }
[[ $SPLIT =~ ^[1-9][0-9]*([KMGT]i?B?)?$ ]] || { echo "LOGSTATS_SPLIT: not a size: $SPLIT" >&2; usage; }
for c in ${CODECS//,/ }; do
  [[ $c == gz || $c == zst || $c == plain ]] || { echo "LOGSTATS_CODECS: unknown encoding: $c" >&2; usage; }
done
[[ $DATA == /* ]] || DATA=$PWD/$DATA

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ -d $BUILD_ARG ]]; then BUILD_DIR=$(cd "$BUILD_ARG" && pwd); else BUILD_DIR=$BUILD_ARG; fi
TG=$BUILD_DIR/taskgrid

# stop_pid, run_child, now_ns, secs_since, show_tail, bench_machine
source "$ROOT/bench/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-bench.XXXXXX")
CHILD_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$CHILD_PID" 30
  rm -rf "$TMP" # the generated logs (LOGSTATS_DIR) are kept for the next run
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mbps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s / 1e6 }'; }       # bytes secs
gbps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", n / s / 1e9 }'; }
rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------- machine
export LC_ALL=C # byte semantics and the fastest path for sort and awk
bench_machine "$ROOT"
echo "data: $DATA, $SIZE decoded per encoding ($CODECS)"

FAILED=0
missing_tools=()
for t in /usr/bin/time find xargs zcat zstd zstdcat; do
  command -v "$t" >/dev/null || missing_tools+=("$t")
done
if [[ ,$PEERS, == *,awk,* ]]; then command -v parallel >/dev/null || missing_tools+=(parallel); fi
if [[ ,$PEERS, == *,decode,* ]]; then command -v igzip >/dev/null || missing_tools+=(igzip); fi
if ((${#missing_tools[@]})); then
  echo "missing: ${missing_tools[*]}: run scripts/bench-deps.sh" >&2
  exit 1
fi
if [[ ! -x $TG ]]; then
  # Without the binary there is no data either (the generator is taskgrid's).
  echo "taskgrid binary missing: $TG (build it first: ./dev.sh build)" >&2
  exit 1
fi
AWK_VERSION=$( (awk -W version 2>/dev/null || awk --version 2>/dev/null) | head -n 1 | sed 's/,.*//')
PARALLEL_VERSION=$(parallel --will-cite --version 2>/dev/null | head -n 1 || true)

# ---------------------------------------------------------------- awk peer
# The per-file program (input split on '"'): a combined-format line has
# exactly 6 quotes, so 7 fields, the third " STATUS BYTES ". A line that
# does not split so, or whose status is not 3 digits or whose bytes are not
# digits or "-", is malformed and adds to nothing else (logstats' rule; on
# the generated data both reject exactly the generator's malformed lines).
# Empty lines count nowhere. Domain and hour come from the path. Emits one
# counter line (with the file name, so sort -u keeps it) and one line per
# distinct client address.
cat >"$TMP/map.awk" <<'EOF'
BEGIN { n = split(f, p, "/"); domain = p[n - 2]; hour = p[n - 1] }
NF == 0 { next }
NF == 7 && $3 ~ /^ [0-9][0-9][0-9] ([0-9]+|-) $/ {
  req++
  split($3, sb, " ")
  bytes += sb[2]
  c = substr(sb[1], 1, 1)
  if (c == "2") s2++; else if (c == "3") s3++; else if (c == "4") s4++; else if (c == "5") s5++
  ip[substr($1, 1, index($1, " ") - 1)]
  next
}
{ bad++ }
END {
  printf "%s,%s,C,%s,%d,%.0f,%d,%d,%d,%d,%d\n", domain, hour, f, req, bytes, s2, s3, s4, s5, bad
  for (a in ip) print domain "," hour ",I," a
}
EOF
# The merge, over the sorted, de-duplicated lines: sums the counters and
# counts the distinct (domain, hour, address) lines of each (domain, hour).
# Output: logstats' summary.csv columns, in its order (domain, then hour).
cat >"$TMP/reduce.awk" <<'EOF'
BEGIN { FS = ","; print "domain,hour,requests,bytes,status_2xx,status_3xx,status_4xx,status_5xx,unique_ips,malformed" }
function flush() {
  if (key != "") printf "%s,%d,%.0f,%d,%d,%d,%d,%d,%d\n", key, req, bytes, s2, s3, s4, s5, ips, bad
  req = bytes = s2 = s3 = s4 = s5 = ips = bad = 0
}
{
  k = $1 "," $2
  if (k != key) { flush(); key = k }
  if ($3 == "C") { req += $5; bytes += $6; s2 += $7; s3 += $8; s4 += $9; s5 += $10; bad += $11 }
  else ips++
}
END { flush() }
EOF

# ---------------------------------------------------------------- runs
declare -A STATUS SECS ALLSECS MBS GBS MEM CMD CHECK
ROWS=() # "enc/system"
CHECK_FAILED=0

# record ENC SYSTEM RUN STATUS [SECONDS BYTES RSS]: one run of one system.
# The table keeps the fastest run (least disturbed by anything else on the
# machine) and the largest peak memory of all runs; one failed run marks
# the system failed.
record() {
  local k=$1/$2 run=$3
  if [[ -z ${STATUS[$k]:-} ]]; then
    ROWS+=("$k")
    STATUS[$k]=ok
  fi
  if [[ $4 != ok ]]; then
    STATUS[$k]=$4
    FAILED=1
    return
  fi
  echo "RESULT peer=$2 encoding=$1 run=$run bytes=$6 seconds=$5 mb_per_s=$(mbps "$6" "$5") peak_rss_mib=$7"
  ALLSECS[$k]="${ALLSECS[$k]:+${ALLSECS[$k]}, }$5"
  if [[ -z ${SECS[$k]:-} ]] || awk -v a="$5" -v b="${SECS[$k]}" 'BEGIN { exit !(a < b) }'; then
    SECS[$k]=$5
    MBS[$k]=$(mbps "$6" "$5")
    GBS[$k]=$(gbps "$6" "$5")
  fi
  if [[ -z ${MEM[$k]:-} ]] || awk -v a="$7" -v b="${MEM[$k]}" 'BEGIN { exit !(a > b) }'; then
    MEM[$k]=$7
  fi
}

# timed NAME OUTFILE CMD...: runs CMD under /usr/bin/time -v, cwd TMP;
# sets T_SECS and T_RSS; returns its status.
timed() {
  local name=$1 out=$2 rc=0 t0
  shift 2
  t0=$(now_ns)
  run_child env -C "$TMP" /usr/bin/time -v -o "$TMP/$name.time" "$@" >"$out" 2>"$TMP/$name.err" || rc=$?
  T_SECS=$(secs_since "$t0")
  T_RSS=$(rss_mib "$TMP/$name.time")
  if ((rc != 0)) || [[ -z $T_RSS ]]; then
    echo "$name FAILED (exit $rc); the end of its output:" >&2
    show_tail "$TMP/$name.err" "$name" 30 >&2
    return 1
  fi
  return 0
}

# check ENC RUN TASKGRID_CSV AWK_CSV: the same totals, and on this data the
# same table row for row.
check() {
  local enc=$1 run=$2 tg_req tg_bad awk_req awk_bad
  read -r tg_req tg_bad < <(awk -F, 'NR > 1 { r += $3; m += $10 } END { printf "%d %d\n", r, m }' "$3")
  read -r awk_req awk_bad < <(awk -F, 'NR > 1 { r += $3; m += $10 } END { printf "%d %d\n", r, m }' "$4")
  echo "  check (run $run): total requests: taskgrid $tg_req, awk $awk_req; malformed lines: taskgrid $tg_bad, awk $awk_bad"
  if [[ $tg_req != "$awk_req" || $tg_bad != "$awk_bad" ]]; then
    echo "!!!!!!!! MISMATCH ($enc, run $run): taskgrid and the awk pipeline disagree on the totals !!!!!!!!" >&2
    CHECK[$enc]="MISMATCH (requests $tg_req vs $awk_req)"
    CHECK_FAILED=1
  elif ! cmp -s "$3" "$4"; then
    echo "!!!!!!!! MISMATCH ($enc, run $run): same totals, but summary.csv differs from the awk table: !!!!!!!!" >&2
    diff "$3" "$4" | head -n 10 >&2 || true
    CHECK[$enc]="MISMATCH (rows differ; requests $tg_req)"
    CHECK_FAILED=1
  else
    echo "  check (run $run): summary.csv identical to the awk table ($(($(wc -l <"$3") - 1)) rows)"
    [[ ${CHECK[$enc]:-} == MISMATCH* ]] || CHECK[$enc]="ok: $tg_req requests, identical tables"
  fi
}

declare -A DECODED GEN_LINE
for enc in ${CODECS//,/ }; do
  case $enc in
    gz) DEC="zcat"; FASTDEC="igzip -dc"; PAT='*.log.gz' ;;
    zst) DEC="zstdcat"; FASTDEC="zstd -dcq"; PAT='*.log.zst' ;;
    plain) DEC="cat"; FASTDEC="cat"; PAT='*.log' ;;
  esac
  D=$DATA/$enc
  LOGS=$D/logs
  echo
  echo "== $enc: data in $LOGS ($SIZE decoded)"
  t0=$(now_ns)
  if ! "$TG" demo --dir "$D" --size "$SIZE" --codecs "$enc" --generate-only >"$TMP/gen-$enc.out" 2>&1; then
    echo "generating the $enc logs FAILED:" >&2
    show_tail "$TMP/gen-$enc.out" gen 30 >&2
    for s in taskgrid awk decode; do record "$enc" "$s" - NO-DATA; done
    continue
  fi
  GEN_LINE[$enc]=$(grep ' files, ' "$TMP/gen-$enc.out" | sed 's/^ *//')
  echo "  generator: ${GEN_LINE[$enc]} ($(secs_since "$t0") s)"
  find "$LOGS" -type f -name "$PAT" | sort >"$TMP/files-$enc"
  nfiles=$(wc -l <"$TMP/files-$enc")
  # Page cache warm for everyone; the decoded size, counted once, untimed.
  xargs -d '\n' cat <"$TMP/files-$enc" >/dev/null
  DECODED[$enc]=$(xargs -d '\n' "$DEC" <"$TMP/files-$enc" | wc -c)
  gen_decoded=$(sed -n 's/.* decoded=\([0-9]*\).*/\1/p' "$LOGS/.taskgrid-demo-data" 2>/dev/null || true)
  echo "  $nfiles files, ${DECODED[$enc]} bytes decoded ($DEC | wc -c)"
  if [[ -n $gen_decoded && $gen_decoded != "${DECODED[$enc]}" ]]; then
    echo "WARNING: $DEC | wc -c says ${DECODED[$enc]} bytes, the generator $gen_decoded" >&2
  fi
  bytes=${DECODED[$enc]}

  split_line=""
  [[ $enc == plain ]] && split_line=", split: \"bytes:$SPLIT\""
  CMD[$enc/taskgrid]="$BUILD_ARG/taskgrid run logstats-$enc.yaml --workers 2 --state state.db --no-progress"
  # parallel puts {} into the command shell-quoted.
  CMD[$enc/awk]="find D/logs -type f -name '$PAT' | parallel --will-cite -j2 \"$DEC {} | awk -F'\\\"' -v f={} -f map.awk\" | sort -u | awk -f reduce.awk"
  CMD[$enc/decode]="find D/logs -type f -name '$PAT' -print0 | xargs -0 -P2 -n1 $FASTDEC > /dev/null"
  AWK_PIPE="find $(printf %q "$LOGS") -type f -name '$PAT' | parallel --will-cite -j2 \"$DEC {} | awk -F'\\\"' -v f={} -f map.awk\" | sort -u | awk -f reduce.awk"
  DECODE_PIPE="find $(printf %q "$LOGS") -type f -name '$PAT' -print0 | xargs -0 -P2 -n1 $FASTDEC"

  # The systems take turns, run after run, so that a disturbance hits one
  # run of each rather than every run of one.
  for ((run = 1; run <= RUNS; run++)); do
    # ------------------------------------------------------------ taskgrid
    SPEC=$TMP/logstats-$enc-$run.yaml
    OUT=$TMP/out-$enc-$run
    cat >"$SPEC" <<EOF
name: bench-logstats
processor: logstats
model: mapreduce
input: {files: ["$LOGS/**"]$split_line}
output: "$OUT"
EOF
    echo "== $enc run $run/$RUNS: taskgrid: ${CMD[$enc/taskgrid]}"
    tg_ok=0
    if timed "taskgrid-$enc-$run" "$TMP/taskgrid-$enc-$run.out" \
      "$TG" run "$SPEC" --workers 2 --state "$TMP/state-$enc-$run.db" --no-progress; then
      show_tail "$TMP/taskgrid-$enc-$run.out" taskgrid 4
      record "$enc" taskgrid "$run" ok "$T_SECS" "$bytes" "$T_RSS"
      tg_ok=1
    else
      show_tail "$TMP/taskgrid-$enc-$run.out" taskgrid 30 >&2
      record "$enc" taskgrid "$run" FAILED
    fi

    # ------------------------------------------------------------ awk peer
    if [[ ,$PEERS, == *,awk,* ]]; then
      echo "== $enc run $run/$RUNS: parallel + $DEC + awk: ${CMD[$enc/awk]}"
      if timed "awk-$enc-$run" "$TMP/awk-$enc-$run.csv" bash -o pipefail -c "$AWK_PIPE"; then
        record "$enc" awk "$run" ok "$T_SECS" "$bytes" "$T_RSS"
        ((tg_ok)) && check "$enc" "$run" "$OUT/summary.csv" "$TMP/awk-$enc-$run.csv"
      else
        record "$enc" awk "$run" FAILED
      fi
    fi

    # ------------------------------------------------------------ decode-only
    if [[ ,$PEERS, == *,decode,* ]]; then
      echo "== $enc run $run/$RUNS: decode only: ${CMD[$enc/decode]}"
      if timed "decode-$enc-$run" /dev/null bash -o pipefail -c "$DECODE_PIPE"; then
        record "$enc" decode "$run" ok "$T_SECS" "$bytes" "$T_RSS"
      else
        record "$enc" decode "$run" FAILED
      fi
    fi
  done
done

# ---------------------------------------------------------------- table
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# Whether a / b >= t, unrounded (0.4995 is not half).
at_least() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { exit !(a / b >= t) }'; }
target_note() { # enc: taskgrid's standing against the three targets
  local enc=$1 notes=() r
  [[ ${STATUS[$enc/taskgrid]:-} == ok ]] || { echo "-"; return; }
  if awk -v g="${GBS[$enc/taskgrid]}" 'BEGIN { exit !(g >= 1) }'; then notes+=(">= 1 GB/s: yes"); else notes+=(">= 1 GB/s: NO"); fi
  if [[ ${STATUS[$enc/awk]:-} == ok ]]; then
    r=$(ratio "${MBS[$enc/taskgrid]}" "${MBS[$enc/awk]}")
    if at_least "${MBS[$enc/taskgrid]}" "${MBS[$enc/awk]}" 8; then notes+=("${r}x awk: yes"); else notes+=("${r}x awk: NO"); fi
  fi
  if [[ ${STATUS[$enc/decode]:-} == ok ]]; then
    r=$(ratio "${MBS[$enc/taskgrid]}" "${MBS[$enc/decode]}")
    if at_least "${MBS[$enc/taskgrid]}" "${MBS[$enc/decode]}" 0.5; then notes+=("${r} of limit: yes"); else notes+=("${r} of limit: NO"); fi
  fi
  local out
  printf -v out '%s; ' "${notes[@]}"
  echo "${out%; }"
}

echo
REPRO="LOGSTATS_SIZE=$SIZE LOGSTATS_CODECS=$CODECS"
[[ $SPLIT != 64MiB ]] && REPRO+=" LOGSTATS_SPLIT=$SPLIT"
[[ $RUNS != 3 ]] && REPRO+=" LOGSTATS_RUNS=$RUNS"
[[ $PEERS != awk,decode ]] && REPRO+=" LOGSTATS_PEERS=$PEERS"
echo "Reproduce: $REPRO bench/logstats_e2e.sh $BUILD_ARG"
echo "(awk: $AWK_VERSION; $PARALLEL_VERSION; LC_ALL=C; D = $DATA/<encoding>; map.awk/reduce.awk: see bench/logstats_e2e.sh)"
for enc in ${CODECS//,/ }; do
  [[ -n ${GEN_LINE[$enc]:-} ]] && echo "($enc data: ${GEN_LINE[$enc]}; ${DECODED[$enc]} bytes decoded; check: ${CHECK[$enc]:-not run})"
done
echo
echo "| encoding | system | seconds (best of $RUNS) | MB/s | GB/s | peak RSS (MiB) | targets (taskgrid) | all runs (s) | machine | date | command |"
echo "|---|---|---:|---:|---:|---:|---|---|---|---|---|"
for k in "${ROWS[@]}"; do
  enc=${k%%/*}
  s=${k#*/}
  note="-"
  case $enc/$s in
    */taskgrid) name="taskgrid $REV"; note=$(target_note "$enc") ;;
    gz/awk) name="parallel + zcat + awk" ;;
    zst/awk) name="parallel + zstdcat + awk" ;;
    plain/awk) name="parallel + cat + awk" ;;
    gz/decode) name="igzip -dc x2 (decode-only limit)" ;;
    zst/decode) name="zstd -dc x2 (decode-only limit)" ;;
    plain/decode) name="cat x2 (read-only limit)" ;;
  esac
  label=$enc
  cmd=${CMD[$k]:-}
  cmd=${cmd//|/\\|} # a '|' inside a table cell, even in code, must be escaped
  [[ $enc == plain ]] && label="plain, split bytes:$SPLIT"
  if [[ ${STATUS[$k]} == ok ]]; then
    echo "| $label | $name | ${SECS[$k]} | ${MBS[$k]} | ${GBS[$k]} | ${MEM[$k]} | $note | ${ALLSECS[$k]} | $MACHINE | $DATE | \`$cmd\` |"
  else
    echo "| $label | $name | ${STATUS[$k]} | - | - | - | - | ${ALLSECS[$k]:-} | $MACHINE | $DATE | \`$cmd\` |"
  fi
done

if ((CHECK_FAILED)); then
  echo "logstats_e2e: taskgrid and the awk pipeline DISAGREE (see MISMATCH above)" >&2
fi
if ((FAILED)); then
  echo "logstats_e2e: at least one system failed" >&2
fi
((FAILED || CHECK_FAILED)) && exit 1
exit 0

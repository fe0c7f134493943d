#!/usr/bin/env bash
# Alternating binaries on the logstats job: for measuring one change
# against the build before it, when the shared host's speed drifts by more
# than the change (whole invocations of bench/logstats_e2e.sh minutes apart
# differ by up to 15% here). Each round runs every binary once, in turn:
#
#   BIN run SPEC --workers 2 --state TMP/state.db --no-progress
#
# on LOGSTATS_DIR/<encoding>/logs/** (the data bench/logstats_e2e.sh
# generates and keeps), a fresh state file and output directory per run,
# under /usr/bin/time. Prints per binary the mean and best wall seconds, the
# mean CPU seconds (user + system) and the mean minor page faults over the
# rounds.
#
#   bench/logstats_alternate.sh ROUNDS BIN_OLD BIN_NEW [BIN...]
#
# Environment: LOGSTATS_DIR (/tmp/taskgrid-logstats-bench), ENCODING (gz).
set -euo pipefail
[[ $# -ge 3 && $1 =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: $0 ROUNDS BIN BIN [BIN...]" >&2
  exit 2
}
rounds=$1
shift
data=${LOGSTATS_DIR:-/tmp/taskgrid-logstats-bench}/${ENCODING:-gz}/logs
[[ -d $data ]] || {
  echo "no logs in $data: run bench/logstats_e2e.sh first" >&2
  exit 2
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-alternate.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/spec.yaml" <<YAML
name: bench-logstats
processor: logstats
model: mapreduce
input: {files: ["$data/**"]}
output: "$tmp/out"
YAML
for ((r = 1; r <= rounds; r++)); do
  for bin in "$@"; do
    rm -rf "$tmp/out" "$tmp"/state.db*
    /usr/bin/time -f "$bin %e %U %S %R" -o "$tmp/time" \
      "$bin" run "$tmp/spec.yaml" --workers 2 --state "$tmp/state.db" \
      --no-progress >/dev/null 2>"$tmp/err" || {
      cat "$tmp/err" >&2
      exit 1
    }
    cat "$tmp/time"
  done
done | awk '{ w[$1] += $2; c[$1] += $3 + $4; f[$1] += $5; n[$1]++
              if (!($1 in best) || $2 < best[$1]) best[$1] = $2 }
            END { for (b in w) printf "%s runs=%d mean_wall_s=%.3f best_wall_s=%.3f mean_cpu_s=%.3f mean_minor_faults=%.0f\n",
                  b, n[b], w[b] / n[b], best[b], c[b] / n[b], f[b] / n[b] }'

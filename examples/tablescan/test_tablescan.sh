#!/usr/bin/env bash
# End-to-end test of the tablescan example (ctest: example_tablescan).
#   test_tablescan.sh PATH/TO/tablescan
#
# 1. Builds a SQLite table of 10,000 rows whose ids have gaps (every 6th id is
#    missing, and a 50,000-id hole in the middle) and do not start at a page
#    boundary; runs the example with an uneven page size on 2 workers; checks
#    exit 0, the job's result against sums computed by sqlite3 itself, and the
#    task count: 1 root + ceil((max-min+1)/page_size) pages + 1 reduce.
# 2. Runs it with a table name containing a quote: the root task must refuse
#    it (dead task, exit 1) with an error that names the table, and the
#    database must be untouched.
set -euo pipefail

bin=${1:?usage: test_tablescan.sh PATH/TO/tablescan}
for tool in sqlite3 python3 timeout; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not found" >&2
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tablescan-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# --- data -------------------------------------------------------------------
db=$tmp/orders.db
sqlite3 "$db" <<'SQL'
CREATE TABLE orders(id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 5 UNION ALL SELECT i + 1 FROM n WHERE i < 12004)
INSERT INTO orders(id, amount)
  SELECT CASE WHEN i > 6000 THEN i + 50000 ELSE i END,
         (i * 37) % 1001 - 200
  FROM n WHERE i % 6 != 0;
SQL
page_size=777
read -r min max rows sum < <(sqlite3 -separator ' ' "$db" \
  'SELECT min(id), max(id), count(*), sum(amount) FROM orders')
[[ $rows == 10000 ]] || fail "test data has $rows rows, want 10000"
pages=$(((max - min + 1 + page_size - 1) / page_size))
echo "data: ids $min..$max, $rows rows, sum $sum, $pages pages of $page_size"

json_field() {  # json_field FILE PYTHON-EXPR-ON-j
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# --- 1. a good scan ---------------------------------------------------------
cat >"$tmp/scan.yaml" <<EOF
name: tablescan-test
processor: tablescan
model: mapreduce
params: {db: "$db", table: orders, page_size: $page_size}
retry: {max_attempts: 2, backoff: 100ms}
EOF
state=$tmp/state.db
rc=0
timeout 120 "$bin" run "$tmp/scan.yaml" --state "$state" --workers 2 \
  >"$tmp/run.out" 2>&1 || rc=$?
cat "$tmp/run.out"
[[ $rc == 0 ]] || fail "tablescan run exited $rc, want 0"

"$bin" status 1 --json --state "$state" >"$tmp/status.json" ||
  fail "tablescan status 1 --json failed"
cat "$tmp/status.json"
[[ $(json_field "$tmp/status.json" 'j["name"]') == tablescan-test ]] ||
  fail "job 1 is not the tablescan-test job"
[[ $(json_field "$tmp/status.json" 'j["state"]') == succeeded ]] ||
  fail "job state is not succeeded"
want="rows=$rows sum=$sum"
got=$(json_field "$tmp/status.json" 'j["result"]')
[[ $got == "$want" ]] || fail "result '$got', want '$want'"
got=$(json_field "$tmp/status.json" 'j["tasks"]')
[[ $got == $((pages + 2)) ]] ||
  fail "$got tasks, want $((pages + 2)) (1 root + $pages pages + 1 reduce)"
got=$(json_field "$tmp/status.json" 'j["counts"]["succeeded"]')
[[ $got == $((pages + 2)) ]] || fail "$got tasks succeeded, want $((pages + 2))"

"$bin" tasks 1 --json --stage page --limit 0 --state "$state" \
  >"$tmp/pages.json" || fail "tablescan tasks 1 --stage page failed"
got=$(json_field "$tmp/pages.json" 'len(j)')
[[ $got == "$pages" ]] || fail "$got page tasks, want $pages"
# The pages tile [min, max+1) exactly: no gap, no overlap.
got=$(json_field "$tmp/pages.json" \
  '" ".join(p["payload"] for p in sorted(j, key=lambda p: int(p["payload"].split(",")[0])))')
python3 - "$min" "$max" "$got" <<'PY' || fail "page payloads do not tile [min, max+1)"
import sys
lo, hi, payloads = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split()
at = lo
for p in payloads:
    s, e = map(int, p.split(","))
    assert s == at and e > s, (p, at)
    at = e
assert at == hi + 1, (at, hi)
PY
echo "ok: good scan ($want, $((pages + 2)) tasks)"

# --- 2. a table name that is not an identifier ------------------------------
cat >"$tmp/bad.yaml" <<EOF
name: tablescan-bad-table
processor: tablescan
model: mapreduce
params: {db: "$db", table: "orders' --", page_size: 100}
retry: {max_attempts: 2, backoff: 10ms}
EOF
state=$tmp/state-bad.db
rc=0
timeout 120 "$bin" run "$tmp/bad.yaml" --state "$state" --workers 2 \
  >"$tmp/bad.out" 2>&1 || rc=$?
cat "$tmp/bad.out"
[[ $rc == 1 ]] || fail "bad table: tablescan run exited $rc, want 1"
"$bin" status 1 --json --state "$state" >"$tmp/bad-status.json" ||
  fail "bad table: tablescan status failed"
[[ $(json_field "$tmp/bad-status.json" 'j["state"]') == failed ]] ||
  fail "bad table: job state is not failed"
"$bin" tasks 1 --json --status dead --state "$state" >"$tmp/dead.json" ||
  fail "bad table: tablescan tasks --status dead failed"
cat "$tmp/dead.json"
[[ $(json_field "$tmp/dead.json" 'len(j)') -ge 1 ]] ||
  fail "bad table: no dead task"
[[ $(json_field "$tmp/dead.json" 'j[0]["name"]') == root ]] ||
  fail "bad table: the dead task is not the root"
json_field "$tmp/dead.json" 'j[0]["error"] or ""' | grep -qF "orders' --" ||
  fail "bad table: the dead task's error does not name the table"
[[ $(sqlite3 "$db" 'SELECT count(*) FROM orders') == 10000 ]] ||
  fail "bad table: the database changed"
echo "ok: bad table name refused"
echo PASS

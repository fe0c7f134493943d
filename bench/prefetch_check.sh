#!/usr/bin/env bash
# Which prefetch instructions a build really has, and why logstats issues
# them through PrefetchLine (an asm statement) rather than
# __builtin_prefetch:
#
#   bench/prefetch_check.sh BUILD_DIR
#
# 1. The prefetch instructions in BUILD_DIR/taskgrid, counted per function
#    (objdump -d). logstats' tables should show theirs: the slots' and the
#    URL records' in the line loop and HourStats::Later::Push (or wherever
#    the compiler inlined them).
# 2. The compiler on a ten-line example, at -O2 and -O3: a table's
#    prefetch under `if (!v.empty())`, as logstats had it, then the same
#    without the branch. GCC 12 deletes the first at -O2 (count 0).
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
tg=$1/taskgrid
[[ -x $tg ]] || { echo "no taskgrid binary at $tg" >&2; exit 2; }
CXX=${CXX:-c++}

echo "== prefetch instructions in $tg, per function"
objdump -d --no-show-raw-insn "$tg" |
  awk '/^[0-9a-f]+ <.*>:$/ { fn = $2 } /\tprefetch/ { n[fn]++ }
       END { for (f in n) print n[f], f }' |
  c++filt | sort -k2 | cut -c1-160

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-prefetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for guarded in 1 0; do
  cat >"$tmp/t.cc" <<CC
#include <cstdint>
#include <vector>
struct T {
  std::vector<uint64_t> v;
  void Prefetch(uint64_t h) const {
#if $guarded
    if (!v.empty())
#endif
      __builtin_prefetch(&v[h & (v.size() - 1)]);
  }
};
void F(const T* t, uint64_t h) { t->Prefetch(h); }
CC
  for opt in -O2 -O3; do
    n=$("$CXX" -std=c++20 "$opt" -S -o - "$tmp/t.cc" | grep -c prefetch || true)
    echo "== __builtin_prefetch $([[ $guarded == 1 ]] && echo 'under a branch' || echo 'unguarded'), $CXX $opt: $n prefetch instruction(s)"
  done
done

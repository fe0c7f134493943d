#!/usr/bin/env bash
# Proves the installed CMake package works (ctest: install_package):
#   test_install.sh BUILD_DIR CONSUMER_SOURCE_DIR CMAKE NINJA CXX_COMPILER
#
# 1. cmake --install BUILD_DIR into a fresh temporary prefix;
# 2. configures tests/install (find_package(taskgrid) +
#    target_link_libraries(consumer taskgrid::taskgrid)) as a separate
#    project against that prefix only, with Ninja, and builds it with -j2;
# 3. runs the consumer as a taskgrid CLI on a one-task standalone job and
#    checks exit 0, `consumer status 1 --json` state == succeeded, and the
#    task's log line from the consumer's own processor.
# The main tree must already be built (ctest runs after the build).
set -euo pipefail

build=${1:?usage: test_install.sh BUILD_DIR CONSUMER_SOURCE_DIR CMAKE NINJA CXX}
src=${2:?}
cmake=${3:?}
ninja=${4:?}
cxx=${5:?}
command -v python3 >/dev/null || { echo "SKIP: python3 not found" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskgrid-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install failed"; }
config=$(find "$prefix" -name taskgridConfig.cmake -print -quit)
[[ -n $config ]] || fail "no taskgridConfig.cmake under $prefix"
[[ -f $prefix/include/taskgrid/taskgrid.h ]] || fail "public headers not installed"
echo "installed: $config"

# Only the prefix may satisfy find_package(taskgrid): no package registry,
# and the source and build trees are nowhere on the search path.
"$cmake" -S "$src" -B "$tmp/build" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$ninja" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "configuring the consumer failed"; }
found=$(sed -n 's/^taskgrid_DIR:PATH=//p' "$tmp/build/CMakeCache.txt")
[[ $found == "$prefix"/* ]] ||
  fail "find_package(taskgrid) found '$found', not the install prefix"
"$cmake" --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "building the consumer failed"; }
echo "built consumer against $found"

consumer=$tmp/build/consumer
state=$tmp/state.db
cat >"$tmp/hello.yaml" <<'EOF'
name: hello
processor: hello
model: standalone
params: {who: taskgrid}
EOF
rc=0
(cd "$tmp" && timeout 60 "$consumer" run hello.yaml --state "$state" \
  --workers 1) || rc=$?
[[ $rc == 0 ]] || fail "consumer run exited $rc, want 0"

"$consumer" status 1 --json --state "$state" >"$tmp/status.json" ||
  fail "consumer status 1 --json failed"
cat "$tmp/status.json"
python3 - "$tmp/status.json" <<'PY' || fail "job 1 did not succeed"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["name"] == "hello", j
assert j["state"] == "succeeded", j
assert j["tasks"] == 1 and j["counts"]["succeeded"] == 1, j
PY
"$consumer" logs 1 1 --json --state "$state" >"$tmp/logs.json" ||
  fail "consumer logs 1 1 --json failed"
python3 - "$tmp/logs.json" <<'PY' || fail "the consumer's processor did not run"
import json, sys
lines = [l["line"] for l in json.load(open(sys.argv[1]))]
assert "saying hello to taskgrid" in lines, lines
PY
echo PASS

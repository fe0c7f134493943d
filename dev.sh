#!/usr/bin/env bash
# taskgrid's developer entry point. On a fresh Debian 12 machine:
#   ./dev.sh demo    install what is needed, build, run the demo job
#   ./dev.sh test    install what is needed, build, run the whole test suite
#   ./dev.sh build   install and build only
#   ./dev.sh bench   build and run the end-to-end benchmarks (see bench/)
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

build() {  # build [TARGET]
  scripts/deps.sh
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$BUILD_DIR" -j "$JOBS" ${1:+--target "$1"}
}

cmd=${1:-}
shift || true
case "$cmd" in
  build)
    build
    ;;
  demo)
    build taskgrid_cli
    exec "$BUILD_DIR/taskgrid" demo "$@"
    ;;
  test)
    build
    cd "$BUILD_DIR"
    exec ctest --output-on-failure -j "$JOBS" "$@"
    ;;
  bench)
    scripts/deps.sh
    build
    exec bench/run_all.sh "$BUILD_DIR" "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo|test|build|bench" >&2
    exit 2
    ;;
esac

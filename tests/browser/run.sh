#!/usr/bin/env bash
# ctest entry point of the browser test: run.sh TESTBIN WORKDIR
#
# Checks for node, npm and Debian's chromium, installs the npm packages
# pinned in package-lock.json into WORKDIR (skipped when that lock is
# already installed there, so a second run works offline), then runs
# dashboard.test.mjs. Screenshots go to WORKDIR/artifacts/.
#
# A missing tool fails the test (CI must run it); set
# TASKGRID_SKIP_BROWSER_TESTS=1 to skip it on a machine without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testbin=$1
work=$2

if [[ ${TASKGRID_SKIP_BROWSER_TESTS:-} == 1 ]]; then
  echo "browser test skipped: TASKGRID_SKIP_BROWSER_TESTS=1"
  exit 77
fi
chromium=${TASKGRID_CHROMIUM:-/usr/bin/chromium}
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[[ -x $chromium ]] || missing+=("chromium ($chromium)")
if ((${#missing[@]})); then
  echo "browser test FAILED: missing ${missing[*]}." >&2
  echo "Install them with scripts/deps.sh (Debian: apt-get install -y" \
       "chromium nodejs npm), or set TASKGRID_SKIP_BROWSER_TESTS=1 to skip" \
       "this test on this machine." >&2
  exit 1
fi

mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/installed-lock.json" ||
   [[ ! -d $work/node_modules/playwright-core ]]; then
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  npm ci --prefix "$work" --prefer-offline --no-audit --no-fund
  cp "$here/package-lock.json" "$work/installed-lock.json"
fi

export TASKGRID_TESTBIN=$testbin
export TASKGRID_CHROMIUM=$chromium
export TASKGRID_NODE_MODULES=$work/node_modules
export TASKGRID_ARTIFACTS=$work/artifacts
exec node "$here/dashboard.test.mjs"

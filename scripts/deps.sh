#!/usr/bin/env bash
# Installs the Debian 12 packages taskgrid needs to build, test and benchmark.
# Idempotent: when everything is already installed it does nothing (no
# apt-get update), so a second run is instant and works offline.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libsqlite3-dev sqlite3 libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libisal-dev libdeflate-dev libzstd-dev libbz2-dev liblzma-dev liblz4-dev
  gzip zstd bzip2 xz-utils lz4 isal
  libpq-dev postgresql
  libcpp-httplib-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # the dashboard's browser test (tests/browser/): headless chromium driven
  # by playwright-core, which npm installs from tests/browser/package-lock.json
  chromium
)
# Node.js and npm for that test, from Debian only where the machine has none:
# a Node.js that bundles npm conflicts with Debian's npm package.
command -v node >/dev/null || BUILD_PKGS+=(nodejs)
command -v npm >/dev/null || BUILD_PKGS+=(npm)

want=("${BUILD_PKGS[@]}" "$@")
missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

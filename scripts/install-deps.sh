#!/usr/bin/env bash
# install-deps.sh - install every Debian package the build, the tests and the benchmarks use.
# Idempotent: packages already present are not touched, and apt is asked only when one is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache clang clang-tidy clang-format lld libclang-rt-14-dev
  # libraries
  libboost-dev libboost-system-dev nlohmann-json3-dev libsimdjson-dev libsqlite3-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libexpected-dev libssl-dev
  libarchive-dev libcurl4-openssl-dev
  # tasks: the virtualenv environment manager and the scikit-learn example
  python3-venv python3-pip python3-setuptools python3-wheel python3-sklearn
  # tests and benchmarks (torch: the multi-node test's all-reduce on CPU with gloo)
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-pytest python3-requests sqlite3 curl
  python3-torch
)

# The tests' OpenID provider (tests/oidc) runs on Node.js with npm. A machine that already has
# them (from Debian or NodeSource) keeps its own: Debian's npm package conflicts with
# NodeSource's nodejs, which ships npm itself.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

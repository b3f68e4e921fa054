#!/usr/bin/env bash
# build.sh - configure and build MLTF (release with debug info) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLTF_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"

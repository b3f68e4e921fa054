#!/usr/bin/env bash
# test.sh - install what is missing, build, and run the whole test suite:
#   1. the release build (warnings are errors): unit tests, fuzz corpus replay, end-to-end tests
#      against the real `mltf` binary;
#   1b. the end-to-end tests of the slurm executor, on a real SLURM cluster started on this host
#      (scripts/slurm-test-cluster.sh, in a private network namespace; needs root);
#   2. the unit tests and fuzz corpora again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (clang);
#   3. clang-tidy (.clang-tidy: STYLE.md's checks, as errors) over src/, with the clang build's
#      compile commands;
#   4. formatting of every C++ file.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

echo "== release build and tests"
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== the slurm executor on a real SLURM cluster"
scripts/slurm-test-cluster.sh install
slurm_dir=$(mktemp -d /tmp/mltf-slurm.XXXX)
MLTF_BIN="$(pwd)/build/bin/mltf" scripts/slurm-test-cluster.sh run "$slurm_dir" -- \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e/test_slurm_executor.py \
    tests/e2e/test_slurm_rest.py

echo "== unit tests under ASan + UBSan"
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMLTF_SANITIZE=ON -DMLTF_ONLY_UNIT_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L "unit|fuzz"

echo "== clang-tidy"
run-clang-tidy-14 -p build-asan -quiet -j "$jobs" "$(pwd)/src/" >build-asan/clang-tidy.log 2>&1 || {
  grep -E "error:|warning:" build-asan/clang-tidy.log | sort -u
  echo "clang-tidy found problems (full log: build-asan/clang-tidy.log)"
  exit 1
}

echo "== formatting"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror
echo "all checks passed"

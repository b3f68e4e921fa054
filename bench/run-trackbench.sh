#!/usr/bin/env bash
# run-trackbench.sh - measure `mltf server` with trackbench and compare it with the reference
# MLflow 2.9.2 figures, side by side.
#   bench/run-trackbench.sh [--quick] [trackbench options...]
# Needs ../shared/trackbench beside the repository (as in CI). Builds first; the server runs on a
# fresh data directory with the access log off, and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
trackbench_dir=${TRACKBENCH_DIR:-../shared/trackbench}
[ -x "$trackbench_dir/trackbench" ] || { echo "trackbench not found in $trackbench_dir" >&2; exit 2; }
scripts/build.sh >/dev/null

work=$(mktemp -d)
port=${MLTF_BENCH_PORT:-5199}
./build/bin/mltf server --port "$port" --data-dir "$work/data" --access-log false \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

out=${MLTF_BENCH_OUT:-bench/results/mltf-$(date +%Y%m%d-%H%M%S).json}
mkdir -p "$(dirname "$out")"
python3 "$trackbench_dir/trackbench" --url "http://127.0.0.1:$port" --server-pid "$server" \
  --label "mltf $(./build/bin/mltf version | cut -d' ' -f2)" --out "$out" "$@"
python3 "$trackbench_dir/tbtable" "$trackbench_dir/baseline-mlflow-2.9.2-sqlite-4w.json" "$out"

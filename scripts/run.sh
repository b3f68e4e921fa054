#!/usr/bin/env bash
# run.sh - install what is missing, build, start `mltf server` on the embedded default (SQLite +
# local artifacts under ./mltf-data), track an example run through the MLflow REST API, show
# what was tracked, and keep serving until Ctrl-C. MLTF_DEMO_EXIT=1 stops after the example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

port=${MLTF_PORT:-5000}
./build/bin/mltf server --port "$port" --access-log false &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done

MLFLOW_TRACKING_URI="http://127.0.0.1:$port" /usr/bin/python3 examples/quickstart.py

if [ "${MLTF_DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo "serving on http://127.0.0.1:$port (MLFLOW_TRACKING_URI); Ctrl-C stops"
wait $server

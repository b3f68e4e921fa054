#!/usr/bin/env bash
# run.sh - install what is missing, build, start `mltf server` on the embedded default (SQLite +
# local artifacts + the local executor, under ./mltf-data), submit the quickstart training task
# (examples/quickstart: scikit-learn in a virtualenv), follow its log, show what was tracked,
# and keep serving until Ctrl-C. MLTF_DEMO_EXIT=1 stops after the example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

port=${MLTF_PORT:-5000}
url="http://127.0.0.1:$port"
# This machine has no PyPI: virtualenvs see Debian's packages (python3-sklearn) and pip stays
# offline. A site with a package mirror sets --pip-index-url instead.
./build/bin/mltf server --port "$port" --access-log false --python /usr/bin/python3 \
  --venv-system-site-packages true --pip-no-index true &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  curl -sf "$url/health" >/dev/null && break
  sleep 0.1
done

./build/bin/mltf submit examples/quickstart --server "$url" --experiment-name quickstart \
  --metric-pattern default --follow
/usr/bin/python3 examples/show_task.py "$url"

if [ "${MLTF_DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo "serving on $url (MLFLOW_TRACKING_URI, MLTF_SERVER); Ctrl-C stops"
wait $server

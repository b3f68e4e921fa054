#!/usr/bin/env python3
"""rest_tracking.py - track a small training run through MLTF's MLflow REST API and print it back.

What `mlflow.start_run(); mlflow.log_param(...); mlflow.log_metric(...)` sends, spelled out with
`requests` so it runs where the mlflow package is not installed.
"""
import json
import math
import os
import time

import requests

base = os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000") + "/api/2.0/mlflow"


def call(method, path, **kwargs):
    response = requests.request(method, base + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


name = "quickstart"
found = requests.get(base + "/experiments/get-by-name", params={"experiment_name": name}, timeout=10)
if found.status_code == 200:
    experiment_id = found.json()["experiment"]["experiment_id"]
else:
    experiment_id = call("POST", "/experiments/create", json={"name": name})["experiment_id"]

now = int(time.time() * 1000)
run = call("POST", "/runs/create", json={
    "experiment_id": experiment_id, "start_time": now,
    "tags": [{"key": "mlflow.source.name", "value": "examples/quickstart.py"}]})["run"]
run_id = run["info"]["run_id"]

# A toy training loop: the loss decays, the accuracy rises.
params = [{"key": "learning_rate", "value": "0.01"}, {"key": "epochs", "value": "20"}]
metrics = []
for epoch in range(20):
    metrics.append({"key": "loss", "value": math.exp(-epoch / 6), "timestamp": now + epoch, "step": epoch})
    metrics.append({"key": "accuracy", "value": 1 - 0.5 * math.exp(-epoch / 4), "timestamp": now + epoch, "step": epoch})
call("POST", "/runs/log-batch", json={"run_id": run_id, "params": params, "metrics": metrics})
call("POST", "/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})

tracked = call("GET", "/runs/get", params={"run_id": run_id})["run"]
history = call("GET", "/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"})["metrics"]
print(f"run {run_id} in experiment {experiment_id} ({tracked['info']['run_name']}): {tracked['info']['status']}")
print("  params: ", {p["key"]: p["value"] for p in tracked["data"]["params"]})
print("  metrics:", {m["key"]: round(m["value"], 4) for m in tracked["data"]["metrics"]})
print(f"  loss history: {len(history)} points, first {history[0]['value']:.3f}, last {history[-1]['value']:.3f}")
print(json.dumps(tracked["info"], indent=2))

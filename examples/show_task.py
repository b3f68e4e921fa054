#!/usr/bin/env python3
"""show_task.py - print what MLTF tracked for a task: its state, and its run's params, metrics
and artifacts, read back through the REST APIs.

usage: show_task.py SERVER_URL [TASK_ID]   (default: the newest task)
"""
import sys

import requests

server = sys.argv[1].rstrip("/")
if len(sys.argv) > 2:
    task_id = sys.argv[2]
else:
    task_id = requests.get(f"{server}/api/mltf/v1/tasks", params={"max_results": 1},
                           timeout=10).json()["tasks"][0]["task_id"]
task = requests.get(f"{server}/api/mltf/v1/tasks/{task_id}", timeout=10).json()["task"]
run = requests.get(f"{server}/api/2.0/mlflow/runs/get", params={"run_id": task["run_id"]},
                   timeout=10).json()["run"]

print(f"task {task['task_id']}: {task['state']} (exit code {task.get('exit_code')}), "
      f"attempt {task['attempt']}")
print(f"  command  {task['command']}")
print(f"run {run['info']['run_id']} in experiment {run['info']['experiment_id']}: "
      f"{run['info']['status']}")
print("  params   " + ", ".join(f"{p['key']}={p['value']}" for p in run["data"].get("params", [])))
for metric in run["data"].get("metrics", []):
    history = requests.get(f"{server}/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": run["info"]["run_id"], "metric_key": metric["key"]},
                           timeout=10).json()["metrics"]
    values = " ".join(f"{point['value']:g}" for point in history)
    print(f"  metric   {metric['key']}: {values}")


def list_artifacts(path=""):
    params = {"run_id": run["info"]["run_id"]}
    if path:
        params["path"] = path
    listing = requests.get(f"{server}/api/2.0/mlflow/artifacts/list", params=params,
                           timeout=10).json()
    for item in listing.get("files", []):
        if item["is_dir"]:
            list_artifacts(item["path"])
        else:
            print(f"  artifact {item['path']} ({item['file_size']} bytes)")


list_artifacts()
sys.exit(0 if task["state"] == "SUCCEEDED" else 1)

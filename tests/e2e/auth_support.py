"""auth_support.py - what the end-to-end tests of both credential modes (tokens, oidc) share:
every route the server has, credentials as headers, and a task that outlives its token.
"""

from __future__ import annotations

import base64
import time
from typing import Dict, List, Tuple

import requests

from gateway_support import API, TERMINAL, project_archive

OPEN_PATHS = ["/health", "/version", "/api/config", "/.config"]

# Every route the server has, with a method it answers (the body does not matter: the
# credential is checked before the body is read).
ENDPOINTS: List[Tuple[str, str]] = [
    (method, prefix + path)
    for prefix in ("/api/2.0", "/ajax-api/2.0")
    for method, path in [
        ("POST", "/mlflow/experiments/create"), ("GET", "/mlflow/experiments/get"),
        ("GET", "/mlflow/experiments/get-by-name"), ("GET", "/mlflow/experiments/search"),
        ("POST", "/mlflow/experiments/search"), ("POST", "/mlflow/experiments/delete"),
        ("POST", "/mlflow/experiments/restore"), ("POST", "/mlflow/experiments/update"),
        ("POST", "/mlflow/experiments/set-experiment-tag"),
        ("POST", "/mlflow/experiments/search-datasets"),
        ("POST", "/mlflow/runs/create"), ("GET", "/mlflow/runs/get"),
        ("POST", "/mlflow/runs/update"), ("POST", "/mlflow/runs/delete"),
        ("POST", "/mlflow/runs/restore"), ("POST", "/mlflow/runs/log-metric"),
        ("POST", "/mlflow/runs/log-parameter"), ("POST", "/mlflow/runs/set-tag"),
        ("POST", "/mlflow/runs/delete-tag"), ("POST", "/mlflow/runs/log-batch"),
        ("POST", "/mlflow/runs/log-model"), ("POST", "/mlflow/runs/log-inputs"),
        ("POST", "/mlflow/runs/search"), ("GET", "/mlflow/metrics/get-history"),
        ("GET", "/mlflow/metrics/get-history-bulk"),
        ("GET", "/mlflow/metrics/get-history-bulk-interval"),
        ("GET", "/mlflow/artifacts/list"),
        ("POST", "/mlflow/registered-models/create"), ("GET", "/mlflow/registered-models/get"),
        ("GET", "/mlflow/registered-models/search"),
        ("PATCH", "/mlflow/registered-models/update"),
        ("POST", "/mlflow/registered-models/rename"),
        ("DELETE", "/mlflow/registered-models/delete"),
        ("POST", "/mlflow/registered-models/set-tag"),
        ("DELETE", "/mlflow/registered-models/delete-tag"),
        ("POST", "/mlflow/registered-models/get-latest-versions"),
        ("GET", "/mlflow/registered-models/alias"), ("POST", "/mlflow/registered-models/alias"),
        ("DELETE", "/mlflow/registered-models/alias"),
        ("POST", "/mlflow/model-versions/create"), ("GET", "/mlflow/model-versions/get"),
        ("GET", "/mlflow/model-versions/search"), ("PATCH", "/mlflow/model-versions/update"),
        ("DELETE", "/mlflow/model-versions/delete"),
        ("POST", "/mlflow/model-versions/set-tag"),
        ("DELETE", "/mlflow/model-versions/delete-tag"),
        ("POST", "/mlflow/model-versions/transition-stage"),
        ("GET", "/mlflow/model-versions/get-download-uri"),
        ("GET", "/mlflow-artifacts/artifacts"),
        ("POST", "/mlflow/experiments/permissions/create"),
        ("GET", "/mlflow/experiments/permissions/get"),
        ("PATCH", "/mlflow/experiments/permissions/update"),
        ("DELETE", "/mlflow/experiments/permissions/delete"),
        ("POST", "/mlflow/registered-models/permissions/create"),
        ("GET", "/mlflow/registered-models/permissions/get"),
        ("PATCH", "/mlflow/registered-models/permissions/update"),
        ("DELETE", "/mlflow/registered-models/permissions/delete"),
    ]
] + [
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/some/file.txt"),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/some/file.txt"),
    ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/some/file.txt"),
    ("GET", "/get-artifact"),
    ("POST", API + "/projects"), ("GET", API + "/projects/" + "a" * 64),
    ("POST", API + "/tasks"), ("GET", API + "/tasks"), ("GET", API + "/tasks/t1"),
    ("GET", API + "/tasks/t1/logs"), ("POST", API + "/tasks/t1/cancel"),
    ("POST", API + "/tasks/t1/reproduce"),
    ("POST", "/api/job"), ("GET", "/api/jobs"), ("GET", "/api/jobs/t1"),
    ("DELETE", "/api/jobs/t1"), ("GET", "/healthz"),
    ("POST", API + "/task-token/renew"), ("GET", API + "/whoami"),
]


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> Dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def submit_as(url: str, token: str, files: Dict[str, str], **spec) -> dict:
    uploaded = requests.post(url + API + "/projects", data=project_archive(files),
                             headers={"Content-Type": "application/gzip", **bearer(token)},
                             timeout=30)
    assert uploaded.status_code == 200, uploaded.text
    spec["project"] = uploaded.json()["project"]["sha256"]
    response = requests.post(url + API + "/tasks", json=spec, headers=bearer(token), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["task"]


def wait_task(url: str, token: str, task_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(f"{url}{API}/tasks/{task_id}", headers=bearer(token), timeout=10)
        assert response.status_code == 200, response.text
        task = response.json()["task"]
        if task["state"] in TERMINAL or time.monotonic() > deadline:
            return task
        time.sleep(0.1)


# Logs a metric every half second for six seconds: twice the task token's first lifetime of
# three seconds, so it only succeeds if the runner keeps the token alive.
LONG_TASK = {"MLproject": "name: long\nentry_points:\n  main:\n    command: python3 track.py\n",
             "track.py": """import json, os, time, urllib.request
uri = os.environ["MLFLOW_TRACKING_URI"]
run_id = os.environ["MLFLOW_RUN_ID"]
token = os.environ["MLFLOW_TRACKING_TOKEN"]
for step in range(12):
    body = json.dumps({"run_id": run_id, "key": "tick", "value": step,
                       "timestamp": int(time.time() * 1000), "step": step}).encode()
    request = urllib.request.Request(uri + "/api/2.0/mlflow/runs/log-metric", data=body,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer " + token})
    urllib.request.urlopen(request).read()
    time.sleep(0.5)
print("token", token[:5], "user-token" if token.startswith("mltf_") else "?")
"""}

"""test_examples.py - the projects under examples/ run as the README says, through `mltf submit`:
the quickstart in a virtualenv built offline from Debian's packages, and the two entry points
with typed parameters."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests

from conftest import REPO_ROOT, mltf_binary
from gateway_support import API, get_run, log_of, run_artifacts, run_tags

EXAMPLES = REPO_ROOT / "examples"


def mltf(server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(mltf_binary()), *args, "--server", server.url],
                          capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin"})


def newest_task(server) -> dict:
    return requests.get(server.url + API + "/tasks", params={"max_results": 1}).json()["tasks"][0]


def test_quickstart_builds_its_virtualenv_once_and_tracks_metrics_and_the_model(
        start_mltf_server):
    server = start_mltf_server("--python", "/usr/bin/python3", "--venv-system-site-packages",
                               "true", "--pip-no-index", "true")
    done = mltf(server, "submit", str(EXAMPLES / "quickstart"), "--experiment-name",
                "quickstart", "--metric-pattern", "default", "-P", "n_estimators=30", "--follow")
    assert done.returncode == 0, done.stdout + done.stderr
    task = newest_task(server)
    run = get_run(server.url, task["run_id"])
    assert run["info"]["status"] == "FINISHED"
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics["accuracy"] > 0.8 and "f1_macro" in metrics
    history = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "accuracy"}).json()
    assert [m["step"] for m in history["metrics"]] == [0, 1, 2]
    assert run_artifacts(server.url, task["run_id"], "model") == {"model/features.json": False,
                                                                  "model/model.pkl": False}
    assert "mltf/environment/pip-freeze.txt" in run_artifacts(
        server.url, task["run_id"], "mltf/environment")
    assert "(built)" in log_of(server.url, task["task_id"])

    again = mltf(server, "submit", str(EXAMPLES / "quickstart"), "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)["task"]["task_id"]
    done = mltf(server, "logs", "-f", second)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(reused)" in done.stdout


def test_two_entry_points_with_typed_parameters(start_mltf_server):
    server = start_mltf_server("--python", "/usr/bin/python3")
    project = str(EXAMPLES / "two-entry-points")
    prepared = mltf(server, "submit", project, "-e", "prepare", "-P", "rows=500",
                    "-P", "noise=0.3", "--env-manager", "local", "--follow")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    assert "rows=500" in prepared.stdout
    assert "data.npz" in run_artifacts(server.url, newest_task(server)["run_id"])
    # The project's gateway_config.json, in the facility's keys, became the resource request.
    task = newest_task(server)
    assert task["resources"] == {"cpus-per-task": 1, "mem": "1G", "time": 600}
    given = json.loads(run_tags(get_run(server.url, task["run_id"]))["mltf.resources"])
    assert given["cpus"] == 1 and given["time"] == 600 and "memory" in given

    trained = mltf(server, "submit", project, "-e", "train", "-P", "learning_rate=0.5",
                   "-P", "epochs=5", "--env-manager", "local", "--metric-pattern", "default",
                   "--follow")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    run = get_run(server.url, newest_task(server)["run_id"])
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {
        "learning_rate": "0.5", "epochs": "5", "optimizer": "sgd"}

    refused = mltf(server, "submit", project, "-e", "train", "-P", "epochs=many")
    assert refused.returncode == 1
    assert "epochs" in refused.stderr
    assert not Path(server.data_dir / "tasks").exists() or len(
        list((server.data_dir / "tasks").iterdir())) == 2

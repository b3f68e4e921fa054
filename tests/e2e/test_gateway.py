"""test_gateway.py - training tasks end to end on the local executor: submission, the run kept in
step, logs, artifacts, failures, cancel, walltime, GPUs, priorities, restarts, reproduce."""

from __future__ import annotations

import json
import signal
import subprocess
import tarfile
import time

import requests

from conftest import mltf_binary
from gateway_support import (API, get_run, get_task, log_of, pids_with_marker, project_archive,
                             python, run_artifacts, run_tags, submit, task_dir, upload, wait_for,
                             wait_until)

PY = python()

TRAIN = {
    "MLproject": f"""name: demo
entry_points:
  main:
    parameters:
      alpha: {{type: float, default: 0.5}}
      epochs: {{type: int, default: 3}}
    command: "{PY} train.py --alpha {{alpha}} --epochs {{epochs}}"
""",
    "train.py": """import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--epochs", type=int)
parser.add_argument("--note", default="")
args = parser.parse_args()
for epoch in range(args.epochs):
    print(f"loss={args.alpha / (epoch + 1)}")
with open(os.path.join(os.environ["MLTF_OUTPUT_DIR"], "model.txt"), "w") as out:
    out.write(f"alpha={args.alpha} note={args.note}")
print("run", os.environ["MLFLOW_RUN_ID"], "experiment", os.environ["MLFLOW_EXPERIMENT_ID"])
print("task", os.environ["MLTF_TASK_ID"], "attempt", os.environ["MLTF_ATTEMPT"])
print("gpus", repr(os.environ["CUDA_VISIBLE_DEVICES"]))
""",
}


def script_project(body: str) -> dict:
    """A project without an MLproject: `run.sh` is the entry point, as MLflow runs it."""
    return {"run.sh": body}


def test_a_task_runs_to_success_with_its_run_logs_metrics_and_artifacts(start_mltf_server):
    server = start_mltf_server()
    answer = submit(server.url, TRAIN, parameters={"alpha": 0.25, "note": "first try"},
                    experiment_name="gateway-e2e", run_name="quick",
                    metric_patterns=[{"name": "loss", "regex": r"loss=([0-9.eE+-]+)"}])
    task = answer["task"]
    assert task["state"] in {"QUEUED", "STARTING", "RUNNING", "SUCCEEDED"}
    task = wait_for(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log_of(server.url, task["task_id"])
    assert task["exit_code"] == 0
    assert task["command"].endswith("train.py --alpha 0.25 --epochs 3 --note 'first try'")

    log = log_of(server.url, task["task_id"])
    assert "loss=0.25" in log and f"run {task['run_id']}" in log
    assert f"task {task['task_id']} attempt 1" in log
    assert "gpus ''" in log  # no GPU asked, none visible

    run = get_run(server.url, task["run_id"])
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["run_name"] == "quick"
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params == {"alpha": "0.25", "epochs": "3", "note": "first try"}
    tags = run_tags(run)
    assert tags["mltf.task_id"] == task["task_id"]
    assert tags["mltf.project_sha256"] == task["project"]
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.backend"] == "mltf"
    assert tags["mlflow.user"] == task["user"]
    history = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "loss"}).json()
    assert [(m["step"], m["value"]) for m in history["metrics"]] == [
        (0, 0.25), (1, 0.125), (2, 0.25 / 3)]
    artifacts = run_artifacts(server.url, task["run_id"])
    assert artifacts.get("model.txt") is False
    assert "mltf/task.log" in run_artifacts(server.url, task["run_id"], "mltf")

    detail = get_task(server.url, task["task_id"])
    assert [e["event"] for e in detail["events"]][:2] == ["SUBMITTED", "QUEUED"]
    assert detail["events"][-1]["event"] == "EXITED"
    assert detail["attempts"][0]["state"] == "SUCCEEDED"


def test_a_failing_script_fails_with_its_exit_code_and_the_run_failed(start_mltf_server):
    server = start_mltf_server()
    task = submit(server.url, script_project("echo about to fail\nexit 3\n"),
                  entry_point="run.sh")["task"]
    task = wait_for(server.url, task["task_id"])
    assert task["state"] == "FAILED"
    assert task["exit_code"] == 3
    assert "exit code 3" in task["reason"]
    assert get_run(server.url, task["run_id"])["info"]["status"] == "FAILED"
    assert "about to fail" in log_of(server.url, task["task_id"])


def test_cancel_stops_the_whole_tree_within_the_grace_period(start_mltf_server):
    server = start_mltf_server("--cancel-grace-seconds", "3")
    marker = f"mltf-e2e-cancel-{time.time_ns()}"
    sleeper = f"{PY} -c 'import time; time.sleep(300)' {marker}"
    body = f"{sleeper} &\nexec {sleeper}\n"  # a child of the entry point must die too
    task = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    wait_for(server.url, task["task_id"], {"RUNNING"})
    wait_until(lambda: pids_with_marker(marker), message="the task's process started")
    started = time.monotonic()
    response = requests.post(f"{server.url}{API}/tasks/{task['task_id']}/cancel", timeout=10)
    assert response.status_code == 200, response.text
    task = wait_for(server.url, task["task_id"], timeout=20)
    assert task["state"] == "CANCELLED"
    assert time.monotonic() - started < 3 + 5  # the grace period and the executor's margin
    wait_until(lambda: not pids_with_marker(marker), timeout=5,
               message="no process of the task left")
    assert get_run(server.url, task["run_id"])["info"]["status"] == "KILLED"
    again = requests.post(f"{server.url}{API}/tasks/{task['task_id']}/cancel", timeout=10)
    assert again.status_code == 409 and again.json()["error_code"] == "RESOURCE_CONFLICT"


def test_walltime_exceeded_fails_with_the_reason_and_is_not_retried(start_mltf_server):
    server = start_mltf_server("--cancel-grace-seconds", "1")
    task = submit(server.url, script_project("echo start\nsleep 60\n"), entry_point="run.sh",
                  resources={"time": 1}, max_retries=2)["task"]
    task = wait_for(server.url, task["task_id"], timeout=30)
    assert task["state"] == "FAILED"
    assert "walltime" in task["reason"]
    assert task["attempt"] == 1
    assert get_run(server.url, task["run_id"])["info"]["status"] == "FAILED"


def test_two_gpus_three_one_gpu_tasks_the_third_waits_each_sees_only_its_own(start_mltf_server):
    server = start_mltf_server("--local-gpus", "2", "--local-cpus", "8")
    body = ('echo "gpus=$CUDA_VISIBLE_DEVICES"\n'
            'while [ ! -e "$MLTF_CHECKPOINT_DIR/../release" ]; do sleep 0.05; done\n')
    tasks = [submit(server.url, script_project(body), entry_point="run.sh",
                    resources={"gres": "gpu:1"})["task"] for _ in range(3)]
    first, second = (wait_for(server.url, t["task_id"], {"RUNNING"}) for t in tasks[:2])
    time.sleep(0.5)
    assert get_task(server.url, tasks[2]["task_id"])["state"] == "QUEUED"
    assert sorted(first["gpus"] + second["gpus"]) == [0, 1]

    (task_dir(server, first["task_id"]) / "release").touch()
    wait_for(server.url, first["task_id"])
    third = wait_for(server.url, tasks[2]["task_id"], {"RUNNING", "SUCCEEDED"})
    assert third["gpus"] == first["gpus"]
    for task in tasks[1:]:
        (task_dir(server, task["task_id"]) / "release").touch()
    for task in tasks:
        done = wait_for(server.url, task["task_id"])
        assert done["state"] == "SUCCEEDED"
        assert f"gpus={done['gpus'][0]}\n" in log_of(server.url, task["task_id"])


def test_higher_priority_starts_first(start_mltf_server):
    server = start_mltf_server("--local-cpus", "1")
    blocker = submit(server.url, script_project(
        'while [ ! -e "$MLTF_CHECKPOINT_DIR/../release" ]; do sleep 0.05; done\n'),
        entry_point="run.sh")["task"]
    wait_for(server.url, blocker["task_id"], {"RUNNING"})
    low = submit(server.url, script_project("true\n"), entry_point="run.sh", priority=0)["task"]
    high = submit(server.url, script_project("true\n"), entry_point="run.sh",
                  priority=10)["task"]
    (task_dir(server, blocker["task_id"]) / "release").touch()
    low = wait_for(server.url, low["task_id"])
    high = wait_for(server.url, high["task_id"])
    assert high["started_at"] <= low["started_at"]
    assert high["ended_at"] <= low["started_at"]


def test_a_task_killed_with_the_server_is_reconciled_after_restart(start_mltf_server):
    server = start_mltf_server()
    body = 'echo "attempt $MLTF_ATTEMPT"\n[ "$MLTF_ATTEMPT" = 2 ] && exit 0\nsleep 300\n'
    lost = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    retried = submit(server.url, script_project(body), entry_point="run.sh",
                     max_retries=1)["task"]
    for task in (lost, retried):
        wait_for(server.url, task["task_id"], {"RUNNING"})
    server.kill()

    again = start_mltf_server(data_dir=server.data_dir)
    lost = wait_for(again.url, lost["task_id"])
    assert lost["state"] == "FAILED"
    assert "server stopped" in lost["reason"]
    assert get_run(again.url, lost["run_id"])["info"]["status"] == "FAILED"
    retried = wait_for(again.url, retried["task_id"])
    assert retried["state"] == "SUCCEEDED", log_of(again.url, retried["task_id"])
    assert retried["attempt"] == 2
    assert get_run(again.url, retried["run_id"])["info"]["status"] == "FINISHED"


def test_reproduce_submits_the_identical_spec_into_a_new_run(start_mltf_server):
    server = start_mltf_server()
    first = submit(server.url, TRAIN, parameters={"alpha": "0.75"}, priority=3,
                   tags={"team": "hep"})["task"]
    first = wait_for(server.url, first["task_id"])
    response = requests.post(f"{server.url}{API}/tasks/{first['task_id']}/reproduce", timeout=30)
    assert response.status_code == 200, response.text
    second = wait_for(server.url, response.json()["task"]["task_id"])
    assert second["state"] == "SUCCEEDED"
    assert second["run_id"] != first["run_id"]
    original = get_task(server.url, first["task_id"])["spec"]
    copy = get_task(server.url, second["task_id"])["spec"]
    copy["tags"].pop("mltf.reproduces")
    assert copy == original
    assert run_tags(get_run(server.url, second["run_id"]))["mltf.reproduces"] == first["task_id"]


def test_list_filters_and_pages(start_mltf_server):
    server = start_mltf_server()
    ids = [submit(server.url, script_project("true\n"), entry_point="run.sh",
                  experiment_name=f"list-{i % 2}")["task"]["task_id"] for i in range(5)]
    for task_id in ids:
        wait_for(server.url, task_id)
    everything = requests.get(f"{server.url}{API}/tasks", timeout=10).json()["tasks"]
    assert [t["task_id"] for t in everything] == list(reversed(ids))
    page = requests.get(f"{server.url}{API}/tasks", params={"max_results": 2}).json()
    assert len(page["tasks"]) == 2 and page["next_page_token"]
    rest = requests.get(f"{server.url}{API}/tasks",
                        params={"max_results": 10, "page_token": page["next_page_token"]}).json()
    assert len(rest["tasks"]) == 3 and "next_page_token" not in rest
    experiment = everything[0]["experiment_id"]
    same = requests.get(f"{server.url}{API}/tasks", params={"experiment_id": experiment}).json()
    assert {t["experiment_id"] for t in same["tasks"]} == {experiment}
    succeeded = requests.get(f"{server.url}{API}/tasks",
                             params={"state": "SUCCEEDED,FAILED"}).json()["tasks"]
    assert len(succeeded) == 5
    bad = requests.get(f"{server.url}{API}/tasks", params={"state": "DONE"})
    assert bad.status_code == 400 and "unknown task state" in bad.json()["message"]


def test_logs_by_offset_and_long_polling(start_mltf_server):
    server = start_mltf_server()
    body = ('echo one\n'
            'while [ ! -e "$MLTF_CHECKPOINT_DIR/../release" ]; do sleep 0.05; done\n'
            'echo two\n')
    task = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    logs = f"{server.url}{API}/tasks/{task['task_id']}/logs"
    wait_until(lambda: "one" in requests.get(logs).text, message="the first line")
    first = requests.get(logs, timeout=10)
    offset = int(first.headers["X-MLTF-Log-Offset"])
    assert offset == len(first.content)
    assert first.headers["X-MLTF-Task-State"] == "RUNNING"
    started = time.monotonic()
    waited = requests.get(logs, params={"offset": offset, "wait_ms": 300}, timeout=10)
    assert waited.content == b"" and time.monotonic() - started >= 0.25
    (task_dir(server, task["task_id"]) / "release").touch()
    more = requests.get(logs, params={"offset": offset, "wait_ms": 10000}, timeout=20)
    assert more.content and int(more.headers["X-MLTF-Log-Offset"]) > offset
    wait_for(server.url, task["task_id"])
    assert "two" in log_of(server.url, task["task_id"])
    bad = requests.get(logs, params={"offset": "-1"})
    assert bad.status_code == 400


def test_a_missing_task_or_project_is_404(start_mltf_server):
    server = start_mltf_server()
    missing = "0" * 32
    assert requests.get(f"{server.url}{API}/tasks/{missing}").status_code == 404
    assert requests.post(f"{server.url}{API}/tasks/{missing}/cancel").status_code == 404
    assert requests.get(f"{server.url}{API}/tasks/{missing}/logs").status_code == 404
    response = requests.post(f"{server.url}{API}/tasks", json={"project": "a" * 64})
    assert response.status_code == 404
    assert "upload the archive first" in response.json()["message"]
    assert requests.get(f"{server.url}{API}/projects/{'b' * 64}").status_code == 404


def test_project_upload_is_stored_once_and_described(start_mltf_server):
    server = start_mltf_server()
    first = upload(server.url, TRAIN)
    response = requests.post(server.url + API + "/projects",
                             data=project_archive(TRAIN))
    assert response.json()["project"]["sha256"] == first
    assert response.json()["created"] is False
    described = requests.get(f"{server.url}{API}/projects/{first}").json()["project"]
    assert described["name"] == "demo"
    entry = described["entry_points"][0]
    assert entry["name"] == "main"
    assert {p["name"]: p["type"] for p in entry["parameters"]} == {"alpha": "float",
                                                                   "epochs": "int"}
    stored = list((server.data_dir / "projects").glob("*.tar.gz"))
    assert [p.name for p in stored] == [f"{first}.tar.gz"]


def test_the_cli_submits_follows_lists_shows_and_cancels(start_mltf_server, tmp_path):
    server = start_mltf_server()
    project = tmp_path / "project"
    project.mkdir()
    for name, text in TRAIN.items():
        (project / name).write_text(text)
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    mltf = str(mltf_binary())
    env = {"PATH": "/usr/bin:/bin", "MLTF_SERVER": server.url}
    done = subprocess.run([mltf, "submit", str(project), "-P", "alpha=0.5", "--follow"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loss=0.5" in done.stdout
    listed = subprocess.run([mltf, "tasks", "--json"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)["tasks"]
    assert len(tasks) == 1 and tasks[0]["state"] == "SUCCEEDED"
    task_id = tasks[0]["task_id"]
    shown = subprocess.run([mltf, "show", task_id], env=env, capture_output=True, text=True,
                           timeout=30)
    assert shown.returncode == 0 and "SUCCEEDED" in shown.stdout
    logs = subprocess.run([mltf, "logs", task_id], env=env, capture_output=True, text=True,
                          timeout=30)
    assert "loss=0.25" in logs.stdout
    cancelled = subprocess.run([mltf, "cancel", task_id], env=env, capture_output=True,
                               text=True, timeout=30)
    assert cancelled.returncode == 1 and "already ended" in cancelled.stderr
    archive_files = tarfile.open(next((server.data_dir / "projects").glob("*.tar.gz"))).getnames()
    assert not any(name.startswith(".git") for name in archive_files)


def test_server_shutdown_with_a_running_task_is_clean(start_mltf_server):
    server = start_mltf_server("--cancel-grace-seconds", "1")
    task = submit(server.url, script_project("sleep 300\n"), entry_point="run.sh")["task"]
    wait_for(server.url, task["task_id"], {"RUNNING"})
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=20)
    assert server.proc.returncode == 0

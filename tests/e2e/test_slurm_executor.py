"""test_slurm_executor.py - training tasks on a real SLURM cluster (the slurm executor).

These tests need the project's test cluster: `scripts/slurm-test-cluster.sh run DIR -- ...`
starts it in a private network namespace and exports SLURM_TEST_DIR and SLURM_CONF; without it
they are skipped. scripts/test.sh runs them that way.

The slow case (a time limit hit, which SLURM enforces up to ~30 s late) is submitted once per
module, at the start, and checked at the end, so its wait overlaps with the other tests."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests

from gateway_support import (API, get_run, get_task, log_of, python, run_artifacts, run_tags,
                             submit, wait_for, wait_until)

pytestmark = pytest.mark.skipif(
    not os.environ.get("SLURM_TEST_DIR"),
    reason="needs the SLURM test cluster (scripts/slurm-test-cluster.sh run DIR -- pytest ...)")

PY = python()
POLL_MS = "200"


def slurm_server(start_mltf_server, *extra, data_dir=None):
    return start_mltf_server("--executor", "slurm", "--slurm-poll-ms", POLL_MS,
                             "--python", PY, "--cancel-grace-seconds", "3",
                             "--slurm-environment", "GLOO_SOCKET_IFNAME=lo",
                             *extra, data_dir=data_dir)


def script_project(body: str) -> dict:
    return {"run.sh": body}


def job_id_of(task: dict) -> str:
    attempt = task["attempts"][-1]
    assert attempt.get("executor_id"), task
    return attempt["executor_id"]


def sacct_state(job_id: str) -> str:
    out = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1] if out.strip() else ""


# A preemptible training loop: one step per 0.2 s up to 40; on SIGUSR1 (the checkpoint request)
# it saves its step to MLTF_CHECKPOINT_DIR and waits to be stopped; a later attempt resumes there.
PREEMPTIBLE_TRAIN = """import json, os, signal, sys, time
state = os.path.join(os.environ["MLTF_CHECKPOINT_DIR"], "state.json")
step = json.load(open(state))["step"] if os.path.exists(state) else 0
print(f"attempt {os.environ['MLTF_ATTEMPT']} resumes at step {step}", flush=True)
requested = False
def on_checkpoint_request(signum, frame):
    global requested
    requested = True
signal.signal(signal.SIGUSR1, on_checkpoint_request)
while step < 40:
    if requested:
        with open(state + ".tmp", "w") as out:
            json.dump({"step": step}, out)
        os.replace(state + ".tmp", state)
        print(f"checkpointed at step {step}", flush=True)
        while True:
            time.sleep(1)  # SLURM stops the job after its grace time
    print(f"step={step}", flush=True)
    step += 1
    time.sleep(0.2)
print("trained to step", step)
"""


@pytest.fixture(scope="module")
def slow_tasks(start_mltf_server_module):
    """One server for the module's slow cases, submitted before anything else runs."""
    server = slurm_server(start_mltf_server_module)
    # In the partition that is never preempted, on a node of its own: the preemption below
    # cannot touch it.
    walltime = submit(server.url, script_project("echo started\nsleep 600\n"),
                      entry_point="run.sh",
                      resources={"time": "0:01:00", "partition": "high", "cpus": 8})["task"]
    return server, {"walltime": walltime}


def test_a_task_runs_on_the_cluster_and_its_run_finishes(slow_tasks, start_mltf_server):
    server = slurm_server(start_mltf_server)
    project = {
        "MLproject": f"""name: on-slurm
entry_points:
  main:
    parameters:
      epochs: {{type: int, default: 3}}
    command: "{PY} train.py --epochs {{epochs}}"
""",
        "train.py": """import argparse, os, socket
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
for epoch in range(args.epochs):
    print(f"loss={1.0 / (epoch + 1)}")
with open(os.path.join(os.environ["MLTF_OUTPUT_DIR"], "model.txt"), "w") as out:
    out.write("trained")
print("slurm job", os.environ.get("SLURM_JOB_ID"), "on", os.environ.get("SLURMD_NODENAME"))
""",
    }
    task = submit(server.url, project, parameters={"epochs": 2},
                  metric_patterns=[{"name": "loss", "regex": r"loss=([0-9.]+)"}])["task"]
    task = wait_for(server.url, task["task_id"], timeout=90)
    log = log_of(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log
    job = job_id_of(task)
    assert f"slurm job {job} on n" in log
    assert sacct_state(job) == "COMPLETED"

    run = get_run(server.url, task["run_id"])
    assert run["info"]["status"] == "FINISHED"
    assert run_tags(run)["mltf.executor"] == "slurm"
    history = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "loss"}).json()
    assert [m["value"] for m in history["metrics"]] == [1.0, 0.5]
    assert run_artifacts(server.url, task["run_id"]).get("model.txt") is False
    assert "mltf/task.log" in run_artifacts(server.url, task["run_id"], "mltf")
    events = [e["event"] for e in get_task(server.url, task["task_id"])["events"]]
    assert events[:2] == ["SUBMITTED", "QUEUED"] and "STARTED" in events


def test_exit_code_3_fails_with_it(start_mltf_server):
    server = slurm_server(start_mltf_server)
    task = submit(server.url, script_project("echo failing on purpose\nexit 3\n"),
                  entry_point="run.sh")["task"]
    task = wait_for(server.url, task["task_id"], timeout=90)
    assert task["state"] == "FAILED", log_of(server.url, task["task_id"])
    assert task["exit_code"] == 3
    assert "exit code 3" in task["reason"]
    assert get_run(server.url, task["run_id"])["info"]["status"] == "FAILED"
    assert sacct_state(job_id_of(task)) == "FAILED"


def test_cancel_and_a_bare_scancel_both_end_cancelled_with_the_run_killed(start_mltf_server):
    server = slurm_server(start_mltf_server)
    body = "trap 'echo got TERM; exit 143' TERM\necho waiting\nsleep 600 & wait\n"
    ours = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    theirs = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    for task in (ours, theirs):
        wait_for(server.url, task["task_id"], {"RUNNING"}, timeout=60)

    response = requests.post(f"{server.url}{API}/tasks/{ours['task_id']}/cancel", timeout=10)
    assert response.status_code == 200, response.text
    job = job_id_of(get_task(server.url, theirs["task_id"]))
    subprocess.run(["scancel", job], check=True)

    for task in (ours, theirs):
        ended = wait_for(server.url, task["task_id"], timeout=60)
        assert ended["state"] == "CANCELLED", ended
        assert get_run(server.url, task["run_id"])["info"]["status"] == "KILLED"
    assert "got TERM" in log_of(server.url, ours["task_id"])  # the grace signal came first
    assert "cancelled in SLURM" in get_task(server.url, theirs["task_id"])["reason"]


def test_a_one_gpu_task_sees_its_gpu(start_mltf_server):
    server = slurm_server(start_mltf_server)
    body = 'echo "gpus=[$CUDA_VISIBLE_DEVICES]"\n'
    task = submit(server.url, script_project(body), entry_point="run.sh",
                  resources={"gpus": 1, "gpu_type": "h100"})["task"]
    task = wait_for(server.url, task["task_id"], timeout=90)
    log = log_of(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log
    assert "gpus=[0]" in log or "gpus=[1]" in log, log


def test_two_nodes_run_a_rank_each_with_a_working_rendezvous(start_mltf_server):
    server = slurm_server(start_mltf_server)
    project = {
        "MLproject": f"""name: allreduce
entry_points:
  main:
    command: "{PY} allreduce.py"
""",
        "allreduce.py": """import os
import torch
import torch.distributed as dist
dist.init_process_group("gloo", init_method="env://")
value = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(value)
print(f"rank {dist.get_rank()} of {dist.get_world_size()} node {os.environ['NODE_RANK']} "
      f"local {os.environ['LOCAL_RANK']} on {os.environ['SLURMD_NODENAME']} sum={value.item()}",
      flush=True)
dist.destroy_process_group()
""",
    }
    task = submit(server.url, project, resources={"nodes": 2})["task"]
    task = wait_for(server.url, task["task_id"], timeout=120)
    log = log_of(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log
    assert "rank 0 of 2 node 0 local 0 on n" in log and "sum=3.0" in log, log
    artifacts = run_artifacts(server.url, task["run_id"], "mltf")
    assert "mltf/task-node1.log" in artifacts, artifacts
    node1 = requests.get(server.url + "/get-artifact",
                         params={"run_id": task["run_id"], "path": "mltf/task-node1.log"})
    assert "rank 1 of 2 node 1 local 0 on n" in node1.text and "sum=3.0" in node1.text, node1.text
    # System metrics are collected per node, under MLflow's node prefix (a last sample at least).
    metric_keys = {m["key"] for m in get_run(server.url, task["run_id"])["data"]["metrics"]}
    for node in ("node0", "node1"):
        assert f"system/{node}/cpu_utilization_percentage" in metric_keys, metric_keys
        assert f"system/{node}/system_memory_usage_megabytes" in metric_keys, metric_keys


@pytest.mark.skipif(os.environ.get("SLURM_TEST_CGROUPS") != "yes",
                    reason="memory limits need the cluster's cgroup mode")
def test_out_of_memory_fails_with_that_reason(start_mltf_server):
    server = slurm_server(start_mltf_server)
    body = f"""{PY} -c '
data = bytearray(512 * 1024 * 1024)
for i in range(0, len(data), 4096):
    data[i] = 1
print("still alive")
'
"""
    task = submit(server.url, script_project(body), entry_point="run.sh",
                  resources={"mem": "64M"})["task"]
    task = wait_for(server.url, task["task_id"], timeout=90)
    assert task["state"] == "FAILED", log_of(server.url, task["task_id"])
    assert "out of memory" in task["reason"], task
    assert sacct_state(job_id_of(task)) == "OUT_OF_MEMORY"


def test_the_server_restarted_mid_job_reattaches(start_mltf_server):
    server = slurm_server(start_mltf_server)
    marker = server.data_dir / "go-on"
    body = f'echo waiting\nwhile [ ! -e "{marker}" ]; do sleep 0.2; done\necho done\n'
    task = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    wait_for(server.url, task["task_id"], {"RUNNING"}, timeout=60)
    server.kill()

    marker.touch()  # the job ends while no server watches it
    again = slurm_server(start_mltf_server, data_dir=server.data_dir)
    ended = wait_for(again.url, task["task_id"], timeout=60)
    assert ended["state"] == "SUCCEEDED", log_of(again.url, task["task_id"])
    assert get_run(again.url, task["run_id"])["info"]["status"] == "FINISHED"


def test_unsafe_resources_are_refused_at_submission(start_mltf_server):
    server = slurm_server(start_mltf_server, "--slurm-partitions", "main,high")
    for resources, words in [
        ({"sbatch-script-file": "mine.sh"}, "sbatch-script-file"),
        ({"partition": "secret"}, "main, high"),
        ({"job-name": "x\n#SBATCH --wrap=evil"}, "control character"),
        ({"account": "--wrap=evil"}, "must not start with"),
    ]:
        answer = submit(server.url, script_project("true\n"), expect=400, entry_point="run.sh",
                        resources=resources)
        assert words in answer["message"], answer


def test_a_preempted_task_checkpoints_is_requeued_and_resumes_into_the_same_run(slow_tasks):
    server, _ = slow_tasks
    task = submit(server.url, {"train.py": PREEMPTIBLE_TRAIN}, entry_point="train.py",
                  metric_patterns=[{"name": "step", "regex": r"^step=([0-9]+)$"}],
                  preemptible=True, resources={"partition": "main"})["task"]
    wait_until(lambda: "step=3" in log_of(server.url, task["task_id"]), timeout=90,
               message="the preemptible task to reach step 3")
    # A job of the high partition that needs the task's whole node preempts it.
    job = job_id_of(get_task(server.url, task["task_id"]))
    node = subprocess.run(["squeue", "-h", "-j", job, "-o", "%N"], capture_output=True,
                          text=True, check=True).stdout.strip()
    subprocess.run(["sbatch", "--partition=high", f"--nodelist={node}", "--cpus-per-task=8",
                    "--output=/dev/null", "--wrap=sleep 1"], check=True, capture_output=True)
    task = wait_for(server.url, task["task_id"], timeout=150)
    log = log_of(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log
    assert task["attempt"] == 2, task
    assert "preempted" in task["attempts"][0]["reason"]
    assert "attempt 1 resumes at step 0" in log
    checkpointed = int(log.split("checkpointed at step ")[1].split()[0])
    assert checkpointed >= 3
    assert f"attempt 2 resumes at step {checkpointed}" in log
    assert "trained to step 40" in log
    # One run from start to end, with the steps of both attempts.
    run = get_run(server.url, task["run_id"])
    assert run["info"]["status"] == "FINISHED"
    history = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "step"}).json()
    assert max(m["value"] for m in history["metrics"]) == 39
    out = subprocess.run(["sacct", "-n", "-P", "-X", "--duplicates", "-j", job, "-o", "State"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "PREEMPTED" and out[-1] == "COMPLETED", out


def test_a_time_limit_hit_fails_with_walltime(slow_tasks):
    server, tasks = slow_tasks
    task = wait_for(server.url, tasks["walltime"]["task_id"], timeout=150)
    assert task["state"] == "FAILED", task
    assert "walltime" in task["reason"]
    assert task["attempt"] == 1  # never retried
    assert sacct_state(job_id_of(task)) == "TIMEOUT"

"""test_slurm_rest.py - the slurm executor through slurmrestd (--slurm-rest-url) on a real cluster.

Like test_slurm_executor.py, these need the project's test cluster, started with its slurmrestd
(JWT): `scripts/slurm-test-cluster.sh run DIR -- pytest ...` exports SLURM_TEST_DIR,
SLURM_CONF and SLURM_TEST_REST_URL; without them they are skipped. The server gets a token made
with `scontrol token`, in a 0600 file."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import _free_port as free_port
from conftest import mltf_binary
from gateway_support import get_run, get_task, log_of, python, submit, wait_for, wait_until
from test_slurm_executor import PREEMPTIBLE_TRAIN

pytestmark = pytest.mark.skipif(
    not (os.environ.get("SLURM_TEST_DIR") and os.environ.get("SLURM_TEST_REST_URL")),
    reason="needs the SLURM test cluster with slurmrestd "
           "(scripts/slurm-test-cluster.sh run DIR -- pytest ...)")

PY = python()
REST_USER = "root"  # the test cluster's only submitting user


def make_token_file(directory: Path, lifespan: int = 3600) -> Path:
    printed = subprocess.run(["scontrol", "token", f"username={REST_USER}",
                              f"lifespan={lifespan}"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed.startswith("SLURM_JWT="), "scontrol token printed something else"
    path = directory / "slurm.jwt"
    path.touch(mode=0o600)
    path.write_text(printed + "\n")
    return path


def rest_server(start_mltf_server, token_file: Path, *extra):
    return start_mltf_server("--executor", "slurm", "--slurm-poll-ms", "200",
                             "--python", PY, "--cancel-grace-seconds", "3",
                             "--slurm-rest-url", os.environ["SLURM_TEST_REST_URL"],
                             "--slurm-rest-user", REST_USER,
                             "--slurm-rest-token-file", str(token_file), *extra)


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


def test_a_task_runs_through_slurmrestd_and_its_run_finishes(start_mltf_server, tmp_path):
    token = make_token_file(tmp_path)
    server = rest_server(start_mltf_server, token)
    health = requests.get(server.url + "/healthz", timeout=10).json()
    assert health["executor_status"]["slurm"]["via"] == "slurmrestd", health
    body = ('echo "step $SLURM_STEP_ID of job $SLURM_JOB_ID on $SLURMD_NODENAME"\n'
            'echo "loss=0.5"\n')
    task = submit(server.url, script_project(body), entry_point="run.sh",
                  metric_patterns=[{"name": "loss", "regex": r"loss=([0-9.]+)"}])["task"]
    task = wait_for(server.url, task["task_id"], timeout=90)
    log = log_of(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log
    job = job_id_of(task)
    assert f"of job {job} on n" in log, log
    assert sacct_state(job) == "COMPLETED"
    run = get_run(server.url, task["run_id"])
    assert run["info"]["status"] == "FINISHED"
    history = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "loss"}).json()
    assert [m["value"] for m in history["metrics"]] == [0.5]
    events = [e["event"] for e in get_task(server.url, task["task_id"])["events"]]
    assert "STARTED" in events, events


def test_exit_code_3_fails_with_it(start_mltf_server, tmp_path):
    server = rest_server(start_mltf_server, make_token_file(tmp_path))
    task = submit(server.url, script_project("echo failing on purpose\nexit 3\n"),
                  entry_point="run.sh")["task"]
    task = wait_for(server.url, task["task_id"], timeout=90)
    assert task["state"] == "FAILED", log_of(server.url, task["task_id"])
    assert task["exit_code"] == 3, task
    assert "exit code 3" in task["reason"], task
    assert get_run(server.url, task["run_id"])["info"]["status"] == "FAILED"
    assert sacct_state(job_id_of(task)) == "FAILED"


def test_mltf_cancel_ends_cancelled_with_the_run_killed(start_mltf_server, tmp_path):
    server = rest_server(start_mltf_server, make_token_file(tmp_path))
    body = "trap 'echo got TERM; exit 143' TERM\necho waiting\nsleep 600 & wait\n"
    task = submit(server.url, script_project(body), entry_point="run.sh")["task"]
    wait_for(server.url, task["task_id"], {"RUNNING"}, timeout=60)
    cancelled = subprocess.run([str(mltf_binary()), "cancel", task["task_id"],
                                "--server", server.url],
                               capture_output=True, text=True, timeout=30)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    ended = wait_for(server.url, task["task_id"], timeout=60)
    assert ended["state"] == "CANCELLED", ended
    assert get_run(server.url, task["run_id"])["info"]["status"] == "KILLED"
    # The grace signal came first: the runner is the batch shell, which DELETE ?signal=SIGTERM
    # reaches (srun would have ended its step at once).
    assert "got TERM" in log_of(server.url, task["task_id"])


def test_a_bad_partition_is_refused_in_slurms_words(start_mltf_server, tmp_path):
    server = rest_server(start_mltf_server, make_token_file(tmp_path))
    task = submit(server.url, script_project("true\n"), entry_point="run.sh",
                  resources={"partition": "nosuchpartition"})["task"]
    task = wait_for(server.url, task["task_id"], timeout=60)
    assert task["state"] == "FAILED", task
    assert "Invalid partition name specified" in task["reason"], task


def test_a_renewed_token_file_is_read_again(start_mltf_server, tmp_path):
    token = make_token_file(tmp_path)
    server = rest_server(start_mltf_server, token)
    token.write_text("SLURM_JWT=not-a-token\n")  # as if a renewal went wrong ...
    task = submit(server.url, script_project("echo first\n"), entry_point="run.sh")["task"]
    time.sleep(1.5)  # a refused submission, retried after 1 s
    make_token_file(tmp_path)  # ... and the next one put it right
    task = wait_for(server.url, task["task_id"], timeout=90)
    assert task["state"] == "SUCCEEDED", task
    log = server.stdout_path.read_text() + server.stderr_path.read_text()
    assert "token" in log and "trying again" in log, log[-3000:]
    assert "not-a-token" not in log


def test_a_token_slurmrestd_refuses_stops_the_server_at_start(tmp_path):
    token = tmp_path / "slurm.jwt"
    token.write_text("SLURM_JWT=eyJ.not.valid\n")
    token.chmod(0o600)
    started = subprocess.run([str(mltf_binary()), "server", "--host", "127.0.0.1",
                              "--port", str(free_port()),
                              "--data-dir", str(tmp_path / "data"),
                              "--executor", "slurm",
                              "--slurm-rest-url", os.environ["SLURM_TEST_REST_URL"],
                              "--slurm-rest-user", REST_USER,
                              "--slurm-rest-token-file", str(token)],
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    output = started.stdout + started.stderr
    assert "slurmrestd" in output, output
    assert "eyJ.not.valid" not in output, output


def test_a_preempted_task_gets_its_checkpoint_signal_and_resumes(start_mltf_server, tmp_path):
    # USR1@<grace> goes to the job's steps only; a helper step passes it on to the runner.
    server = rest_server(start_mltf_server, make_token_file(tmp_path))
    task = submit(server.url, {"train.py": PREEMPTIBLE_TRAIN}, entry_point="train.py",
                  preemptible=True, resources={"partition": "main"})["task"]
    wait_until(lambda: "step=3" in log_of(server.url, task["task_id"]), timeout=90,
               message="the preemptible task to reach step 3")
    job = job_id_of(get_task(server.url, task["task_id"]))
    node = subprocess.run(["squeue", "-h", "-j", job, "-o", "%N"], capture_output=True,
                          text=True, check=True).stdout.strip()
    subprocess.run(["sbatch", "--partition=high", f"--nodelist={node}", "--cpus-per-task=8",
                    "--output=/dev/null", "--wrap=sleep 1"], check=True, capture_output=True)
    task = wait_for(server.url, task["task_id"], timeout=150)
    log = log_of(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log
    assert task["attempt"] == 2, task
    checkpointed = int(log.split("checkpointed at step ")[1].split()[0])
    assert f"attempt 2 resumes at step {checkpointed}" in log, log
    assert "trained to step 40" in log

"""gateway_support.py - helpers for the gateway's end-to-end tests: projects as archives, task
submission, and waiting for states, all through the HTTP API of the real server."""

from __future__ import annotations

import gzip as gzip_module
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Dict, Iterable

import requests

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
API = "/api/mltf/v1"


def project_archive(files: Dict[str, str], gzip: bool = True) -> bytes:
    """A tar(.gz) of `files` (name -> text), built with Python's tarfile, not with MLTF's packer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            archive.addfile(info, io.BytesIO(data))
    # A fixed gzip header time: the same files give the same bytes (tests compare digests),
    # whichever second the archive is made in.
    return gzip_module.compress(buffer.getvalue(), mtime=0) if gzip else buffer.getvalue()


def upload(url: str, files: Dict[str, str]) -> str:
    response = requests.post(url + API + "/projects", data=project_archive(files),
                             headers={"Content-Type": "application/gzip"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["project"]["sha256"]


def submit(url: str, files: Dict[str, str], expect: int = 200, **spec) -> dict:
    spec["project"] = upload(url, files)
    response = requests.post(url + API + "/tasks", json=spec, timeout=30)
    assert response.status_code == expect, response.text
    return response.json()


def get_task(url: str, task_id: str) -> dict:
    response = requests.get(f"{url}{API}/tasks/{task_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["task"]


def wait_for(url: str, task_id: str, states: Iterable[str] = TERMINAL,
             timeout: float = 60) -> dict:
    """Polls the task until its state is one of `states`."""
    wanted = set(states)
    deadline = time.monotonic() + timeout
    task = get_task(url, task_id)
    while task["state"] not in wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {task['state']} after {timeout}s: "
                                 f"{json.dumps(task, indent=1)}\nlog:\n{log_of(url, task_id)}")
        time.sleep(0.05)
        task = get_task(url, task_id)
    return task


def log_of(url: str, task_id: str) -> str:
    response = requests.get(f"{url}{API}/tasks/{task_id}/logs", timeout=10)
    return response.text if response.status_code == 200 else f"(logs: {response.status_code})"


def get_run(url: str, run_id: str) -> dict:
    response = requests.get(url + "/api/2.0/mlflow/runs/get", params={"run_id": run_id},
                            timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["run"]


def run_tags(run: dict) -> Dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["data"].get("tags", [])}


def run_artifacts(url: str, run_id: str, path: str = "") -> Dict[str, bool]:
    params = {"run_id": run_id}
    if path:
        params["path"] = path
    response = requests.get(url + "/api/2.0/mlflow/artifacts/list", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return {item["path"]: item["is_dir"] for item in response.json().get("files", [])}


def pids_with_marker(marker: str) -> list:
    """Processes whose command line contains `marker` (to prove a task left none behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and str(os.getpid()) != entry.name:
            found.append(int(entry.name))
    return found


def wait_until(predicate, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} did not hold within {timeout}s")
        time.sleep(0.05)


def task_dir(server, task_id: str) -> Path:
    return Path(server.data_dir) / "tasks" / task_id


def python() -> str:
    """Debian's interpreter (the one with python3-sklearn etc.), not a pyenv shim."""
    return "/usr/bin/python3"


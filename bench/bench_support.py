"""bench_support.py - what the benchmarks of the gateway share: a no-op project, the server's
CPU time, waiting for tasks, percentiles."""

from __future__ import annotations

import concurrent.futures
import io
import os
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
API = "/api/mltf/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def noop_project() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"name: noop\nentry_points:\n  main:\n    command: 'true'\n"
        info = tarfile.TarInfo("MLproject")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time spent by the whole machine (all cores, idle excluded)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_all(session, url, ids, timeout=600, interval=0.05):
    """Lists the ended tasks every `interval` seconds until all of `ids` are among them."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} tasks did not finish in {timeout}s")
        page = session.get(url + API + "/tasks",
                           params={"state": "SUCCEEDED,FAILED,CANCELLED", "max_results": 1000})
        done = {t["task_id"] for t in page.json()["tasks"]}
        pending -= done
        if pending:
            time.sleep(interval)


def start_server(binary: str, data_dir: Path, *flags: str):
    """`mltf server` on a free port with quiet logs and `flags`, once it answers /health:
    (process, url, session)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [binary, "server", "--port", str(port), "--data-dir", str(data_dir),
         "--access-log", "false", "--log-level", "warn", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    session = requests.Session()
    for _ in range(200):
        try:
            if session.get(url + "/health").status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.05)
    return server, url, session


def noop_task_spec(session, url) -> dict:
    """Uploads the no-op project; the spec of a task that runs it in the local environment."""
    project = session.post(url + API + "/projects", data=noop_project()).json()
    return {"project": project["project"]["sha256"], "env_manager": "local"}


def submit_burst(url: str, spec: dict, tasks: int, clients: int = 8) -> list:
    """Submits `tasks` copies of `spec` from `clients` concurrent clients; their task ids."""
    def submit(_):
        with requests.Session() as own:
            return own.post(url + API + "/tasks", json=spec).json()["task"]["task_id"]
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(submit, range(tasks)))

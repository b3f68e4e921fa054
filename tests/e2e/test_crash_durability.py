"""test_crash_durability.py - every acknowledged write survives a SIGKILL of the server.

Eight clients log metrics (one point per request, each with its own step) and a few log-batch
requests while the server is killed with SIGKILL mid-stream. After a restart on the same data
directory, every point whose request was answered 200 must be in the metric history, and the
store must still take writes. Points whose requests got no answer may or may not be there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import requests

from conftest import _free_port, mltf_binary

API = "/api/2.0/mlflow"
CLIENTS = 8


def start_server(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [str(mltf_binary()), "server", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir), "--access-log", "false"],
        stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {log_path.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not answer /health")


def test_acknowledged_points_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log_path = tmp_path / "server.log"
    proc, url = start_server(data_dir, log_path)
    try:
        experiment_id = requests.post(url + API + "/experiments/create",
                                      json={"name": "crash"}, timeout=5).json()["experiment_id"]
        run_id = requests.post(url + API + "/runs/create",
                               json={"experiment_id": experiment_id, "start_time": 1},
                               timeout=5).json()["run"]["info"]["run_id"]

        acknowledged: list[set[int]] = [set() for _ in range(CLIENTS)]
        stop = threading.Event()

        def client(index: int) -> None:
            session = requests.Session()
            step = 0
            while not stop.is_set():
                step += 1
                body = {"run_id": run_id, "key": f"c{index}", "value": float(step),
                        "timestamp": step, "step": step}
                try:
                    if step % 50 == 0:  # now and then a batch of 20 points
                        points = [{"key": f"c{index}", "value": float(step + offset),
                                   "timestamp": step, "step": step + offset}
                                  for offset in range(20)]
                        response = session.post(url + API + "/runs/log-batch",
                                                json={"run_id": run_id, "metrics": points},
                                                timeout=5)
                        if response.status_code == 200:
                            acknowledged[index].update(step + offset for offset in range(20))
                        step += 19
                        continue
                    response = session.post(url + API + "/runs/log-metric", json=body, timeout=5)
                except requests.RequestException:
                    return  # the server is gone: this request was never acknowledged
                if response.status_code == 200:
                    acknowledged[index].add(step)

        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    total = sum(len(points) for points in acknowledged)
    assert total > 100, f"too few writes before the kill to mean anything ({total})"

    proc, url = start_server(data_dir, log_path)
    try:
        for index in range(CLIENTS):
            history = requests.get(url + API + "/metrics/get-history",
                                   params={"run_id": run_id, "metric_key": f"c{index}"},
                                   timeout=30).json().get("metrics", [])
            stored = {point["step"] for point in history}
            missing = acknowledged[index] - stored
            assert not missing, (f"client {index}: {len(missing)} acknowledged points lost, "
                                 f"e.g. steps {sorted(missing)[:10]}")
        # The store still takes writes after recovery.
        response = requests.post(url + API + "/runs/log-metric",
                                 json={"run_id": run_id, "key": "after", "value": 1.0,
                                       "timestamp": 1, "step": 0}, timeout=5)
        assert response.status_code == 200, response.text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log_path.read_text()[-2000:]

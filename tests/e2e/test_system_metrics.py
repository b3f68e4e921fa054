"""test_system_metrics.py - the task runner logs its node's system metrics to the task's run
under MLflow's `system/...` names: periodically while the entry point runs, once more when it
ends, never when the operator turns them off, and without GPU metrics on a host without NVML."""

from __future__ import annotations

from typing import Dict, List

import requests

from gateway_support import get_run, log_of, submit, wait_for

HOST_METRICS = [
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
]


def history(url: str, run_id: str, key: str) -> List[dict]:
    response = requests.get(url + "/api/2.0/mlflow/metrics/get-history",
                            params={"run_id": run_id, "metric_key": key}, timeout=10)
    assert response.status_code == 200, response.text
    return sorted(response.json().get("metrics", []), key=lambda m: m["step"])


def latest_metrics(url: str, run_id: str) -> Dict[str, float]:
    return {m["key"]: m["value"] for m in get_run(url, run_id)["data"].get("metrics", [])}


def run_script(server, body: str, **spec) -> dict:
    task = submit(server.url, {"run.sh": body}, entry_point="run.sh", **spec)["task"]
    task = wait_for(server.url, task["task_id"])
    assert task["state"] == "SUCCEEDED", log_of(server.url, task["task_id"])
    return task


def test_a_three_second_task_logs_system_metrics_every_interval(start_mltf_server):
    server = start_mltf_server("--system-metrics-interval-ms", "500")
    task = run_script(server, "sleep 3\n")

    latest = latest_metrics(server.url, task["run_id"])
    for key in HOST_METRICS:
        assert key in latest, (key, sorted(latest))
    assert not [key for key in latest if key.startswith("system/gpu_")]

    cpu = history(server.url, task["run_id"], "system/cpu_utilization_percentage")
    memory = history(server.url, task["run_id"], "system/system_memory_usage_megabytes")
    # About six samples in 3 s, and one more when the entry point ended; a loaded machine may
    # start the runner late, so ask for a few only.
    assert len(cpu) >= 4, cpu
    assert [m["step"] for m in cpu] == list(range(len(cpu)))
    assert [m["step"] for m in memory] == [m["step"] for m in cpu]
    assert all(0 <= m["value"] <= 100 for m in cpu), cpu
    assert all(m["value"] > 0 for m in memory), memory
    timestamps = [m["timestamp"] for m in cpu]
    assert timestamps == sorted(timestamps)
    assert "system metrics every 500 ms" in log_of(server.url, task["task_id"])


def test_a_quick_task_still_logs_its_last_sample_at_step_zero(start_mltf_server):
    server = start_mltf_server()  # the default: every 10 s
    task = run_script(server, "true\n")
    cpu = history(server.url, task["run_id"], "system/cpu_utilization_percentage")
    assert [m["step"] for m in cpu] == [0], cpu
    # Stopping woke the sampler at once: the attempt did not wait out the 10 s interval.
    assert task["ended_at"] - task["started_at"] < 8000, task


def test_interval_zero_turns_system_metrics_off(start_mltf_server):
    server = start_mltf_server("--system-metrics-interval-ms", "0")
    task = run_script(server, "sleep 0.5\n")
    latest = latest_metrics(server.url, task["run_id"])
    assert not [key for key in latest if key.startswith("system/")], latest
    assert "system metrics" not in log_of(server.url, task["task_id"])


def test_declared_gpus_without_a_driver_give_no_gpu_metrics(start_mltf_server):
    server = start_mltf_server("--local-gpus", "2", "--system-metrics-interval-ms", "200")
    task = run_script(server, "sleep 1\n", resources={"gres": "gpu:1"})
    latest = latest_metrics(server.url, task["run_id"])
    assert "system/cpu_utilization_percentage" in latest, latest
    assert not [key for key in latest if key.startswith("system/gpu_")], latest

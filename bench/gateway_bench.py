#!/usr/bin/env python3
"""gateway_bench.py - what the gateway adds to a task, on the real `mltf` binary.

Two measurements (targets from the gateway issue, on a 2-core machine):
  latency     submit -> RUNNING of a no-op task whose environment is cached, p50 and p99
              (target p50 <= 50 ms). Measured on the server's own clock: the time between the
              task's SUBMITTED and RUNNING events, so client overheads are left out; the client's
              view (POST sent -> RUNNING seen) is printed too.
  throughput  N no-op tasks submitted in a burst, until the last one ended (target >= 100
              tasks/s).

Every task is real: a `mltf run-task` process unpacks the project, prepares the (cached) local
environment, runs `true` under /bin/sh, and uploads its log as a run artifact.

usage: bench/gateway_bench.py [--binary build/bin/mltf] [--latency-tasks 200] [--tasks 1000]
                              [--slots 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

from bench_support import (API, REPO, machine_cpu_seconds, noop_task_spec, percentile,
                           process_cpu_seconds, start_server, submit_burst, wait_all)


def event_time(task, name):
    return next(e["time"] for e in task["events"] if e["event"] == name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(REPO / "build" / "bin" / "mltf"))
    parser.add_argument("--latency-tasks", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=16,
                        help="CPU slots of the local executor (no-op tasks ask for one each)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="mltf-gateway-bench-"))
    server, url, session = start_server(args.binary, data_dir, "--local-cpus", str(args.slots),
                                        "--local-gpus", "none", "--python", "/usr/bin/python3")
    try:
        spec = noop_task_spec(session, url)

        # Warm-up: the first task records the local environment's lock (pip freeze, cached).
        first = session.post(url + API + "/tasks", json=spec).json()["task"]["task_id"]
        wait_all(session, url, [first])

        # Latency: one task at a time, so each starts on an idle executor.
        server_ms, client_ms = [], []
        for _ in range(args.latency_tasks):
            sent = time.monotonic()
            task_id = session.post(url + API + "/tasks", json=spec).json()["task"]["task_id"]
            while True:
                task = session.get(f"{url}{API}/tasks/{task_id}").json()["task"]
                if any(e["event"] == "RUNNING" for e in task["events"]):
                    client_ms.append((time.monotonic() - sent) * 1000)
                    break
                time.sleep(0.001)
            server_ms.append(event_time(task, "RUNNING") - event_time(task, "SUBMITTED"))
            wait_all(session, url, [task_id])

        # Throughput: a burst of submissions from 8 clients, until the last task ended.
        server_cpu = process_cpu_seconds(server.pid)
        machine_cpu = machine_cpu_seconds()
        started = time.monotonic()
        ids = submit_burst(url, spec, args.tasks)
        submitted = time.monotonic() - started
        wait_all(session, url, ids)
        elapsed = time.monotonic() - started
        server_cpu = process_cpu_seconds(server.pid) - server_cpu
        machine_cpu = machine_cpu_seconds() - machine_cpu
        failed = session.get(url + API + "/tasks", params={"state": "FAILED"}).json()["tasks"]

        p50, p99 = percentile(server_ms, 0.5), percentile(server_ms, 0.99)
        rate = args.tasks / elapsed
        print(f"machine: {os.cpu_count()} cores; local executor slots: {args.slots}")
        print(f"submit -> RUNNING ({args.latency_tasks} tasks, cached env, server clock): "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms  (target p50 <= 50 ms: "
              f"{50 / max(p50, 0.001):.2f}x)")
        print(f"  as the client sees it (POST sent -> RUNNING read back): "
              f"p50 {percentile(client_ms, 0.5):.1f} ms, p99 {percentile(client_ms, 0.99):.1f} ms")
        print(f"{args.tasks} no-op tasks: submitted in {submitted:.2f} s, all ended in "
              f"{elapsed:.2f} s -> {rate:.0f} tasks/s  (target >= 100: {rate / 100:.2f}x), "
              f"{len(failed)} failed")
        print(f"  CPU per task: {machine_cpu / args.tasks * 1000:.1f} ms on the machine, of which "
              f"{server_cpu / args.tasks * 1000:.1f} ms in the server (the rest: runners, "
              f"the task's shell, the load generator)")
        print(f"  mean submit -> RUNNING over the run: {statistics.mean(server_ms):.1f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

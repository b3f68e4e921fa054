#!/usr/bin/env python3
"""slurm_bench.py - what the slurm executor adds on top of SLURM, on a real cluster.

Runs inside the project's test cluster:

  scripts/slurm-test-cluster.sh run /tmp/slurm-bench -- /usr/bin/python3 bench/slurm_bench.py

Measurements (targets from the SLURM executor issue):
  baseline   N bare `sbatch --wrap true` one after the other: what one submission costs SLURM.
  burst      N no-op tasks submitted to `mltf server --executor slurm` in one burst by 8 clients:
             the server's own CPU time per task until every task had its SLURM job (its
             overhead on top of sbatch, whose own CPU is its child's; target <= 5 ms) and over
             the tasks' whole life; the time until every task had its job, and until every task
             was accounted for (SUCCEEDED with its exit code from sacct).
  polling    every squeue/sacct call the server made, with the number of jobs it asked about and
             how long it took: one squeue per poll whatever the number of live jobs.

The server runs SLURM's programs through wrappers (--slurm-bin-dir) that log each call, so the
counts and durations are the server's real calls.

usage: bench/slurm_bench.py [--binary build/bin/mltf] [--tasks 200] [--poll-ms 1000]
                            [--work-root /dev/shm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_support import (API, REPO, noop_task_spec, percentile, process_cpu_seconds,
                           start_server, submit_burst, wait_all)

PROGRAMS = ("sbatch", "squeue", "sacct", "scancel")


def write_wrappers(directory: Path, log: Path) -> None:
    """A wrapper per SLURM program that logs `program start_ns end_ns jobs` and exits as it did."""
    for program in PROGRAMS:
        real = shutil.which(program)
        if real is None:
            raise SystemExit(f"{program} not found: run this inside the SLURM test cluster")
        wrapper = directory / program
        wrapper.write_text(f"""#!/bin/bash
start=$(date +%s%N)
{real} "$@"
status=$?
jobs=0
for argument in "$@"; do
  case $argument in --jobs=*) list=${{argument#--jobs=}}; jobs=$(( $(tr -cd , <<<"$list" | wc -c) + 1 ));; esac
done
echo "{program} $start $(date +%s%N) $jobs" >>{log}
exit $status
""")
        wrapper.chmod(0o755)


def baseline(tasks: int, work: Path) -> list:
    """Milliseconds of each bare sbatch, submitted one after the other."""
    times = []
    for _ in range(tasks):
        started = time.monotonic()
        subprocess.run(["sbatch", "--parsable", "--output=/dev/null", "--wrap=true"],
                       check=True, capture_output=True, cwd=work)
        times.append((time.monotonic() - started) * 1000)
    deadline = time.monotonic() + 120
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip():
        if time.monotonic() > deadline:
            raise SystemExit("the baseline jobs did not end within 120 s")
        time.sleep(0.2)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(REPO / "build" / "bin" / "mltf"))
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--poll-ms", type=int, default=1000)
    parser.add_argument("--work-root", default=None,
                        help="where the data directory goes (e.g. /dev/shm for tmpfs)")
    args = parser.parse_args()
    if not os.environ.get("SLURM_CONF"):
        raise SystemExit("run inside the SLURM test cluster: scripts/slurm-test-cluster.sh run "
                         "DIR -- /usr/bin/python3 bench/slurm_bench.py")

    work = Path(tempfile.mkdtemp(prefix="mltf-slurm-bench-", dir=args.work_root))
    wrappers = work / "bin"
    wrappers.mkdir()
    calls_log = work / "calls.log"
    write_wrappers(wrappers, calls_log)

    sbatch_ms = baseline(args.tasks, work)

    data_dir = work / "data"
    server, url, session = start_server(args.binary, data_dir, "--executor", "slurm",
                                        "--slurm-bin-dir", str(wrappers), "--slurm-poll-ms",
                                        str(args.poll_ms), "--python", "/usr/bin/python3")
    try:
        spec = noop_task_spec(session, url)
        warm = session.post(url + API + "/tasks", json=spec).json()["task"]["task_id"]
        wait_all(session, url, [warm], timeout=120)
        calls_log.write_text("")

        server_cpu = process_cpu_seconds(server.pid)
        started = time.monotonic()
        ids = submit_burst(url, spec, args.tasks)
        submitted = time.monotonic() - started
        # Every task has its job once its attempt directory holds the job id.
        while sum(1 for _ in (data_dir / "tasks").glob("*/attempt-1/slurm-job-id")) < \
                args.tasks + 1:
            time.sleep(0.01)
        all_queued = time.monotonic() - started
        queued_cpu = process_cpu_seconds(server.pid) - server_cpu
        # Listing 200 tasks costs the server too: ask once a second, not 20 times.
        wait_all(session, url, ids, timeout=600, interval=1.0)
        accounted = time.monotonic() - started
        server_cpu = process_cpu_seconds(server.pid) - server_cpu
        failed = session.get(url + API + "/tasks", params={"state": "FAILED"}).json()["tasks"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    calls = [line.split() for line in calls_log.read_text().splitlines()]
    overhead_ms = queued_cpu / args.tasks * 1000
    lifetime_ms = server_cpu / args.tasks * 1000
    print(f"machine: {os.cpu_count()} cores; cluster: {os.environ.get('SLURM_TEST_NODE_NAMES')}")
    print(f"baseline: {args.tasks} bare sbatch one after the other: p50 "
          f"{percentile(sbatch_ms, 0.5):.1f} ms, mean {statistics.mean(sbatch_ms):.1f} ms")
    print(f"burst: {args.tasks} no-op tasks by 8 clients: POSTs done in {submitted:.2f} s, every "
          f"task had its job after {all_queued:.2f} s, all accounted for after {accounted:.2f} s "
          f"({len(failed)} failed)")
    print(f"  server CPU per task until every job was submitted (the overhead on top of "
          f"sbatch): {overhead_ms:.2f} ms  (target <= 5 ms: {5 / max(overhead_ms, 0.001):.1f}x)")
    print(f"  server CPU per task over its whole life (polling, the run's updates, the runner's "
          f"uploads): {lifetime_ms:.2f} ms")
    for program in ("sbatch", "squeue", "sacct", "scancel"):
        mine = [c for c in calls if c[0] == program]
        if not mine:
            continue
        durations = [(int(c[2]) - int(c[1])) / 1e6 for c in mine]
        jobs = [int(c[3]) for c in mine]
        print(f"  {program}: {len(mine)} calls, {statistics.mean(durations):.1f} ms each on "
              f"average" + (f", {min(jobs)}-{max(jobs)} jobs per call" if max(jobs) else ""))
    squeue = [(int(c[3]), (int(c[2]) - int(c[1])) / 1e6) for c in calls if c[0] == "squeue"]
    few = [ms for jobs, ms in squeue if jobs <= 10]
    many = [ms for jobs, ms in squeue if jobs >= args.tasks // 2]
    if few and many:
        print(f"  squeue for <= 10 live jobs: {statistics.mean(few):.1f} ms; for >= "
              f"{args.tasks // 2}: {statistics.mean(many):.1f} ms (one call per poll either way)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

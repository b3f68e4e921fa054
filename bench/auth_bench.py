"""auth_bench.py - what authentication and permissions cost the tracking API's hot path.

The same load runs against four servers on fresh data directories, in turn, --repeat times
(medians are printed, so the order and a noisy run matter less): `--auth none` (no checks at
all), `--auth tokens` called by an admin (the token is verified; permissions are not looked up),
`--auth tokens` called by a user who owns the experiment (token and permission checked on
every request), and `--auth oidc` called by that user with an RS256 access token of the tests'
real OpenID provider (tests/oidc, on Node.js). The load: CLIENTS threads, each on its own keep-alive connection, log metrics
to one run with runs/log-metric. Printed per mode: the server's CPU time per request, and
requests per second, each also as a ratio to mode none.

    python3 bench/auth_bench.py --binary build/bin/mltf [--requests 6000] [--clients 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import statistics
import subprocess
import tempfile
import sys
import time
from pathlib import Path

from bench_support import process_cpu_seconds, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from oidc_support import AUDIENCE, OpenIdProvider  # noqa: E402  (the tests' provider)


def admin(binary: str, data_dir: Path, *args: str) -> str:
    done = subprocess.run([binary, "admin", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def load(url: str, headers: dict, run_id: str, requests: int, clients: int) -> float:
    """Sends `requests` log-metric calls from `clients` connections; returns the seconds taken."""
    host, port = url.removeprefix("http://").split(":")

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(host, int(port))
        for step in range(index, requests, clients):
            body = json.dumps({"run_id": run_id, "key": "loss", "value": step * 0.5,
                               "timestamp": 1_700_000_000_000 + step, "step": step})
            connection.request("POST", "/api/2.0/mlflow/runs/log-metric", body,
                               {"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"log-metric answered {response.status}")
        connection.close()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return time.monotonic() - started


def measure(binary: str, mode: str, caller: str, requests: int, clients: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "data"
        headers = {}
        flags = ["--auth", mode]
        provider = None
        if mode == "tokens":
            admin(binary, data_dir, "user", "add", caller, *(["--admin"] if caller == "root" else []))
            token = admin(binary, data_dir, "token", "create", "--user", caller)
            headers = {"Authorization": f"Bearer {token}"}
        elif mode == "oidc":
            provider = OpenIdProvider(Path(work) / "provider")
            token = provider.sign(provider.claims(caller, lifetime=3600))
            headers = {"Authorization": f"Bearer {token}"}
            flags += ["--oidc-issuer", provider.issuer, "--oidc-audience", AUDIENCE]
        server, url, session = start_server(binary, data_dir, *flags)
        try:
            session.headers.update(headers)
            experiment = session.post(url + "/api/2.0/mlflow/experiments/create",
                                      json={"name": "bench"}).json()["experiment_id"]
            run_id = session.post(url + "/api/2.0/mlflow/runs/create",
                                  json={"experiment_id": experiment}).json()["run"]["info"]["run_id"]
            load(url, headers, run_id, min(500, requests), clients)  # warm-up
            cpu_before = process_cpu_seconds(server.pid)
            seconds = load(url, headers, run_id, requests, clients)
            cpu = process_cpu_seconds(server.pid) - cpu_before
        finally:
            server.terminate()
            server.wait()
            if provider is not None:
                provider.stop()
    return {"mode": f"{mode} ({caller})", "cpu_us": cpu / requests * 1e6,
            "per_second": requests / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/bin/mltf")
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    modes = [("none", "local"), ("tokens", "root"), ("tokens", "alice"), ("oidc", "alice")]
    runs = {mode: [] for mode in modes}
    for _ in range(args.repeat):
        for mode, caller in modes:
            runs[(mode, caller)].append(measure(args.binary, mode, caller, args.requests,
                                                args.clients))
    results = [{"mode": measured[0]["mode"],
                "cpu_us": statistics.median(r["cpu_us"] for r in measured),
                "per_second": statistics.median(r["per_second"] for r in measured)}
               for measured in runs.values()]
    base = results[0]
    print(f"{'mode':<18} {'server CPU/request':>19} {'ratio':>6} {'requests/s':>11} {'ratio':>6}")
    for result in results:
        print(f"{result['mode']:<18} {result['cpu_us']:>16.1f} us {result['cpu_us'] / base['cpu_us']:>6.2f}"
              f" {result['per_second']:>11.0f} {result['per_second'] / base['per_second']:>6.2f}")


if __name__ == "__main__":
    main()

"""test_job_api.py - the facility's existing MLTF client keeps working: its /api/job family, sent
the way the client sends it (multipart text parts, then an uncompressed ./-prefixed PAX tarball
whose first member is ./.mltf_meta; the run created first on the tracking server)."""

from __future__ import annotations

import io
import json
import tarfile

import requests

from gateway_support import get_run, python, wait_until

PY = python()


def client_tarball(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        meta = json.dumps({"files": [f"/home/someone/project/{name}" for name in files]}).encode()
        for name, data in [(".mltf_meta", meta)] + [(n, t.encode()) for n, t in files.items()]:
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


PROJECT = {
    "MLproject": f"""name: legacy
entry_points:
  main:
    parameters:
      alpha: {{type: float, default: 0.1}}
    command: "{PY} -c 'import os, sys; print(\\"alpha\\", sys.argv[1], os.environ[\\"MLFLOW_RUN_ID\\"])' {{alpha}}"
  slow:
    command: "sleep 300"
""",
}


def create_run(url: str, experiment_id: str = "0") -> str:
    response = requests.post(url + "/api/2.0/mlflow/runs/create",
                             json={"experiment_id": experiment_id, "start_time": 1,
                                   "tags": [{"key": "mlflow.user", "value": "someone"}]})
    assert response.status_code == 200, response.text
    return response.json()["run"]["info"]["run_id"]


def post_job(url: str, run_id: str, entry_point: str = "main", params: str = '{"alpha": "0.7"}',
             backend_config: str = '{"ENV_MANAGER": "local", "SYNCHRONOUS": null, '
                                   '"DOCKER_ARGS": {}, "STORAGE_DIR": null, '
                                   '"build_image": false, "docker_auth": null}'):
    fields = [("run_id", (None, run_id)), ("entry_point", (None, entry_point)),
              ("params", (None, params)), ("backend_config", (None, backend_config)),
              ("tracking_uri", (None, url)), ("experiment_id", (None, "0")),
              ("tarball", ("tmpab12cd34", client_tarball(PROJECT)))]
    # The client sends a bearer token it does not verify; with auth off it is accepted, ignored.
    return requests.post(url + "/api/job", files=fields, timeout=30,
                         headers={"Authorization": "Bearer e30.e30.sig"})


def job_status(url: str, gateway_id: str, show_logs: bool = False) -> dict:
    response = requests.get(f"{url}/api/jobs/{gateway_id}",
                            params={"show_logs": "True" if show_logs else "False"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_submit_runs_into_the_clients_run_and_lists_shows_logs(start_mltf_server):
    server = start_mltf_server()
    run_id = create_run(server.url)
    response = post_job(server.url, run_id)
    assert response.status_code == 200, response.text
    gateway_id = response.json()["gateway_id"]
    wait_until(lambda: job_status(server.url, gateway_id)["status"] == "FINISHED", timeout=60,
               message="the job finished")
    status = job_status(server.url, gateway_id, show_logs=True)
    assert f"alpha 0.7 {run_id}" in status["logs"]  # the run id exported correctly
    run = get_run(server.url, run_id)
    assert run["info"]["status"] == "FINISHED"
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"alpha": "0.7"}

    jobs = requests.get(server.url + "/api/jobs", timeout=10)
    assert jobs.status_code == 200
    listed = jobs.json()
    assert isinstance(listed, list) and listed[0]["gateway_id"] == gateway_id
    assert listed[0]["run_id"] == run_id
    assert isinstance(listed[0]["creation_time"], int)


def test_delete_cancels_and_the_run_is_killed(start_mltf_server):
    server = start_mltf_server("--cancel-grace-seconds", "2")
    run_id = create_run(server.url)
    gateway_id = post_job(server.url, run_id, entry_point="slow", params="{}").json()["gateway_id"]
    wait_until(lambda: job_status(server.url, gateway_id)["status"] == "RUNNING", timeout=30,
               message="the job runs")
    response = requests.delete(f"{server.url}/api/jobs/{gateway_id}", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"message": "Job deleted successfully", "run_id": gateway_id}
    wait_until(lambda: job_status(server.url, gateway_id)["status"] == "KILLED", timeout=20,
               message="the job was cancelled")
    assert get_run(server.url, run_id)["info"]["status"] == "KILLED"
    assert "cancelled" in job_status(server.url, gateway_id)["failure_reason"]
    # Deleting again is harmless, as the client may retry.
    assert requests.delete(f"{server.url}/api/jobs/{gateway_id}").status_code == 200


def test_unknown_jobs_and_bad_fields(start_mltf_server):
    server = start_mltf_server()
    missing = requests.get(server.url + "/api/jobs/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Run with ID 'nope' not found."}
    assert requests.delete(server.url + "/api/jobs/nope").status_code == 404
    bad = post_job(server.url, create_run(server.url), params="{not json")
    assert bad.status_code == 400 and "params" in bad.json()["error"]
    no_run = post_job(server.url, "0" * 32)
    assert no_run.status_code == 404
    no_tarball = requests.post(server.url + "/api/job", files=[("run_id", (None, "x"))])
    assert no_tarball.status_code == 400 and "tarball" in no_tarball.json()["error"]
    not_multipart = requests.post(server.url + "/api/job", data=b"{}",
                                  headers={"Content-Type": "application/json"})
    assert not_multipart.status_code == 400
    assert requests.get(server.url + "/api/jobs").json() == []


def test_config_and_health(start_mltf_server):
    server = start_mltf_server("--local-gpus", "1")
    config = requests.get(server.url + "/api/config").json()
    assert "oauth_config" in config and "oauth_issuer" in config
    health = requests.get(server.url + "/healthz").json()
    assert health["status"] == "ok"
    assert len(health["executor_status"]["local"]["gpus"]) == 1

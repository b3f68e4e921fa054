"""test_auth_tokens.py - the server with `--auth tokens`: users and API tokens made by
`mltf admin`, every endpoint but the open ones refusing a missing or bad credential with 401
and changing nothing, bearer and basic credentials, revocation, task ownership, and a task
that tracks through its own token while its first lifetime runs out.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import List

import pytest
import requests

from auth_support import (ENDPOINTS, LONG_TASK, OPEN_PATHS, basic, bearer, submit_as,
                          wait_task)
from conftest import mltf_binary
from gateway_support import API


def admin(data_dir: Path, *args: str) -> str:
    """Runs `mltf admin ARGS --data-dir D` and returns its stdout."""
    done = subprocess.run([str(mltf_binary()), "admin", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def facility(tmp_path_factory, start_mltf_server_module):
    """A tokens-mode server with users root (admin), alice and bob, and a token for each."""
    data_dir = tmp_path_factory.mktemp("auth") / "data"
    admin(data_dir, "user", "add", "root", "--admin")
    admin(data_dir, "user", "add", "alice", "--group", "cms")
    admin(data_dir, "user", "add", "bob")
    tokens = {name: admin(data_dir, "token", "create", "--user", name, "--name", "e2e")
              for name in ("root", "alice", "bob")}
    server = start_mltf_server_module("--auth", "tokens", "--task-token-lifetime-seconds", "3",
                                      data_dir=data_dir)
    return server, tokens, data_dir


def experiment_names(url: str, token: str) -> List[str]:
    response = requests.get(url + "/api/2.0/mlflow/experiments/search",
                            params={"max_results": 1000}, headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    return sorted(e["name"] for e in response.json().get("experiments", []))


def test_the_admin_cli_shows_tokens_without_their_secrets(facility):
    _server, tokens, data_dir = facility
    assert tokens["alice"].startswith("mltf_")
    listing = admin(data_dir, "token", "list", "--user", "alice")
    assert "e2e" in listing and "valid" in listing
    assert tokens["alice"] not in listing and tokens["alice"][22:] not in listing
    users = admin(data_dir, "user", "list")
    assert "root" in users and "cms" in users
    database = (data_dir / "mltf.db").read_bytes()
    assert tokens["alice"][22:].encode() not in database  # only the digest is stored


def test_open_paths_need_no_credential(facility):
    server, _tokens, _data_dir = facility
    for path in OPEN_PATHS:
        response = requests.get(server.url + path, timeout=10)
        assert response.status_code == 200, (path, response.text)
    config = requests.get(server.url + "/api/config", timeout=10).json()
    assert config == {"auth": "tokens", "oauth_config": None, "oauth_issuer": None}


@pytest.mark.parametrize("credential", [
    None,
    "Bearer",
    "Bearer not-a-token",
    "Bearer mltf_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "Basic " + base64.b64encode(b"alice:wrong").decode(),
    "Token abc",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
])
def test_every_other_endpoint_refuses_a_missing_or_bad_credential(facility, credential):
    server, tokens, _data_dir = facility
    before = experiment_names(server.url, tokens["root"])
    headers = {"Authorization": credential} if credential else {}
    for method, path in ENDPOINTS:
        response = requests.request(method, server.url + path, headers=headers,
                                    json={"name": "intruder", "experiment_id": "0"}, timeout=10)
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.json()["error_code"] == "UNAUTHENTICATED", (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
    assert experiment_names(server.url, tokens["root"]) == before  # nothing was created


def test_bearer_and_basic_credentials_work_and_a_name_must_match_its_token(facility):
    server, tokens, _data_dir = facility
    created = requests.post(server.url + "/api/2.0/mlflow/experiments/create",
                            json={"name": "alice-basic"}, headers=basic("alice", tokens["alice"]),
                            timeout=10)
    assert created.status_code == 200, created.text
    assert "alice-basic" in experiment_names(server.url, tokens["alice"])
    wrong_user = requests.get(server.url + "/api/2.0/mlflow/experiments/search",
                              headers=basic("bob", tokens["alice"]), timeout=10)
    assert wrong_user.status_code == 401


def test_whoami_names_the_caller_as_the_server_sees_them(facility):
    server, tokens, _data_dir = facility
    alice = requests.get(server.url + API + "/whoami", headers=bearer(tokens["alice"]), timeout=10)
    assert alice.status_code == 200, alice.text
    assert alice.json() == {"user": "alice", "groups": ["cms"], "admin": False, "auth": "tokens"}
    root = requests.get(server.url + API + "/whoami", headers=bearer(tokens["root"]), timeout=10)
    assert root.json()["admin"] is True


def test_a_revoked_or_expired_token_is_refused_at_once(facility):
    server, _tokens, data_dir = facility
    token = admin(data_dir, "token", "create", "--user", "bob", "--name", "to-revoke")
    assert requests.get(server.url + API + "/tasks", headers=bearer(token),
                        timeout=10).status_code == 200
    token_id = token.split("_")[1]
    admin(data_dir, "token", "revoke", token_id)
    # Revoked through another process (the admin CLI): seen once the server's cache is old.
    deadline = time.monotonic() + 10
    while True:
        response = requests.get(server.url + API + "/tasks", headers=bearer(token), timeout=10)
        if response.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    assert token not in response.text

    short = admin(data_dir, "token", "create", "--user", "bob", "--expires", "1s")
    time.sleep(1.2)
    response = requests.get(server.url + API + "/tasks", headers=bearer(short), timeout=10)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_a_task_tracks_through_its_own_renewed_token_and_only_its_owner_sees_it(facility):
    server, tokens, _data_dir = facility
    task = submit_as(server.url, tokens["alice"], LONG_TASK, env_manager="local",
                     experiment_name="alice-tasks")
    assert task["user"] == "alice"

    # Bob neither sees nor cancels it, on the native API or the job API; root (admin) sees it.
    for method, path in [("GET", f"{API}/tasks/{task['task_id']}"),
                         ("GET", f"{API}/tasks/{task['task_id']}/logs"),
                         ("POST", f"{API}/tasks/{task['task_id']}/cancel")]:
        response = requests.request(method, server.url + path, headers=bearer(tokens["bob"]),
                                    timeout=10)
        assert response.status_code == 403, (method, path, response.text)
    for method in ("GET", "DELETE"):
        response = requests.request(method, f"{server.url}/api/jobs/{task['task_id']}",
                                    headers=bearer(tokens["bob"]), timeout=10)
        assert response.status_code == 403, (method, response.text)
    listed = requests.get(server.url + API + "/tasks", headers=bearer(tokens["bob"]), timeout=10)
    assert task["task_id"] not in listed.text
    assert requests.get(server.url + API + "/tasks", params={"user": "alice"},
                        headers=bearer(tokens["bob"]), timeout=10).status_code == 403
    assert requests.get(f"{server.url}{API}/tasks/{task['task_id']}",
                        headers=bearer(tokens["root"]), timeout=10).status_code == 200

    task = wait_task(server.url, tokens["alice"], task["task_id"])
    log = requests.get(f"{server.url}{API}/tasks/{task['task_id']}/logs",
                       headers=bearer(tokens["alice"]), timeout=10).text
    assert task["state"] == "SUCCEEDED", log
    assert tokens["alice"] not in log  # the task never sees its owner's token
    history = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "tick"},
                           headers=bearer(tokens["alice"]), timeout=10)
    assert history.status_code == 200, history.text
    assert len(history.json()["metrics"]) == 12  # it kept logging past its first 3 s

    # The task's token died with the task: what it left in its attempt file opens nothing.
    attempt_files = list((server.data_dir / "tasks" / task["task_id"]).glob("*/attempt.json"))
    assert attempt_files
    for attempt_file in attempt_files:
        assert attempt_file.stat().st_mode & 0o077 == 0  # the owner's alone
        left_behind = json.loads(attempt_file.read_text())["tracking_token"]
        assert left_behind.startswith("mltf_") and left_behind != tokens["alice"]
        response = requests.get(server.url + "/api/2.0/mlflow/runs/get",
                                params={"run_id": task["run_id"]}, headers=bearer(left_behind),
                                timeout=10)
        assert response.status_code == 401
        assert "revoked" in response.json()["message"]


def call(url: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, url + path, headers=bearer(token), timeout=10, **kwargs)


def test_a_second_user_reaches_nothing_of_the_first_users_private_experiment(facility):
    server, tokens, _data_dir = facility
    url, alice, bob, root = server.url, tokens["alice"], tokens["bob"], tokens["root"]
    mlflow = "/api/2.0/mlflow"
    created = call(url, alice, "POST", mlflow + "/experiments/create", json={"name": "private"})
    assert created.status_code == 200, created.text
    experiment = created.json()["experiment_id"]
    run = call(url, alice, "POST", mlflow + "/runs/create",
               json={"experiment_id": experiment}).json()["run"]["info"]
    run_id = run["run_id"]
    assert call(url, alice, "POST", mlflow + "/runs/log-metric",
                json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1,
                      "step": 0}).status_code == 200
    artifact = f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run_id}/artifacts/model.txt"
    assert call(url, alice, "PUT", artifact, data=b"weights").status_code == 200

    refused = [
        ("GET", mlflow + "/experiments/get", {"params": {"experiment_id": experiment}}),
        ("GET", mlflow + "/experiments/get-by-name", {"params": {"experiment_name": "private"}}),
        ("POST", mlflow + "/experiments/update",
         {"json": {"experiment_id": experiment, "new_name": "mine"}}),
        ("POST", mlflow + "/experiments/delete", {"json": {"experiment_id": experiment}}),
        ("POST", mlflow + "/runs/create", {"json": {"experiment_id": experiment}}),
        ("GET", mlflow + "/runs/get", {"params": {"run_id": run_id}}),
        ("POST", mlflow + "/runs/log-metric",
         {"json": {"run_id": run_id, "key": "loss", "value": 9, "timestamp": 2}}),
        ("POST", mlflow + "/runs/log-batch",
         {"json": {"run_id": run_id, "params": [{"key": "a", "value": "b"}]}}),
        ("POST", mlflow + "/runs/set-tag", {"json": {"run_id": run_id, "key": "k", "value": "v"}}),
        ("POST", mlflow + "/runs/delete", {"json": {"run_id": run_id}}),
        ("GET", mlflow + "/metrics/get-history", {"params": {"run_id": run_id, "metric_key": "loss"}}),
        ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
         {"params": {"run_id": run_id, "metric_key": "loss"}}),
        ("GET", mlflow + "/artifacts/list", {"params": {"run_id": run_id}}),
        ("GET", "/get-artifact", {"params": {"run_id": run_id, "path": "model.txt"}}),
        ("GET", artifact, {}),
        ("PUT", artifact, {"data": b"overwritten"}),
        ("DELETE", artifact, {}),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"params": {"path": experiment}}),
        ("POST", mlflow + "/experiments/permissions/create",
         {"json": {"experiment_id": experiment, "username": "bob", "permission": "MANAGE"}}),
    ]
    for method, path, kwargs in refused:
        response = call(url, bob, method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert response.json()["error_code"] == "PERMISSION_DENIED", (method, path)

    # Absent from every search and listing.
    assert "private" not in experiment_names(url, bob)
    searched = call(url, bob, "POST", mlflow + "/runs/search",
                    json={"experiment_ids": [experiment, "0"]})
    assert searched.status_code == 200 and run_id not in searched.text
    datasets = call(url, bob, "POST", "/ajax-api/2.0/mlflow/experiments/search-datasets",
                    json={"experiment_ids": [experiment]})
    assert datasets.status_code == 200 and experiment not in datasets.text
    # Nothing changed: alice's run still has her metric, her artifact its content.
    assert call(url, alice, "GET", artifact).content == b"weights"
    history = call(url, alice, "GET", mlflow + "/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "loss"}).json()["metrics"]
    assert [point["value"] for point in history] == [0.5]
    assert "private" in experiment_names(url, alice) and "private" in experiment_names(url, root)

    # Alice lets bob read: he sees it, but still cannot write.
    granted = call(url, alice, "POST", mlflow + "/experiments/permissions/create",
                   json={"experiment_id": experiment, "username": "bob", "permission": "READ"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["experiment_permission"]["permission"] == "READ"
    assert "private" in experiment_names(url, bob)
    assert call(url, bob, "GET", mlflow + "/runs/get", params={"run_id": run_id}).status_code == 200
    assert call(url, bob, "GET", artifact).content == b"weights"
    assert call(url, bob, "POST", mlflow + "/runs/log-metric",
                json={"run_id": run_id, "key": "x", "value": 1, "timestamp": 3}).status_code == 403
    # By group: EDIT for cms (alice's group, not bob's) changes nothing for bob.
    assert call(url, alice, "POST", mlflow + "/experiments/permissions/create",
                json={"experiment_id": experiment, "group_name": "cms",
                      "permission": "EDIT"}).status_code == 200
    assert call(url, bob, "POST", mlflow + "/runs/set-tag",
                json={"run_id": run_id, "key": "k", "value": "v"}).status_code == 403
    # And takes it back.
    assert call(url, alice, "DELETE", mlflow + "/experiments/permissions/delete",
                json={"experiment_id": experiment, "username": "bob"}).status_code == 200
    assert "private" not in experiment_names(url, bob)


def test_registered_models_are_private_to_their_creator_until_shared(facility):
    server, tokens, _data_dir = facility
    url, alice, bob = server.url, tokens["alice"], tokens["bob"]
    mlflow = "/api/2.0/mlflow"
    assert call(url, alice, "POST", mlflow + "/registered-models/create",
                json={"name": "alice-model"}).status_code == 200
    version = call(url, alice, "POST", mlflow + "/model-versions/create",
                   json={"name": "alice-model", "source": "s3://bucket/model"})
    assert version.status_code == 200, version.text

    for method, path, kwargs in [
        ("GET", mlflow + "/registered-models/get", {"params": {"name": "alice-model"}}),
        ("POST", mlflow + "/registered-models/rename",
         {"json": {"name": "alice-model", "new_name": "stolen"}}),
        ("DELETE", mlflow + "/registered-models/delete", {"json": {"name": "alice-model"}}),
        ("POST", mlflow + "/model-versions/create",
         {"json": {"name": "alice-model", "source": "s3://evil"}}),
        ("GET", mlflow + "/model-versions/get", {"params": {"name": "alice-model", "version": "1"}}),
        ("GET", mlflow + "/model-versions/get-download-uri",
         {"params": {"name": "alice-model", "version": "1"}}),
        ("POST", mlflow + "/registered-models/get-latest-versions", {"json": {"name": "alice-model"}}),
    ]:
        response = call(url, bob, method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.status_code, response.text)

    def model_names(token: str) -> list:
        found = call(url, token, "GET", mlflow + "/registered-models/search",
                     params={"max_results": 1000})
        assert found.status_code == 200, found.text
        return [m["name"] for m in found.json().get("registered_models", [])]

    def version_names(token: str) -> list:
        found = call(url, token, "GET", mlflow + "/model-versions/search")
        assert found.status_code == 200, found.text
        return [v["name"] for v in found.json().get("model_versions", [])]

    assert "alice-model" not in model_names(bob) and "alice-model" not in version_names(bob)
    assert "alice-model" in model_names(alice) and "alice-model" in version_names(alice)

    # A rename keeps the creator's rights; a share lets bob read.
    assert call(url, alice, "POST", mlflow + "/registered-models/rename",
                json={"name": "alice-model", "new_name": "alice-model-2"}).status_code == 200
    assert call(url, alice, "GET", mlflow + "/registered-models/get",
                params={"name": "alice-model-2"}).status_code == 200
    assert call(url, alice, "POST", mlflow + "/registered-models/permissions/create",
                json={"name": "alice-model-2", "username": "bob",
                      "permission": "READ"}).status_code == 200
    assert "alice-model-2" in model_names(bob)
    assert call(url, bob, "DELETE", mlflow + "/registered-models/delete",
                json={"name": "alice-model-2"}).status_code == 403

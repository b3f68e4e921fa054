"""test_auth_oidc.py - the server with `--auth oidc` against a real OpenID provider (npm's
oidc-provider, tests/oidc): the provider's access tokens accepted with their groups, every
hand-made bad token refused on every endpoint, the server's own tokens working beside the
provider's, permissions by the provider's groups, and `mltf login` through the device flow with
the test playing the person at the browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from auth_support import ENDPOINTS, LONG_TASK, OPEN_PATHS, bearer, submit_as, wait_task
from conftest import mltf_binary
from gateway_support import API
from oidc_support import AUDIENCE, CLIENT_ID, OpenIdProvider

GROUPS = {"alice": ["cms"], "carol": ["cms"], "root": ["ops"]}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    running = OpenIdProvider(tmp_path_factory.mktemp("provider"), access_token_ttl=300,
                             groups=GROUPS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def facility(provider, tmp_path_factory, start_mltf_server_module):
    """A mode-oidc server trusting the provider; members of group ops are admins."""
    data_dir = tmp_path_factory.mktemp("oidc") / "data"
    server = start_mltf_server_module(
        "--auth", "oidc", "--oidc-issuer", provider.issuer, "--oidc-audience", AUDIENCE,
        "--oidc-client-id", CLIENT_ID, "--auth-admin-group", "ops",
        "--task-token-lifetime-seconds", "3", data_dir=data_dir)
    return server


@pytest.fixture(scope="module")
def logged_in(provider) -> Dict[str, str]:
    """An access token from a complete device flow for each user."""
    return {user: provider.device_login(user)["access_token"]
            for user in ("alice", "bob", "carol", "root")}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def experiment_names(url: str, token: str) -> List[str]:
    response = requests.get(url + "/api/2.0/mlflow/experiments/search",
                            params={"max_results": 1000}, headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    return sorted(e["name"] for e in response.json().get("experiments", []))


def whoami(url: str, token: str) -> requests.Response:
    return requests.get(url + API + "/whoami", headers=bearer(token), timeout=10)


def test_the_server_advertises_its_provider_to_clients(facility, provider):
    config = requests.get(facility.url + "/api/config", timeout=10).json()
    discovery = provider.discovery()
    assert config["auth"] == "oidc"
    assert config["oauth_issuer"] == provider.issuer
    oauth = config["oauth_config"]
    assert oauth["issuer"] == provider.issuer and oauth["client_id"] == CLIENT_ID
    assert oauth["device_authorization_url"] == discovery["device_authorization_endpoint"]
    assert oauth["token_url"] == discovery["token_endpoint"]
    assert oauth["revocation_url"] == discovery["revocation_endpoint"]
    assert "offline_access" in oauth["scopes"]
    for path in OPEN_PATHS:
        assert requests.get(facility.url + path, timeout=10).status_code == 200, path


def test_the_providers_access_tokens_carry_the_user_and_groups(facility, logged_in):
    alice = whoami(facility.url, logged_in["alice"])
    assert alice.status_code == 200, alice.text
    assert alice.json() == {"user": "alice", "groups": ["cms"], "admin": False, "auth": "oidc"}
    root = whoami(facility.url, logged_in["root"]).json()
    assert root["user"] == "root" and root["admin"] is True  # through --auth-admin-group ops


def bad_tokens(provider: OpenIdProvider, genuine: str) -> Dict[str, str]:
    """Tokens the server must refuse, each wrong in one way only."""
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    promoted = b64url(json.dumps({**claims, "sub": "root", "groups": ["ops"]}).encode())
    attacker = json.loads(subprocess.run(
        ["node", str(Path(__file__).resolve().parents[1] / "oidc" / "tokens.mjs"), "keys", "k1"],
        capture_output=True, text=True, check=True, timeout=60).stdout)["keys"][0]
    now = int(time.time())

    def hs256(secret: bytes, token_claims: dict) -> str:
        signing_input = (b64url(json.dumps({"alg": "HS256", "kid": "k1"}).encode()) + "." +
                         b64url(json.dumps(token_claims).encode()))
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(mac)

    return {
        "forged signature": f"{header}.{promoted}.{signature}",
        "signature cut off": f"{header}.{payload}.",
        "expired": provider.sign(provider.claims("alice", iat=now - 7200, exp=now - 3600)),
        "not yet valid": provider.sign(provider.claims("alice", nbf=now + 3600)),
        "wrong audience": provider.sign(provider.claims("alice", aud="another-service")),
        "wrong issuer": provider.sign(provider.claims("alice", iss="http://127.0.0.1:1")),
        "no user claim": provider.sign({k: v for k, v in provider.claims("alice").items()
                                        if k != "sub"}),
        "alg none": (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." +
                     b64url(json.dumps(provider.claims("root")).encode()) + "."),
        "HS256 keyed with the public key": hs256(provider.public_pem().encode(),
                                                 provider.claims("root")),
        "another key under the provider's kid": provider.sign(provider.claims("root"),
                                                              jwk=attacker),
        "another key under a new kid": provider.sign(
            provider.claims("root"), header={"alg": "RS256", "kid": "k2"}, jwk=attacker),
    }


def test_every_endpoint_refuses_every_bad_token_and_changes_nothing(facility, provider,
                                                                    logged_in):
    before = experiment_names(facility.url, logged_in["root"])
    tokens = bad_tokens(provider, logged_in["alice"])
    for reason, token in tokens.items():
        for method, path in ENDPOINTS:
            response = requests.request(method, facility.url + path, headers=bearer(token),
                                        json={"name": "intruder", "experiment_id": "0"},
                                        timeout=10)
            assert response.status_code == 401, (reason, method, path, response.text)
            assert response.json()["error_code"] == "UNAUTHENTICATED", (reason, method, path)
            assert token not in response.text, reason
    assert experiment_names(facility.url, logged_in["root"]) == before
    # Nor are they written anywhere: not whole, not their signatures (the access log is on).
    server_log = (facility.stderr_path.read_text(errors="replace") +
                  facility.stdout_path.read_text(errors="replace"))
    for reason, token in tokens.items():
        signature = token.rsplit(".", 1)[1]
        assert token not in server_log and (not signature or signature not in server_log), reason
    # The same claims, honestly signed, pass: each refusal was for the one thing wrong.
    assert whoami(facility.url, provider.sign(provider.claims("alice"))).status_code == 200


def test_the_servers_own_tokens_work_beside_the_providers(facility):
    data_dir = facility.data_dir
    subprocess.run([str(mltf_binary()), "admin", "user", "add", "ci-bot", "--data-dir",
                    str(data_dir)], check=True, capture_output=True, timeout=60)
    token = subprocess.run([str(mltf_binary()), "admin", "token", "create", "--user", "ci-bot",
                            "--data-dir", str(data_dir)],
                           check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    assert whoami(facility.url, token).json()["user"] == "ci-bot"


def test_permissions_follow_the_providers_users_and_groups(facility, logged_in):
    url = facility.url
    created = requests.post(url + "/api/2.0/mlflow/experiments/create",
                            json={"name": "alice-oidc-private"}, headers=bearer(logged_in["alice"]),
                            timeout=10)
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    get = f"{url}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}"
    for user in ("bob", "carol"):
        assert requests.get(get, headers=bearer(logged_in[user]), timeout=10).status_code == 403
        assert "alice-oidc-private" not in experiment_names(url, logged_in[user])
    shared = requests.post(url + "/api/2.0/mlflow/experiments/permissions/create",
                           json={"experiment_id": experiment_id, "group_name": "cms",
                                 "permission": "READ"},
                           headers=bearer(logged_in["alice"]), timeout=10)
    assert shared.status_code == 200, shared.text
    # carol is in cms by the provider's groups claim; bob is in no group.
    deadline = time.monotonic() + 5
    while requests.get(get, headers=bearer(logged_in["carol"]), timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the group grant was not seen"
        time.sleep(0.2)
    assert "alice-oidc-private" in experiment_names(url, logged_in["carol"])
    assert requests.get(get, headers=bearer(logged_in["bob"]), timeout=10).status_code == 403
    assert requests.get(get, headers=bearer(logged_in["root"]), timeout=10).status_code == 200


def test_a_task_submitted_with_a_provider_token_runs_on_its_own_renewed_token(facility,
                                                                                logged_in):
    alice = logged_in["alice"]
    task = submit_as(facility.url, alice, LONG_TASK, env_manager="local",
                     experiment_name="alice-oidc-tasks")
    assert task["user"] == "alice"
    task = wait_task(facility.url, alice, task["task_id"])
    log = requests.get(f"{facility.url}{API}/tasks/{task['task_id']}/logs",
                       headers=bearer(alice), timeout=10).text
    assert task["state"] == "SUCCEEDED", log
    assert alice not in log  # the user's SSO token never reaches the task
    for attempt_file in (facility.data_dir / "tasks" / task["task_id"]).glob("*/attempt.json"):
        assert alice not in attempt_file.read_text()
    history = requests.get(facility.url + "/api/2.0/mlflow/metrics/get-history",
                           params={"run_id": task["run_id"], "metric_key": "tick"},
                           headers=bearer(alice), timeout=10)
    assert len(history.json()["metrics"]) == 12  # past its token's first 3 s

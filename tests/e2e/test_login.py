"""test_login.py - `mltf login`, `auth-status`, `token env` and `logout` as a user runs them:
the device flow against the real OpenID provider (tests/oidc) with the test playing the person
at the browser, the credential file only its owner can read, access tokens refreshed after they
expire, a refusal at the browser, logout revoking the refresh token at the provider, and
`login --with-token` for a server in mode tokens.
"""

from __future__ import annotations

import json
import os
import re
import select
import stat
import subprocess
import time
from pathlib import Path
from typing import Dict, Tuple

import pytest
import requests

from auth_support import bearer
from conftest import mltf_binary
from gateway_support import API
from oidc_support import AUDIENCE, CLIENT_ID, OpenIdProvider

# Short enough that the test sees a token expire and be refreshed.
ACCESS_TOKEN_TTL = 5


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    running = OpenIdProvider(tmp_path_factory.mktemp("provider"),
                             access_token_ttl=ACCESS_TOKEN_TTL, groups={"alice": ["cms"]})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def facility(provider, tmp_path_factory, start_mltf_server_module):
    return start_mltf_server_module(
        "--auth", "oidc", "--oidc-issuer", provider.issuer, "--oidc-audience", AUDIENCE,
        "--oidc-client-id", CLIENT_ID, data_dir=tmp_path_factory.mktemp("login") / "data")


@pytest.fixture
def user_env(tmp_path) -> Dict[str, str]:
    """A user's environment with a home of its own and no token in it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN", "MLTF_SERVER",
                        "MLFLOW_TRACKING_URI", "XDG_CONFIG_HOME")}
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    return env


def credentials_file(env: Dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".config" / "mltf" / "credentials.json"


def mltf(env: Dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(mltf_binary()), *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def start_login(env: Dict[str, str], server: str) -> Tuple[subprocess.Popen, str, str]:
    """Starts `mltf login` and reads what it tells the person: (process, URL, user code)."""
    login = subprocess.Popen([str(mltf_binary()), "login", "--server", server], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shown = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Raw reads: a buffered reader would keep what follows from communicate() later.
        ready, _, _ = select.select([login.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(login.stdout.fileno(), 4096)
            assert chunk, "mltf login ended early: " + login.stderr.read().decode()
            shown += chunk
        text = shown.decode()
        url = re.search(r"(http://127\.0\.0\.1:\d+/device)\b", text)
        code = re.search(r"\b([A-Z]{4}-[A-Z]{4})\b", text)
        if url and code:
            return login, url.group(1), code.group(1)
    login.kill()
    raise AssertionError("mltf login showed no code:\n" + shown.decode())


def finish(process: subprocess.Popen) -> Tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out.decode(), err.decode()


def stored_entry(env: Dict[str, str], server: str) -> dict:
    return json.loads(credentials_file(env).read_text())["servers"][server]


def login_as(env: Dict[str, str], provider: OpenIdProvider, server: str, user: str) -> str:
    login, url, code = start_login(env, server)
    provider.approve_device(url, code, user)
    returncode, out, err = finish(login)
    assert returncode == 0, out + err
    return out


def test_login_through_the_device_flow_then_every_command_uses_and_refreshes_it(
        facility, provider, user_env):
    out = login_as(user_env, provider, facility.url, "alice")
    assert "alice" in out
    entry = stored_entry(user_env, facility.url)
    first_access, first_refresh = entry["access_token"], entry["refresh_token"]
    assert first_access and first_refresh
    assert first_access not in out and first_refresh not in out

    # Only its owner can read it, from the first byte on.
    path = credentials_file(user_env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    status = mltf(user_env, "auth-status", "--server", facility.url)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "alice" in status.stdout and str(path) in status.stdout
    assert first_access not in status.stdout + status.stderr

    user_env["MLTF_SERVER"] = facility.url
    listed = mltf(user_env, "tasks")
    assert listed.returncode == 0, listed.stderr

    # The access token runs out; the next command refreshes it with the refresh token.
    time.sleep(ACCESS_TOKEN_TTL + 1)
    printed = mltf(user_env, "token", "env")
    assert printed.returncode == 0, printed.stderr
    match = re.fullmatch(r"MLFLOW_TRACKING_URI=(\S+) MLFLOW_TRACKING_TOKEN=(\S+)\n",
                         printed.stdout)
    assert match, printed.stdout
    assert match.group(1) == facility.url
    fresh = match.group(2)
    assert fresh != first_access
    who = requests.get(facility.url + API + "/whoami", headers=bearer(fresh), timeout=10)
    assert who.status_code == 200 and who.json()["user"] == "alice", who.text
    assert stored_entry(user_env, facility.url)["access_token"] == fresh

    # An environment token wins over the stored login.
    user_env["MLTF_TOKEN"] = "mltf_0000000000000000_" + "A" * 43
    refused = mltf(user_env, "tasks")
    assert refused.returncode != 0 and "unknown API token" in refused.stderr


def test_a_refusal_at_the_browser_ends_the_login_and_stores_nothing(facility, provider,
                                                                    user_env):
    login, url, code = start_login(user_env, facility.url)
    provider.deny_device(url, code)
    returncode, out, err = finish(login)
    assert returncode != 0
    assert "denied" in (out + err).lower() or "refused" in (out + err).lower(), out + err
    assert not credentials_file(user_env).exists() or \
        facility.url not in json.loads(credentials_file(user_env).read_text())["servers"]


def test_logout_forgets_the_login_and_revokes_it_at_the_provider(facility, provider, user_env):
    login_as(user_env, provider, facility.url, "alice")
    refresh_token = stored_entry(user_env, facility.url)["refresh_token"]
    out = mltf(user_env, "logout", "--server", facility.url)
    assert out.returncode == 0, out.stderr
    assert facility.url not in json.loads(credentials_file(user_env).read_text())["servers"]
    status = mltf(user_env, "auth-status", "--server", facility.url)
    assert status.returncode == 1
    # The provider no longer honours the refresh token.
    refreshed = requests.post(provider.discovery()["token_endpoint"], data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID},
        timeout=10)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_login_with_an_api_token_for_a_server_in_mode_tokens(start_mltf_server, tmp_path,
                                                             user_env):
    data_dir = tmp_path / "tokens-data"
    admin = [str(mltf_binary()), "admin"]
    subprocess.run(admin + ["user", "add", "bob", "--data-dir", str(data_dir)], check=True,
                   capture_output=True, timeout=60)
    token = subprocess.run(admin + ["token", "create", "--user", "bob", "--data-dir",
                                    str(data_dir)],
                           check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    server = start_mltf_server("--auth", "tokens", data_dir=data_dir)

    explained = mltf(user_env, "login", "--server", server.url)
    assert explained.returncode != 0
    assert "--with-token" in explained.stdout + explained.stderr

    wrong = mltf(user_env, "login", "--server", server.url, "--with-token",
                 stdin="mltf_0000000000000000_" + "A" * 43 + "\n")
    assert wrong.returncode != 0
    assert not credentials_file(user_env).exists() or \
        server.url not in credentials_file(user_env).read_text()

    stored = mltf(user_env, "login", "--server", server.url, "--with-token", stdin=token + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "bob" in stored.stdout and token not in stored.stdout + stored.stderr
    status = mltf(user_env, "auth-status", "--server", server.url)
    assert status.returncode == 0 and "bob" in status.stdout, status.stdout + status.stderr
    printed = mltf(user_env, "token", "env", "--server", server.url)
    assert printed.stdout == f"MLFLOW_TRACKING_URI={server.url} MLFLOW_TRACKING_TOKEN={token}\n"


def test_a_server_without_auth_needs_no_login(mltf_server, user_env):
    out = mltf(user_env, "login", "--server", mltf_server.url)
    assert out.returncode == 0, out.stderr
    assert "no login" in out.stdout
    assert not credentials_file(user_env).exists()

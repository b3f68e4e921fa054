"""oidc_support.py - the real OpenID provider of the end-to-end tests (tests/oidc, npm's
oidc-provider on Node.js), started on a free 127.0.0.1 port, and the person at its browser.

`OpenIdProvider` installs the provider's npm packages on first use (`npm ci` in tests/oidc,
from its package-lock.json), writes a fresh signing key, starts `node provider.mjs`, and waits
until its discovery document answers. `sign()` makes tokens with the provider's own key, for
the claims a well-behaved provider never issues; `approve_device()` plays the person who opens
the verification page, types the code, logs in and consents, through the provider's own pages.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import urljoin

import requests

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "mltf-cli"
AUDIENCE = "mltf"


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is missing: scripts/install-deps.sh installs it"
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    major = int(version.lstrip("v").split(".")[0]) if version.startswith("v") else 0
    assert major >= 20, f"the tests' OpenID provider needs Node.js 20 or newer, not {version}"
    return node


def ensure_installed() -> None:
    """Installs the provider's packages when tests/oidc/node_modules lacks them."""
    if (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    assert npm, "npm is missing: scripts/install-deps.sh installs it"
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, "npm ci in tests/oidc failed:\n" + done.stderr[-2000:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _form(page: requests.Response) -> Tuple[str, Dict[str, str]]:
    """The action and the hidden fields of the page's first form."""
    body = page.text[page.text.find("<form"):]
    action = re.search(r'<form[^>]*action="([^"]*)"', body)
    assert action, f"no form on {page.url}:\n{page.text[:2000]}"
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body))
    return urljoin(page.url, action.group(1)), fields


class OpenIdProvider:
    """One running provider. Stop it with stop()."""

    def __init__(self, work_dir: Path, access_token_ttl: int = 300,
                 groups: Optional[Dict[str, List[str]]] = None):
        ensure_installed()
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        keys = subprocess.run([_node(), str(OIDC_DIR / "tokens.mjs"), "keys", "k1"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
        self.private_jwk = json.loads(keys)["keys"][0]
        (work_dir / "keys.json").write_text(keys)
        config = {"port": self.port, "keys": str(work_dir / "keys.json"),
                  "client_id": CLIENT_ID, "audience": AUDIENCE,
                  "access_token_ttl": access_token_ttl, "groups": groups or {}}
        (work_dir / "provider.json").write_text(json.dumps(config))
        self.log_path = work_dir / "provider.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [_node(), str(OIDC_DIR / "provider.mjs"), str(work_dir / "provider.json")],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=OIDC_DIR)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the provider exited:\n" + self.log()
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration",
                                timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError("the provider did not start:\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def discovery(self) -> dict:
        return requests.get(self.issuer + "/.well-known/openid-configuration", timeout=10).json()

    def run_tokens_tool(self, command: str, request: dict) -> str:
        done = subprocess.run([_node(), str(OIDC_DIR / "tokens.mjs"), command],
                              input=json.dumps(request), capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def sign(self, claims: dict, header: Optional[dict] = None, jwk: Optional[dict] = None) -> str:
        """A token with `claims`, signed RS256 with the provider's key (or `jwk`)."""
        return self.run_tokens_tool("sign", {
            "header": header or {"alg": "RS256", "kid": "k1", "typ": "at+jwt"},
            "claims": claims, "jwk": jwk or self.private_jwk}).strip()

    def public_pem(self) -> str:
        return self.run_tokens_tool("pem", self.private_jwk)

    def claims(self, user: str, lifetime: int = 300, **overrides) -> dict:
        """The claims the provider puts in an access token for `user`, changed by overrides."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": user, "iat": now,
                  "exp": now + lifetime, "client_id": CLIENT_ID, "jti": f"e2e-{now}-{user}"}
        claims.update(overrides)
        return claims

    def start_device_authorization(self, scope: str = "openid offline_access") -> dict:
        """What a client gets from the device authorization endpoint (RFC 8628 section 3.2)."""
        answer = requests.post(self.discovery()["device_authorization_endpoint"],
                               data={"client_id": CLIENT_ID, "scope": scope}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def approve_device(self, verification_uri: str, user_code: str, user: str) -> None:
        """The person: opens the verification page, enters the code, confirms it is their
        device, logs in as `user` and consents, each through the provider's own forms."""
        browser = requests.Session()
        page = browser.get(verification_uri, timeout=10)
        action, fields = _form(page)
        page = browser.post(action, data={**fields, "user_code": user_code}, timeout=10)
        action, fields = _form(page)
        assert fields.get("confirm") == "yes", page.text[:2000]
        page = browser.post(action, data=fields, timeout=10)  # confirm: on to the login
        action, fields = _form(page)
        assert fields.get("prompt") == "login", page.text[:2000]
        page = browser.post(action, data={**fields, "login": user, "password": "any"},
                            timeout=10)
        action, fields = _form(page)
        assert fields.get("prompt") == "consent", page.text[:2000]
        page = browser.post(action, data=fields, timeout=10)
        assert "Sign-in Success" in page.text, page.text[:2000]

    def deny_device(self, verification_uri: str, user_code: str) -> None:
        """The person aborts at the confirmation page."""
        browser = requests.Session()
        page = browser.get(verification_uri, timeout=10)
        action, fields = _form(page)
        page = browser.post(action, data={**fields, "user_code": user_code}, timeout=10)
        action, fields = _form(page)
        page = browser.post(action, data={**fields, "abort": "yes"}, timeout=10)
        assert page.status_code in (200, 400), page.text[:2000]

    def device_login(self, user: str) -> dict:
        """The token response of a complete device flow for `user`, without the CLI."""
        started = self.start_device_authorization()
        self.approve_device(started["verification_uri"], started["user_code"], user)
        token_url = self.discovery()["token_endpoint"]
        answer = requests.post(token_url, data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"], "client_id": CLIENT_ID}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

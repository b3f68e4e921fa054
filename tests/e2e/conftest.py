"""conftest.py - start the real `mltf` binary for the end-to-end tests.

Fixtures:
* `mltf_server`: one server per session on a free 127.0.0.1 port with a fresh data dir, shared
  by the conformance replay (the traces were recorded against one shared database) and by tests
  that only touch entities they create themselves. If it crashes, the test that was running
  fails, the next test gets a new server, and the session ends with an error naming the crash.
* `fresh_mltf_server` (function): a server with an empty store, for tests that need one.
* `start_mltf_server` (function) and `start_mltf_server_module` (module): factories that start
  servers with extra flags, stopped and checked at teardown.

Protocol: start `mltf server --host 127.0.0.1 --port P --data-dir D` with stdout/stderr in log
files, poll `GET /health` until it answers 200; on teardown send SIGTERM and wait. The run fails
(teardown error) if the server exited by itself, exited non-zero, or had to be killed. The tail
of the server's stderr is attached to every failing test that used a server.

Environment: MLTF_BIN (default <repo>/build/bin/mltf), MLTF_E2E_START_TIMEOUT (s, default 30),
MLTF_E2E_STOP_TIMEOUT (s, default 20).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = float(os.environ.get("MLTF_E2E_START_TIMEOUT", "30"))
STOP_TIMEOUT = float(os.environ.get("MLTF_E2E_STOP_TIMEOUT", "20"))


def mltf_binary() -> Path:
    return Path(os.environ.get("MLTF_BIN", str(REPO_ROOT / "build" / "bin" / "mltf")))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(data[-lines:]) if data else "(empty)"


class MltfServer:
    """One `mltf server` child process. Not thread-safe."""

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, name: str,
                 extra_args: Optional[List[str]] = None) -> None:
        self.binary = binary
        self.extra_args = list(extra_args or [])
        self.data_dir = data_dir
        self.name = name
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.url = ""

    def start(self) -> None:
        if not self.binary.exists():
            pytest.fail(f"mltf binary not found at {self.binary} (build it, or set MLTF_BIN)",
                        pytrace=False)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            cmd = [str(self.binary), "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.data_dir)] + self.extra_args
            self.proc = self._spawn(cmd)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = (f"mltf server exited with code {self.proc.returncode} during "
                                  f"start-up")
                    break
                try:
                    r = requests.get(self.url + "/health", timeout=2)
                    if r.status_code == 200:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            else:
                last_error = f"GET /health did not answer 200 within {START_TIMEOUT}s"
                self._kill()
                break
            # Exited during start-up: retry on another port if it looked like a port clash.
            if "in use" not in _tail(self.stderr_path, 20).lower():
                break
        pytest.fail(f"{last_error}\ncommand: mltf server --host 127.0.0.1 --port {self.port} "
                    f"--data-dir {self.data_dir}\n--- {self.stderr_path.name} (tail) ---\n"
                    f"{_tail(self.stderr_path)}", pytrace=False)

    def _spawn(self, cmd: List[str]) -> subprocess.Popen:
        # The binary may be being relinked by a concurrent build (ETXTBSY/EACCES): retry briefly.
        deadline = time.monotonic() + 15
        while True:
            try:
                with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
                    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=err, start_new_session=True)
            except OSError as e:
                if time.monotonic() > deadline:
                    pytest.fail(f"cannot start {cmd[0]}: {e}", pytrace=False)
                time.sleep(0.5)

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown runs."""
        self._kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> List[str]:
        """SIGTERM and wait; returns the problems (empty if it shut down cleanly)."""
        problems: List[str] = []
        if self.proc is None:
            return problems
        if self.proc.poll() is not None:
            problems.append(f"mltf server had already exited (code {self.proc.returncode}) "
                            f"before teardown")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"mltf server did not exit within {STOP_TIMEOUT}s of SIGTERM; "
                                f"killed it")
                self._kill()
                return problems
            if self.proc.returncode != 0:
                problems.append(f"mltf server exited with code {self.proc.returncode} after "
                                f"SIGTERM (expected 0)")
        return problems

    def log_tail(self, lines: int = 60) -> str:
        state = "running" if self.alive() else (
            f"EXITED with code {self.proc.returncode}" if self.proc else "not started")
        text = f"server {self.url} ({state}), data dir {self.data_dir}\n"
        text += f"--- {self.stderr_path} (tail) ---\n{_tail(self.stderr_path, lines)}"
        out = _tail(self.stdout_path, 20)
        if out not in ("(empty)", "(no log)"):
            text += f"\n--- {self.stdout_path} (tail) ---\n{out}"
        return text


def _finish(server: MltfServer) -> None:
    problems = server.stop()
    if problems:
        pytest.fail(f"[{server.name}, this test's own server] " + "\n".join(problems) + "\n"
                    + server.log_tail(), pytrace=False)


class SessionServers:
    """The session's shared server. If it dies during a test, that test fails (with the log
    tail), the crash is remembered, and the next test gets a new server (fresh data dir) so one
    crash does not hide every later result; the session teardown then fails listing the crashes."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.generation = 0
        self.current: Optional[MltfServer] = None
        self.crashes: List[str] = []

    def get(self) -> MltfServer:
        if self.current is None or not self.current.alive():
            self.generation += 1
            name = "session-server" if self.generation == 1 else f"session-server-{self.generation}"
            self.current = MltfServer(mltf_binary(), self.base / f"data-{self.generation}",
                                      self.base, name)
            self.current.start()
        return self.current

    def check(self, server: MltfServer, test_id: str) -> None:
        if server.proc is not None and not server.alive():
            self.crashes.append(f"mltf server died (exit code {server.proc.returncode}) during "
                                f"{test_id}; log: {server.stderr_path} / {server.stdout_path}")

    def finish(self) -> None:
        problems = list(self.crashes)
        last = self.current
        if last is not None and last.alive():
            problems += last.stop()
        if problems:
            pytest.fail("[session mltf server, reported at the end of the session] "
                        + "\n".join(problems) + ("\n" + last.log_tail() if last else ""),
                        pytrace=False)


@pytest.fixture(scope="session")
def _session_servers(tmp_path_factory: pytest.TempPathFactory):
    servers = SessionServers(tmp_path_factory.mktemp("mltf-session"))
    yield servers
    servers.finish()


@pytest.fixture
def mltf_server(_session_servers: SessionServers, request):
    server = _session_servers.get()
    yield server
    _session_servers.check(server, request.node.nodeid)


@pytest.fixture
def fresh_mltf_server(tmp_path: Path):
    server = MltfServer(mltf_binary(), tmp_path / "data", tmp_path, "fresh-server")
    server.start()
    yield server
    _finish(server)


@contextmanager
def _servers_under(base: Path):
    """A factory: `start(*flags, data_dir=None)` starts a server with extra flags (several may
    run; each is stopped and checked when the context ends). Passing the data dir of an earlier
    one restarts on its store, as after a crash."""
    servers: List[MltfServer] = []

    def start(*flags: str, data_dir: Optional[Path] = None) -> MltfServer:
        name = f"server-{len(servers) + 1}"
        server = MltfServer(mltf_binary(), data_dir or base / f"data-{len(servers) + 1}",
                            base, name, list(flags))
        servers.append(server)
        server.start()
        return server

    start.servers = servers  # type: ignore[attr-defined]  # for the failure report
    yield start
    problems = []
    for server in servers:
        if server.proc is not None and server.proc.returncode in (0, -signal.SIGKILL):
            continue  # stopped or killed on purpose by the test
        problems += [f"[{server.name}] {p}" for p in server.stop()]
    if problems:
        pytest.fail("\n".join(problems) + "\n" + servers[-1].log_tail(), pytrace=False)


@pytest.fixture
def start_mltf_server(tmp_path: Path):
    """Servers for one test (see _servers_under)."""
    with _servers_under(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_mltf_server_module(tmp_path_factory: pytest.TempPathFactory):
    """Servers shared by the tests of one module, e.g. for slow tasks submitted once."""
    with _servers_under(tmp_path_factory.mktemp("module-servers")) as start:
        yield start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {}) or {}
    for name in ("mltf_server", "fresh_mltf_server"):
        server = funcargs.get(name)
        if isinstance(server, MltfServer):
            report.sections.append((f"{name} log", server.log_tail()))
    for server in getattr(funcargs.get("start_mltf_server"), "servers", []):
        report.sections.append((f"{server.name} log", server.log_tail()))

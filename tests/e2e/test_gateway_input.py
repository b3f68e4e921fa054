"""test_gateway_input.py - hostile project archives and bad task specs: each refused with a clear
error in MLflow's shape, and nothing stored."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
import requests

from gateway_support import API, project_archive, submit, upload


def tar_with(*members) -> bytes:
    """A tar.gz of raw TarInfo members (name, type, link target, data)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("MLproject"), io.BytesIO(b""))
        for name, kind, target, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def bomb(size: int) -> bytes:
    """`size` zero bytes in one member: a small download that unpacks big."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = size

        class Zeros(io.RawIOBase):
            def __init__(self):
                self.left = size

            def readable(self):
                return True

            def readinto(self, b):
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n

        archive.addfile(info, io.BufferedReader(Zeros(), 1 << 20))
    return buffer.getvalue()


HOSTILE = {
    "absolute path": (tar_with(("/etc/cron.d/evil", tarfile.REGTYPE, "", b"x")), "absolute"),
    "dot-dot": (tar_with(("../escape.txt", tarfile.REGTYPE, "", b"x")), ".."),
    "nested dot-dot": (tar_with(("a/../../escape.txt", tarfile.REGTYPE, "", b"x")), ".."),
    "symlink out": (tar_with(("link", tarfile.SYMTYPE, "/etc/passwd", b"")), "link"),
    "relative symlink out": (tar_with(("link", tarfile.SYMTYPE, "../../..", b"")), "link"),
    "hard link out": (tar_with(("hard", tarfile.LNKTYPE, "/etc/passwd", b"")), "link"),
    "character device": (tar_with(("null", tarfile.CHRTYPE, "", b"")), "device"),
    "fifo": (tar_with(("pipe", tarfile.FIFOTYPE, "", b"")), "FIFO"),
    "not an archive": (b"this is not a tarball at all" * 10, "not a valid tar"),
    "truncated gzip": (project_archive({"MLproject": "name: x\n"})[:30], "not a valid tar"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_nothing_is_stored(start_mltf_server, kind):
    server = start_mltf_server()
    body, expected = HOSTILE[kind]
    response = requests.post(server.url + API + "/projects", data=body, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert expected.lower() in error["message"].lower(), error["message"]
    projects = server.data_dir / "projects"
    assert not list(projects.glob("*.tar.gz"))
    assert not list((projects / "incoming").iterdir())


def test_an_archive_bomb_is_refused(start_mltf_server):
    server = start_mltf_server("--max-project-unpacked-mb", "10")
    body = bomb(200 << 20)
    assert len(body) < 1 << 20
    response = requests.post(server.url + API + "/projects", data=body, timeout=120)
    assert response.status_code == 400, response.text
    assert "unpack" in response.json()["message"].lower() or \
        "limit" in response.json()["message"].lower()
    assert not list((server.data_dir / "projects").glob("*.tar.gz"))


def test_an_oversized_upload_is_refused(start_mltf_server):
    server = start_mltf_server("--max-project-mb", "1")
    body = gzip.compress(bytes(range(256)) * 8192, compresslevel=0) * 2  # > 1 MiB
    response = requests.post(server.url + API + "/projects", data=body, timeout=60)
    assert response.status_code == 429, response.text
    assert response.json()["error_code"] == "RESOURCE_EXHAUSTED"
    assert "1 MiB" in response.json()["message"]


def test_an_invalid_mlproject_is_refused_at_upload(start_mltf_server):
    server = start_mltf_server()
    response = requests.post(server.url + API + "/projects",
                             data=project_archive({"MLproject": "entry_points: [1, 2\n"}))
    assert response.status_code == 400
    assert response.json()["message"].startswith("MLproject")


PROJECT = {
    "MLproject": """name: typed
entry_points:
  main:
    parameters:
      rate: float
      count: {type: int, default: 2}
      data: {type: uri, default: "file:///tmp/x"}
    command: "echo {rate} {count} {data}"
""",
}

BAD_SPECS = [
    ({"parameters": {"rate": "fast"}}, "rate"),
    ({"parameters": {"rate": "1.0", "count": "2.5"}}, "count"),
    ({"parameters": {"rate": "1.0", "data": "not a uri"}}, "data"),
    ({"parameters": {}}, "rate"),  # required, no default
    ({"entry_point": "nope"}, "nope"),
    ({"parameters": {"rate": "1"}, "resources": {"gres": "gpu:1\n#SBATCH --wrap=id"}}, "gres"),
    ({"parameters": {"rate": "1"}, "resources": {"surprise": 1}}, "surprise"),
    ({"parameters": {"rate": "1"}, "resources": {"gres": "gpu:3"}}, "gpu"),  # never fits here
    ({"parameters": {"rate": "1"}, "env_manager": "conda"}, "conda"),
    ({"parameters": {"rate": "1"}, "metric_patterns": ["(unclosed"]}, "pattern"),
    ({"parameters": {"rate": "1"}, "experiment_id": "987654"}, "987654"),
    ({"parameters": {"rate": "1"}, "run_id": "f" * 32}, "f" * 32),
    ({"parameters": {"rate": "1"}, "priority": "high"}, "priority"),
    ({"parameters": {"rate": "1"}, "unexpected": True}, "unexpected"),
]


@pytest.mark.parametrize("case", range(len(BAD_SPECS)))
def test_bad_task_specs_are_refused_and_nothing_is_stored(start_mltf_server, case):
    server = start_mltf_server("--local-gpus", "2")
    extra, named = BAD_SPECS[case]
    spec = {"project": upload(server.url, PROJECT), **extra}
    response = requests.post(server.url + API + "/tasks", json=spec, timeout=30)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()
    assert set(error) == {"error_code", "message"}
    assert named in error["message"], error["message"]
    assert requests.get(server.url + API + "/tasks").json()["tasks"] == []
    runs = requests.post(server.url + "/api/2.0/mlflow/runs/search",
                         json={"experiment_ids": ["0"]}).json()
    assert runs.get("runs", []) == []


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"\"text\"", b"{\"project\": 5}",
                                  b"\xff\xfe"])
def test_malformed_submissions(start_mltf_server, body):
    server = start_mltf_server()
    response = requests.post(server.url + API + "/tasks", data=body,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_conda_and_docker_projects_say_what_the_operator_must_configure(start_mltf_server):
    server = start_mltf_server()
    conda = {"MLproject": "name: c\nconda_env: conda.yaml\nentry_points:\n  main:\n"
                          "    command: 'true'\n", "conda.yaml": "name: c\n"}
    error = submit(server.url, conda, expect=400)
    assert "conda" in error["message"] and "operator" in error["message"]
    docker = {"MLproject": "name: d\ndocker_env:\n  image: python:3.11\nentry_points:\n"
                           "  main:\n    command: 'true'\n"}
    error = submit(server.url, docker, expect=400)
    assert "container" in error["message"] and "operator" in error["message"]
    # env_manager=local runs such a project in the host's Python on purpose.
    assert submit(server.url, conda, env_manager="local")["task"]["state"]

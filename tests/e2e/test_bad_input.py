"""test_bad_input.py - the unhappy path of the MLflow REST API, spoken directly over HTTP.

Reference behaviour is MLflow 2.9.2's server (mlflow/server/handlers.py `_get_request_message` +
per-endpoint schemas, mlflow/utils/validation.py limits, SearchUtils, validate_path_is_safe):
* a missing required field, a value of the wrong JSON type, a body that is not JSON, a bad
  search filter or page token, a log-batch over the limits (1000 metrics, 100 params, 100 tags,
  1000 entities; MLflow's "1 MB" check is dead code, so a 1.1 MB batch is accepted), a param
  value change, logging to a deleted run, an unsafe artifact path -> 400 INVALID_PARAMETER_VALUE;
* an unknown run / experiment / registered model / version -> 404 RESOURCE_DOES_NOT_EXIST;
* a duplicate experiment or registered model name -> 400 RESOURCE_ALREADY_EXISTS;
* int64 fields given as JSON strings are accepted (proto3 JSON parsing).
MLTF's own contract adds: every error is JSON `{"error_code", "message"}`; unknown endpoints
answer 404 ENDPOINT_NOT_FOUND.
After every rejected mutation the entity is read back to check that nothing changed.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import pytest
import requests

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
TIMEOUT = 60

Codes = Union[str, Iterable[str]]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def uniq(tag: str) -> str:
    return f"bad-{tag}-{uuid.uuid4().hex[:10]}"


def call(server, method: str, path: str, body: Any = None, params: Any = None,
         raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
         ) -> requests.Response:
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    return requests.request(method, server.url + path, params=params, data=data, headers=hdrs,
                            timeout=TIMEOUT)


def ok(resp: requests.Response) -> Any:
    assert resp.status_code == 200, (f"{resp.request.method} {resp.request.url}: expected 200, "
                                     f"got {resp.status_code}: {resp.text[:500]}")
    return resp.json()


def assert_error(resp: Any, status: int, codes: Codes, what: str = "") -> dict:
    """The answer is `status` with a JSON {"error_code": one of codes, "message": str} body."""
    codes = {codes} if isinstance(codes, str) else set(codes)
    if isinstance(resp, requests.Response):
        where = f"{resp.request.method} {resp.request.url}"
        st, ctype, text = resp.status_code, resp.headers.get("content-type", ""), resp.text
    else:  # (status, headers, body bytes) from a raw connection
        where = what
        st, hdrs, body = resp
        ctype = {k.lower(): v for k, v in hdrs.items()}.get("content-type", "")
        text = body.decode("utf-8", "replace")
    ctx = f"{what or where}: got {st} {text[:400]!r}"
    assert st == status, f"{ctx} -- expected status {status} {sorted(codes)}"
    assert ctype.split(";")[0].strip().lower() == "application/json", \
        f"{ctx} -- error Content-Type is {ctype!r}, expected application/json"
    try:
        payload = json.loads(text)
    except ValueError:
        pytest.fail(f"{ctx} -- error body is not JSON", pytrace=False)
    assert isinstance(payload, dict) and set(payload) == {"error_code", "message"}, \
        f"{ctx} -- error body must be exactly {{'error_code', 'message'}}"
    assert isinstance(payload["message"], str) and payload["message"], f"{ctx} -- empty message"
    assert payload["error_code"] in codes, f"{ctx} -- expected error_code in {sorted(codes)}"
    return payload


def raw_request(server, method: str, target: str, body: bytes = b"",
                headers: Optional[Dict[str, str]] = None):
    """Send `target` exactly as given (no dot-segment normalisation, unlike requests/urllib3)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        hdrs = {"Content-Length": str(len(body))}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def create_experiment(server, name: Optional[str] = None) -> str:
    return ok(call(server, "POST", f"{API}/experiments/create",
                   {"name": name or uniq("exp")}))["experiment_id"]


def create_run(server, exp_id: str) -> str:
    run = ok(call(server, "POST", f"{API}/runs/create",
                  {"experiment_id": exp_id, "start_time": int(time.time() * 1000),
                   "run_name": uniq("run")}))["run"]
    return run["info"]["run_id"]


def get_run(server, run_id: str) -> dict:
    return ok(call(server, "GET", f"{API}/runs/get", params={"run_id": run_id}))["run"]


def get_experiment(server, exp_id: str) -> dict:
    return ok(call(server, "GET", f"{API}/experiments/get",
                   params={"experiment_id": exp_id}))["experiment"]


def history(server, run_id: str, key: str) -> list:
    return ok(call(server, "GET", f"{API}/metrics/get-history",
                   params={"run_id": run_id, "metric_key": key})).get("metrics", [])


def run_snapshot(server, run_id: str, metric_keys: Iterable[str] = ()) -> dict:
    run = get_run(server, run_id)
    data = run.get("data", {})
    for k in ("metrics", "params", "tags"):
        if k in data:
            data[k] = sorted(data[k], key=lambda x: json.dumps(x, sort_keys=True))
    return {"run": run, "history": {k: history(server, run_id, k) for k in metric_keys}}


@pytest.fixture
def exp_id(mltf_server) -> str:
    return create_experiment(mltf_server)


@pytest.fixture
def run_id(mltf_server, exp_id) -> str:
    return create_run(mltf_server, exp_id)


def now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------------
# malformed bodies and wrong types
# --------------------------------------------------------------------------------------------

def test_malformed_json_create_experiment(mltf_server):
    name = uniq("malformed")
    raw = ('{"name": "' + name + '"').encode()          # unterminated object
    resp = call(mltf_server, "POST", f"{API}/experiments/create", raw=raw,
                headers={"Content-Type": "application/json"})
    # MLflow parses the body leniently (None -> {}) and then reports the missing 'name'.
    assert_error(resp, 400, {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST"})
    assert_error(call(mltf_server, "GET", f"{API}/experiments/get-by-name",
                      params={"experiment_name": name}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_malformed_json_log_batch_changes_nothing(mltf_server, run_id):
    before = run_snapshot(mltf_server, run_id, ["m"])
    raw = ('{"run_id": "' + run_id + '", "metrics": [{"key": "m", "value": 1.0, '
           '"timestamp": 1, "step": 0},').encode()
    resp = call(mltf_server, "POST", f"{API}/runs/log-batch", raw=raw,
                headers={"Content-Type": "application/json"})
    assert_error(resp, 400, {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST"})
    assert run_snapshot(mltf_server, run_id, ["m"]) == before


def test_wrong_content_type_is_rejected(mltf_server):
    # MLflow 2.9.2 (_validate_content_type): POST bodies must be application/json.
    name = uniq("ctype")
    resp = call(mltf_server, "POST", f"{API}/experiments/create",
                raw=json.dumps({"name": name}).encode(), headers={"Content-Type": "text/plain"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(mltf_server, "GET", f"{API}/experiments/get-by-name",
                      params={"experiment_name": name}), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("body", [
    {"name": 5},
    {"name": ["x"]},
    {"name": None},
], ids=["int", "list", "null"])
def test_experiment_name_of_wrong_type(mltf_server, body):
    assert_error(call(mltf_server, "POST", f"{API}/experiments/create", body), 400,
                 "INVALID_PARAMETER_VALUE")


def test_experiment_tags_not_a_list(mltf_server):
    name = uniq("tags")
    assert_error(call(mltf_server, "POST", f"{API}/experiments/create",
                      {"name": name, "tags": "team=core"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(mltf_server, "GET", f"{API}/experiments/get-by-name",
                      params={"experiment_name": name}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_run_create_experiment_id_as_number(mltf_server, exp_id):
    # experiment_id is a proto string; MLflow's schema (_assert_string) rejects a JSON number.
    resp = call(mltf_server, "POST", f"{API}/runs/create",
                {"experiment_id": int(exp_id), "start_time": now_ms()})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    found = ok(call(mltf_server, "POST", f"{API}/runs/search",
                    {"experiment_ids": [exp_id], "run_view_type": "ALL"}))
    assert "runs" not in found, f"a run was created anyway: {found}"


@pytest.mark.parametrize("field,value", [
    ("value", "abc"),
    ("value", [1.0]),
    ("timestamp", "yesterday"),
    ("step", "abc"),
    ("key", 7),
])
def test_log_metric_wrong_types_change_nothing(mltf_server, run_id, field, value):
    body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1000, "step": 0}
    body[field] = value
    before = run_snapshot(mltf_server, run_id, ["m"])
    assert_error(call(mltf_server, "POST", f"{API}/runs/log-metric", body), 400,
                 "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id, ["m"]) == before


def test_int64_fields_given_as_strings_are_accepted(mltf_server, run_id):
    # proto3 JSON: int64 may be a decimal string; the answer renders it as a JSON number.
    ok(call(mltf_server, "POST", f"{API}/runs/log-metric",
            {"run_id": run_id, "key": "s", "value": 2.5, "timestamp": "1234567890123",
             "step": "7"}))
    points = history(mltf_server, run_id, "s")
    assert points == [{"key": "s", "value": 2.5, "timestamp": 1234567890123, "step": 7}], points
    found = ok(call(mltf_server, "POST", f"{API}/experiments/search",
                    {"max_results": "1", "filter": "name LIKE 'bad-exp-%'"}))
    assert len(found.get("experiments", [])) == 1, found


def test_log_param_value_of_wrong_type(mltf_server, run_id):
    before = run_snapshot(mltf_server, run_id)
    assert_error(call(mltf_server, "POST", f"{API}/runs/log-parameter",
                      {"run_id": run_id, "key": "p", "value": 5}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id) == before


# --------------------------------------------------------------------------------------------
# missing required fields
# --------------------------------------------------------------------------------------------

MISSING_FIELD_CASES = [
    ("POST", "experiments/create", lambda e, r: {}),
    ("POST", "experiments/create", lambda e, r: {"tags": [{"key": "a", "value": "b"}]}),
    ("GET", "experiments/get", lambda e, r: None),
    ("GET", "experiments/get-by-name", lambda e, r: None),
    ("POST", "experiments/delete", lambda e, r: {}),
    ("POST", "experiments/update", lambda e, r: {"new_name": uniq("x")}),
    ("POST", "experiments/set-experiment-tag", lambda e, r: {"experiment_id": e, "value": "v"}),
    ("POST", "runs/delete", lambda e, r: {}),
    ("POST", "runs/log-metric", lambda e, r: {"run_id": r, "value": 1.0, "timestamp": 1}),
    ("POST", "runs/log-metric", lambda e, r: {"run_id": r, "key": "m", "timestamp": 1}),
    ("POST", "runs/log-metric", lambda e, r: {"run_id": r, "key": "m", "value": 1.0}),
    ("POST", "runs/log-metric", lambda e, r: {"key": "m", "value": 1.0, "timestamp": 1}),
    ("POST", "runs/log-parameter", lambda e, r: {"run_id": r, "value": "v"}),
    ("POST", "runs/set-tag", lambda e, r: {"run_id": r, "value": "v"}),
    ("POST", "runs/delete-tag", lambda e, r: {"run_id": r}),
    ("POST", "runs/log-batch", lambda e, r: {"metrics": []}),
    ("GET", "metrics/get-history", lambda e, r: {"run_id": r}),
    ("POST", "registered-models/create", lambda e, r: {}),
    ("GET", "registered-models/get", lambda e, r: None),
    ("POST", "model-versions/create", lambda e, r: {"name": uniq("model")}),
]


@pytest.mark.parametrize("method,endpoint,make", MISSING_FIELD_CASES,
                         ids=[f"{m} {e} #{i}" for i, (m, e, _) in
                              enumerate(MISSING_FIELD_CASES)])
def test_missing_required_field(mltf_server, exp_id, run_id, method, endpoint, make):
    before = run_snapshot(mltf_server, run_id, ["m"])
    exp_before = get_experiment(mltf_server, exp_id)
    payload = make(exp_id, run_id)
    if method == "GET":
        resp = call(mltf_server, "GET", f"{API}/{endpoint}", params=payload)
    else:
        resp = call(mltf_server, method, f"{API}/{endpoint}", payload)
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id, ["m"]) == before
    assert get_experiment(mltf_server, exp_id) == exp_before


# --------------------------------------------------------------------------------------------
# unknown ids
# --------------------------------------------------------------------------------------------

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"
UNKNOWN_EXP = "987654321"

UNKNOWN_CASES = [
    ("GET", "runs/get", {"run_id": UNKNOWN_RUN}),
    ("POST", "runs/update", {"run_id": UNKNOWN_RUN, "status": "FINISHED", "end_time": 1}),
    ("POST", "runs/delete", {"run_id": UNKNOWN_RUN}),
    ("POST", "runs/restore", {"run_id": UNKNOWN_RUN}),
    ("POST", "runs/log-metric", {"run_id": UNKNOWN_RUN, "key": "m", "value": 1.0,
                                 "timestamp": 1, "step": 0}),
    ("POST", "runs/log-parameter", {"run_id": UNKNOWN_RUN, "key": "p", "value": "v"}),
    ("POST", "runs/set-tag", {"run_id": UNKNOWN_RUN, "key": "t", "value": "v"}),
    ("POST", "runs/log-batch", {"run_id": UNKNOWN_RUN,
                                "metrics": [{"key": "m", "value": 1.0, "timestamp": 1,
                                             "step": 0}]}),
    ("GET", "experiments/get", {"experiment_id": UNKNOWN_EXP}),
    ("GET", "experiments/get-by-name", {"experiment_name": "bad-no-such-experiment-x1"}),
    ("POST", "experiments/delete", {"experiment_id": UNKNOWN_EXP}),
    ("POST", "experiments/restore", {"experiment_id": UNKNOWN_EXP}),
    ("POST", "experiments/update", {"experiment_id": UNKNOWN_EXP, "new_name": "bad-renamed-x1"}),
    ("POST", "experiments/set-experiment-tag", {"experiment_id": UNKNOWN_EXP, "key": "k",
                                                "value": "v"}),
    ("POST", "runs/create", {"experiment_id": UNKNOWN_EXP, "start_time": 1}),
    ("GET", "registered-models/get", {"name": "bad-no-such-model-x1"}),
    ("GET", "model-versions/get", {"name": "bad-no-such-model-x1", "version": "1"}),
]


@pytest.mark.parametrize("method,endpoint,payload", UNKNOWN_CASES,
                         ids=[f"{m} {e}" for m, e, _ in UNKNOWN_CASES])
def test_unknown_entity(mltf_server, method, endpoint, payload):
    if method == "GET":
        resp = call(mltf_server, "GET", f"{API}/{endpoint}", params=payload)
    else:
        resp = call(mltf_server, method, f"{API}/{endpoint}", payload)
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    if endpoint == "runs/create":
        found = ok(call(mltf_server, "POST", f"{API}/runs/search",
                        {"experiment_ids": [UNKNOWN_EXP], "run_view_type": "ALL"}))
        assert "runs" not in found


def test_unknown_model_version_of_existing_model(mltf_server):
    name = uniq("model")
    ok(call(mltf_server, "POST", f"{API}/registered-models/create", {"name": name}))
    assert_error(call(mltf_server, "GET", f"{API}/model-versions/get",
                      params={"name": name, "version": "3"}), 404, "RESOURCE_DOES_NOT_EXIST")
    model = ok(call(mltf_server, "GET", f"{API}/registered-models/get",
                    params={"name": name}))["registered_model"]
    assert "latest_versions" not in model


# --------------------------------------------------------------------------------------------
# duplicates
# --------------------------------------------------------------------------------------------

def _experiments_named(server, name: str, view: str = "ALL") -> list:
    found = ok(call(server, "POST", f"{API}/experiments/search",
                    {"filter": f"name = '{name}'", "view_type": view, "max_results": 10}))
    return found.get("experiments", [])


def test_duplicate_experiment_name(mltf_server):
    name = uniq("dup")
    first = create_experiment(mltf_server, name)
    before = get_experiment(mltf_server, first)
    assert_error(call(mltf_server, "POST", f"{API}/experiments/create", {"name": name}), 400,
                 "RESOURCE_ALREADY_EXISTS")
    same = _experiments_named(mltf_server, name)
    assert [e["experiment_id"] for e in same] == [first], same
    assert get_experiment(mltf_server, first) == before


def test_duplicate_name_of_deleted_experiment(mltf_server):
    name = uniq("dupdel")
    first = create_experiment(mltf_server, name)
    ok(call(mltf_server, "POST", f"{API}/experiments/delete", {"experiment_id": first}))
    assert_error(call(mltf_server, "POST", f"{API}/experiments/create", {"name": name}), 400,
                 "RESOURCE_ALREADY_EXISTS")
    assert [e["experiment_id"] for e in _experiments_named(mltf_server, name)] == [first]


def test_rename_experiment_to_existing_name(mltf_server):
    a_name, b_name = uniq("ren-a"), uniq("ren-b")
    a, b = create_experiment(mltf_server, a_name), create_experiment(mltf_server, b_name)
    b_before = get_experiment(mltf_server, b)
    resp = call(mltf_server, "POST", f"{API}/experiments/update",
                {"experiment_id": b, "new_name": a_name})
    assert_error(resp, 400, {"RESOURCE_ALREADY_EXISTS", "INVALID_PARAMETER_VALUE"})
    assert get_experiment(mltf_server, b) == b_before
    assert get_experiment(mltf_server, a)["name"] == a_name


def test_duplicate_registered_model_name(mltf_server):
    name = uniq("dupmodel")
    ok(call(mltf_server, "POST", f"{API}/registered-models/create",
            {"name": name, "description": "first"}))
    assert_error(call(mltf_server, "POST", f"{API}/registered-models/create",
                      {"name": name, "description": "second"}), 400, "RESOURCE_ALREADY_EXISTS")
    model = ok(call(mltf_server, "GET", f"{API}/registered-models/get",
                    params={"name": name}))["registered_model"]
    assert model.get("description") == "first"


# --------------------------------------------------------------------------------------------
# log-batch limits and value limits
# --------------------------------------------------------------------------------------------

def _metrics(n: int, key: str = "m") -> list:
    return [{"key": f"{key}{i % 10}", "value": float(i), "timestamp": 1000 + i, "step": i}
            for i in range(n)]


@pytest.mark.parametrize("make", [
    lambda: {"metrics": _metrics(1001)},
    lambda: {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
    lambda: {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
    lambda: {"metrics": _metrics(1000), "params": [{"key": "p", "value": "v"}]},
    lambda: {"metrics": _metrics(950), "params": [{"key": f"p{i}", "value": "v"}
                                                  for i in range(51)]},
], ids=["1001-metrics", "101-params", "101-tags", "1000-metrics+1-param",
        "950-metrics+51-params"])
def test_log_batch_over_limits_changes_nothing(mltf_server, run_id, make):
    keys = [f"m{i}" for i in range(10)]
    before = run_snapshot(mltf_server, run_id, keys)
    body = dict(make(), run_id=run_id)
    assert_error(call(mltf_server, "POST", f"{API}/runs/log-batch", body), 400,
                 "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id, keys) == before


def test_log_batch_over_one_megabyte_is_accepted(mltf_server, run_id):
    # Every entry is within its own limits (100 params of 6000 chars, 100 tags of 5000 chars) but
    # the body is ~1.1 MB. MLflow 2.9.2 accepts it: its 1 MB check
    # (`_validate_batch_log_api_req(_get_request_json())`) measures len() of the parsed dict,
    # i.e. the number of top-level keys, so it never fires. The body limit must not be 1 MB.
    body = {"run_id": run_id,
            "params": [{"key": f"p{i}", "value": "v" * 6000} for i in range(100)],
            "tags": [{"key": f"t{i}", "value": "w" * 5000} for i in range(100)]}
    assert len(json.dumps(body)) > 1048576
    ok(call(mltf_server, "POST", f"{API}/runs/log-batch", body))
    data = get_run(mltf_server, run_id)["data"]
    assert len(data["params"]) == 100 and {"key": "p7", "value": "v" * 6000} in data["params"]
    assert {"key": "t9", "value": "w" * 5000} in data["tags"]


def test_log_batch_exactly_at_limits_is_accepted(mltf_server, run_id):
    ok(call(mltf_server, "POST", f"{API}/runs/log-batch",
            {"run_id": run_id, "metrics": _metrics(900),
             "params": [{"key": f"p{i}", "value": "v"} for i in range(100)]}))
    data = get_run(mltf_server, run_id)["data"]
    assert len(data["params"]) == 100 and len(data["metrics"]) == 10
    assert len(history(mltf_server, run_id, "m3")) == 90


def test_log_batch_duplicate_param_keys_in_one_request(mltf_server, run_id):
    before = run_snapshot(mltf_server, run_id)
    assert_error(call(mltf_server, "POST", f"{API}/runs/log-batch",
                      {"run_id": run_id, "params": [{"key": "p", "value": "1"},
                                                    {"key": "p", "value": "2"}]}),
                 400, "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id) == before


@pytest.mark.parametrize("endpoint,body", [
    ("runs/log-parameter", lambda r: {"run_id": r, "key": "p", "value": "x" * 6001}),
    ("runs/set-tag", lambda r: {"run_id": r, "key": "t", "value": "x" * 5001}),
    ("runs/log-metric", lambda r: {"run_id": r, "key": "k" * 251, "value": 1.0,
                                   "timestamp": 1, "step": 0}),
    ("runs/log-parameter", lambda r: {"run_id": r, "key": "k" * 251, "value": "v"}),
    ("runs/log-batch", lambda r: {"run_id": r, "params": [{"key": "p", "value": "x" * 6001}]}),
], ids=["param-6001", "tag-5001", "metric-key-251", "param-key-251", "batch-param-6001"])
def test_value_and_key_length_limits(mltf_server, run_id, endpoint, body):
    before = run_snapshot(mltf_server, run_id)
    assert_error(call(mltf_server, "POST", f"{API}/{endpoint}", body(run_id)), 400,
                 "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id) == before


def test_oversized_log_batch_body(fresh_mltf_server):
    """100 MB to log-batch: a 4xx (MLflow: 400, the param value is over 6000 chars; MLTF may stop
    reading early at its body limit), the error is JSON, and the server lives on."""
    server = fresh_mltf_server
    exp = create_experiment(server)
    run = create_run(server, exp)
    before = run_snapshot(server, run)
    size = 100 * 1024 * 1024
    head = ('{"run_id": "' + run + '", "params": [{"key": "big", "value": "').encode()
    tail = b'"}]}'
    filler = size - len(head) - len(tail)
    status_line = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall((f"POST {API}/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {size}\r\n"
                      f"Connection: close\r\n\r\n").encode())
        chunk = b"x" * (1 << 20)
        try:
            sock.sendall(head)
            sent = 0
            while sent < filler:
                n = min(len(chunk), filler - sent)
                sock.sendall(chunk[:n])
                sent += n
            sock.sendall(tail)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the server may answer and close (or stop reading) before the end
        answer = b""
        try:
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        except (ConnectionResetError, socket.timeout):
            pass
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1."), \
        f"no HTTP answer to a 100 MB log-batch (got {answer[:200]!r})"
    status = int(status_line.split()[1])
    assert 400 <= status < 500, f"expected a 4xx for a 100 MB log-batch, got {status_line!r}"
    head_end = answer.find(b"\r\n\r\n")
    headers = answer[:head_end].decode("latin-1").lower()
    body = answer[head_end + 4:]
    assert "content-type: application/json" in headers, f"error is not JSON: {answer[:400]!r}"
    if "transfer-encoding: chunked" not in headers:
        payload = json.loads(body)
        assert set(payload) == {"error_code", "message"}, payload
    # The server still answers, and nothing was stored.
    assert requests.get(server.url + "/health", timeout=10).status_code == 200
    assert run_snapshot(server, run) == before
    create_experiment(server)


# --------------------------------------------------------------------------------------------
# param immutability and deleted runs
# --------------------------------------------------------------------------------------------

def test_changing_a_logged_param(mltf_server, run_id):
    ok(call(mltf_server, "POST", f"{API}/runs/log-parameter",
            {"run_id": run_id, "key": "lr", "value": "0.1"}))
    before = run_snapshot(mltf_server, run_id)
    assert_error(call(mltf_server, "POST", f"{API}/runs/log-parameter",
                      {"run_id": run_id, "key": "lr", "value": "0.2"}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(call(mltf_server, "POST", f"{API}/runs/log-batch",
                      {"run_id": run_id, "params": [{"key": "lr", "value": "0.3"}],
                       "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]}),
                 400, "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id) == before
    assert {"key": "lr", "value": "0.1"} in get_run(mltf_server, run_id)["data"]["params"]
    # Re-logging the same value stays allowed.
    ok(call(mltf_server, "POST", f"{API}/runs/log-parameter",
            {"run_id": run_id, "key": "lr", "value": "0.1"}))


@pytest.mark.parametrize("endpoint,make", [
    ("runs/log-metric", lambda r: {"run_id": r, "key": "m", "value": 1.0, "timestamp": 1,
                                   "step": 0}),
    ("runs/log-parameter", lambda r: {"run_id": r, "key": "p", "value": "v"}),
    ("runs/set-tag", lambda r: {"run_id": r, "key": "t", "value": "v"}),
    ("runs/log-batch", lambda r: {"run_id": r, "metrics": [{"key": "m", "value": 1.0,
                                                            "timestamp": 1, "step": 0}]}),
])
def test_logging_to_a_deleted_run(mltf_server, run_id, endpoint, make):
    ok(call(mltf_server, "POST", f"{API}/runs/delete", {"run_id": run_id}))
    before = run_snapshot(mltf_server, run_id, ["m"])
    assert before["run"]["info"]["lifecycle_stage"] == "deleted"
    assert_error(call(mltf_server, "POST", f"{API}/{endpoint}", make(run_id)), 400,
                 "INVALID_PARAMETER_VALUE")
    assert run_snapshot(mltf_server, run_id, ["m"]) == before


def test_create_run_in_deleted_experiment(mltf_server, exp_id):
    ok(call(mltf_server, "POST", f"{API}/experiments/delete", {"experiment_id": exp_id}))
    assert_error(call(mltf_server, "POST", f"{API}/runs/create",
                      {"experiment_id": exp_id, "start_time": now_ms()}), 400,
                 "INVALID_PARAMETER_VALUE")
    found = ok(call(mltf_server, "POST", f"{API}/runs/search",
                    {"experiment_ids": [exp_id], "run_view_type": "ALL"}))
    assert "runs" not in found


# --------------------------------------------------------------------------------------------
# search filters, order_by and page tokens
# --------------------------------------------------------------------------------------------

BAD_RUN_FILTERS = [
    "metrics.x >",
    "foo.bar = 1",
    "params.p > 1",
    "params.p = 1",
    "metrics.x > 'abc'",
    "tags.t = unquoted",
    "attributes.nonexistent = 'x'",
    "metrics.x > 1 OR metrics.y < 2",
    "metrics.x > 1 AND",
    "(metrics.x > 1)",
]


@pytest.mark.parametrize("flt", BAD_RUN_FILTERS)
def test_bad_run_search_filter(mltf_server, exp_id, flt):
    assert_error(call(mltf_server, "POST", f"{API}/runs/search",
                      {"experiment_ids": [exp_id], "filter": flt}), 400,
                 "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("order_by", ["metrics.x SIDEWAYS", "foo.bar ASC", "attributes.nope"])
def test_bad_run_search_order_by(mltf_server, exp_id, order_by):
    assert_error(call(mltf_server, "POST", f"{API}/runs/search",
                      {"experiment_ids": [exp_id], "order_by": [order_by]}), 400,
                 "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("flt", ["name > 5", "foo.bar = 'x'", "name = unquoted"])
def test_bad_experiment_search_filter(mltf_server, flt):
    assert_error(call(mltf_server, "POST", f"{API}/experiments/search", {"filter": flt}), 400,
                 "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("flt", ["foo = 'x'", "name > 'x'", "name = "])
def test_bad_registered_model_search_filter(mltf_server, flt):
    assert_error(call(mltf_server, "GET", f"{API}/registered-models/search",
                      params={"filter": flt}), 400, "INVALID_PARAMETER_VALUE")


BAD_TOKENS = [
    "%%%not-base64%%%",
    base64.b64encode(b"hello, not json").decode(),
    base64.b64encode(b'{"no_offset": 1}').decode(),
]


@pytest.mark.parametrize("endpoint", ["runs/search", "experiments/search",
                                      "registered-models/search", "model-versions/search"])
@pytest.mark.parametrize("token", BAD_TOKENS, ids=["not-base64", "not-json", "no-offset"])
def test_bad_page_token(mltf_server, exp_id, endpoint, token):
    if endpoint == "runs/search":
        resp = call(mltf_server, "POST", f"{API}/{endpoint}",
                    {"experiment_ids": [exp_id], "page_token": token})
    elif endpoint == "experiments/search":
        resp = call(mltf_server, "POST", f"{API}/{endpoint}", {"max_results": 2,
                                                               "page_token": token})
    else:
        resp = call(mltf_server, "GET", f"{API}/{endpoint}",
                    params={"max_results": 2, "page_token": token})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


# --------------------------------------------------------------------------------------------
# artifact paths
# --------------------------------------------------------------------------------------------

def _escaped_files(tmp_path: Path, name: str) -> list:
    """Where a traversal could have written `name`: anywhere under pytest's base temp dir (which
    holds the server's data dir), next to it, in /tmp or at /."""
    found = [str(p) for p in tmp_path.parent.rglob(name)]
    found += [str(p) for p in (tmp_path.parent.parent / name, Path("/tmp") / name,
                               Path("/") / name) if p.exists()]
    return found


@pytest.mark.parametrize("suffix", [
    "../../../../../{marker}",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/{marker}",
    "%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2F{marker}",
    "..%2f..%2f..%2f..%2f..%2f{marker}",
    "sub/../../../../../../{marker}",
], ids=["raw-dotdot", "pct-dotdot", "pct-dotdot-and-slash", "dotdot-pct-slash", "inner-dotdot"])
def test_artifact_upload_path_traversal(fresh_mltf_server, tmp_path, suffix):
    server = fresh_mltf_server
    exp = create_experiment(server)
    run = create_run(server, exp)
    marker = f"escape-{uuid.uuid4().hex}.txt"
    target = f"{ARTIFACTS}/{exp}/{run}/artifacts/" + suffix.format(marker=marker)
    resp = raw_request(server, "PUT", target, b"pwned",
                       {"Content-Type": "text/plain"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", f"PUT {target}")
    assert _escaped_files(tmp_path, marker) == [], "the traversal wrote a file"
    listing = ok(call(server, "GET", ARTIFACTS, params={"path": f"{exp}/{run}/artifacts"}))
    assert listing == {}, listing


@pytest.mark.parametrize("target", [
    "{art}/{exp}/{run}/artifacts/../../../../../../../../etc/passwd",
    "{art}/{exp}/{run}/artifacts/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "{art}?path=..%2F..%2F..%2F..%2Fetc",
    "{art}?path=%2Fetc",
    "{art}?path={exp}%2F{run}%2Fartifacts%2F..%2F..%2F..%2F..",
], ids=["get-raw-dotdot", "get-pct-dotdot", "list-dotdot", "list-absolute",
        "list-dotdot-below-run"])
def test_artifact_read_path_traversal(mltf_server, exp_id, run_id, target):
    url = target.format(art=ARTIFACTS, exp=exp_id, run=run_id)
    status, headers, body = raw_request(mltf_server, "GET", url)
    assert b"root:" not in body, f"GET {url} served /etc/passwd"
    assert_error((status, headers, body), 400, "INVALID_PARAMETER_VALUE", f"GET {url}")


def test_artifact_absolute_download_path(mltf_server):
    # MLflow's validate_path_is_safe rejects absolute paths (400). A server that instead reads the
    # path relative to its artifact root and finds nothing (404) is also safe; serving the file
    # is not.
    url = f"{ARTIFACTS}/%2Fetc%2Fpasswd"
    status, headers, body = raw_request(mltf_server, "GET", url)
    assert b"root:" not in body, f"GET {url} served /etc/passwd"
    if status == 404:
        assert_error((status, headers, body), 404, "RESOURCE_DOES_NOT_EXIST", f"GET {url}")
    else:
        assert_error((status, headers, body), 400, "INVALID_PARAMETER_VALUE", f"GET {url}")


def test_artifact_absolute_upload_path(fresh_mltf_server, tmp_path):
    server = fresh_mltf_server
    marker = f"abs-{uuid.uuid4().hex}.txt"
    dest = tmp_path / marker
    target = f"{ARTIFACTS}/" + str(dest).replace("/", "%2F")
    resp = raw_request(server, "PUT", target, b"pwned", {"Content-Type": "text/plain"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", f"PUT {target}")
    assert not dest.exists()
    assert _escaped_files(tmp_path, marker) == []


# --------------------------------------------------------------------------------------------
# unknown endpoints and methods
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", f"{API}/no-such-endpoint"),
    ("POST", f"{API}/runs/no-such-thing"),
    ("GET", f"{API}/experiments/get/extra"),
    ("GET", "/api/2.0/mlflow"),
    ("GET", "/api/9.9/mlflow/experiments/get?experiment_id=0"),
    ("DELETE", "/api/2.0/mlflow-artifacts/no-such"),
])
def test_unknown_endpoint(mltf_server, method, path):
    resp = call(mltf_server, method, path, body={} if method != "GET" else None)
    assert_error(resp, 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize("method,path", [
    ("GET", f"{API}/runs/create"),
    ("DELETE", f"{API}/experiments/create"),
    ("PUT", f"{API}/runs/log-batch"),
])
def test_wrong_method_is_a_json_error(mltf_server, method, path):
    # MLflow (Flask) answers 405 with an HTML page; MLTF must answer JSON (404 or 405).
    resp = call(mltf_server, method, path, body={} if method != "GET" else None)
    assert resp.status_code in (404, 405), f"{method} {path}: {resp.status_code} {resp.text!r}"
    assert_error(resp, resp.status_code,
                 {"ENDPOINT_NOT_FOUND", "BAD_REQUEST", "INVALID_PARAMETER_VALUE"}
                 if resp.status_code == 405 else "ENDPOINT_NOT_FOUND")


def test_server_still_healthy_after_bad_input(mltf_server):
    assert requests.get(mltf_server.url + "/health", timeout=10).status_code == 200
    create_run(mltf_server, create_experiment(mltf_server))

"""conformance.py - replay recorded MLflow 2.9.2 client/server exchanges against a live server.

The traces in ../shared/conformance/mlflow-2.9.2/ (see its README.md) hold every HTTP request the
real MLflow 2.9.2 client sent to a real MLflow 2.9.2 server for one scenario, and the answer.
`replay_trace(base_url, path)` sends the same requests, in `seq` order, to our server and
compares each answer *structurally* with the recorded one:

* status code and the main type of Content-Type must match; the server must not compress;
* JSON: the same key set at every level (so omitted fields stay omitted), the same value types
  (int64 as JSON integers, doubles as numbers, "NaN" as a string), the same enum spellings;
* values that must be equal (names, keys, param/tag/metric values, statuses, lifecycle stages,
  steps, user ids, client-sent timestamps, versions) are compared for equality after id mapping;
* values that legitimately differ are matched by pattern and consistency: experiment ids
  (decimal strings), run ids (32 lowercase hex), server-side timestamps (integers), generated
  run names (word-word-N), page tokens (present/absent only);
* list order is compared where the API defines one (search results, pagination, artifact
  listings, which MLflow sorts by path); `tags`, `params` and `run.data.metrics` are compared
  as multisets keyed by `key` (MLflow's SQL store returns them in no guaranteed order, as
  `dataset.log_input_and_read_back` shows: the input tags come back in another order than sent),
  metric history as a multiset (README), `aliases`, `latest_versions` and `dataset_inputs` as
  multisets;
* error bodies: status and `error_code`; `message` only has to be a string.

Id mapping. Ids the recorded server generated (experiment ids, run ids, generated run names,
page tokens, model versions) differ from ours. The replayer learns `recorded -> live` by walking
each recorded response and the live one in parallel, and rewrites later requests with it: whole
values of `experiment_id(s)`, `page_token` and `version` fields/query parameters, every known
recorded run id anywhere inside a string (paths, query values, filters, model `source` URIs,
`model_json`, MLmodel text), and experiment ids where they are embedded next to a run id
(`<exp>/<run>/artifacts/...`, also `%2F`-encoded in `path=` queries) or after
`mlflow-artifacts:/`. Recorded responses are rewritten the same way before comparison, so an
`artifact_uri` must be exactly `mlflow-artifacts:/<our exp>/<our run>/artifacts`.

Bodies the recorder shortened (README "Large JSON is shortened"):
* truncated request lists are regenerated from the pattern of the kept items and checked
  against the recorded wire size (`json.dumps` of the rebuilt body must have exactly the
  recorded byte count), see REQUEST_LIST_REBUILDERS;
* truncated strings (a 6000-char param, a 5000-char tag) are extended periodically from the
  kept 1500 chars, in requests and in responses, size-checked the same way;
* truncated response lists are rebuilt from what the trace sent (metric history of a run/key,
  the latest value per key, the params of a run); if that is not possible only the kept items
  and the total count are compared;
* binary uploads (only size, sha256 and the first 16 bytes are recorded) are regenerated:
  `bytes(i % 256)` when that reproduces the recorded sha256 (d.bin), otherwise deterministic
  pseudo-random bytes of the recorded size starting with the recorded head; downloads are
  checked for size and for the sha256 of what we uploaded.

Standalone use:  python3 conformance.py http://127.0.0.1:5000 [trace.json ...]
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TRACE_DIR = REPO_ROOT.parent / "shared" / "conformance" / "mlflow-2.9.2"

RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
EXP_ID_RE = re.compile(r"^[0-9]+$")
GENERATED_NAME_RE = re.compile(r"^[a-z]+-[a-z]+-[0-9]+$")
LIST_MARK_RE = re.compile(r"^\.\.\.<([0-9]+) more items truncated by recorder>$")
STR_MARK_RE = re.compile(r"^(.*)\.\.\.<([0-9]+) more chars truncated by recorder>$", re.S)

# One pass over a string: `mlflow-artifacts:/<exp>`, `<exp>/<run>` (also %2F), or a bare run id.
ID_TOKEN_RE = re.compile(
    r"(?P<root>mlflow-artifacts:/+|mlflow-artifacts%3[Aa](?:%2[Ff])+)(?P<rootexp>[0-9]+)(?![0-9])"
    r"|(?<![0-9A-Za-z])(?P<exp>[0-9]+)(?P<sep>/|%2[Ff])(?P<run>[0-9a-f]{32})(?![0-9a-f])"
    r"|(?<![0-9a-f])(?P<hex>[0-9a-f]{32})(?![0-9a-f])"
)
ARTIFACT_URI_RE = re.compile(r"^mlflow-artifacts:/+([0-9]+)(?:/([0-9a-f]{32}))?")

EXP_ID_KEYS = {"experiment_id", "experiment_ids"}
RUN_ID_KEYS = {"run_id", "run_uuid"}
SERVER_TIME_KEYS = {"creation_time", "last_update_time", "creation_timestamp",
                    "last_updated_timestamp"}
CLIENT_TIME_KEYS = {"start_time", "end_time", "timestamp"}
KEYED_LIST_KEYS = {"tags", "params", "metrics"}      # multisets of {"key", "value", ...}
UNORDERED_LIST_KEYS = {"aliases", "latest_versions", "dataset_inputs"}

ARTIFACT_PREFIX = "/api/2.0/mlflow-artifacts/artifacts/"
MAX_DIFFS_PER_EXCHANGE = 12


class HarnessError(Exception):
    """The trace cannot be replayed (e.g. a truncated body we do not know how to rebuild)."""


# --------------------------------------------------------------------------------------------
# Trace loading and reconstruction of shortened bodies
# --------------------------------------------------------------------------------------------

def list_traces(trace_dir: Optional[Path] = None) -> List[Path]:
    trace_dir = Path(os.environ.get("MLTF_CONFORMANCE_DIR", trace_dir or DEFAULT_TRACE_DIR))
    return sorted(p for p in trace_dir.glob("*.json"))


def extend_periodic(prefix: str, more: int) -> str:
    """Continue `prefix` by `more` characters, repeating its smallest period."""
    n = len(prefix)
    period = n
    for p in range(1, n // 2 + 1):
        if all(prefix[i] == prefix[i - p] for i in range(p, n)):
            period = p
            break
    if period == n:
        raise HarnessError(f"cannot extend a truncated string without a period: {prefix[:40]!r}")
    out = list(prefix)
    for i in range(n, n + more):
        out.append(out[i - period])
    return "".join(out)


def untruncate_strings(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: untruncate_strings(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [untruncate_strings(v) for v in obj]
    if isinstance(obj, str):
        m = STR_MARK_RE.match(obj)
        if m:
            return extend_periodic(m.group(1), int(m.group(2)))
    return obj


def _is_list_marker(x: Any) -> Optional[int]:
    if isinstance(x, str):
        m = LIST_MARK_RE.match(x)
        if m:
            return int(m.group(1))
    return None


def _extrapolate_value(values: List[Any], n: int) -> List[Any]:
    """Generic: constant, arithmetic int/float, or '<text><arithmetic int>'."""
    if all(v == values[0] for v in values):
        return [values[0]] * n
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        d = values[1] - values[0]
        if all(values[i + 1] - values[i] == d for i in range(len(values) - 1)):
            return [values[0] + d * i for i in range(n)]
    if all(isinstance(v, float) for v in values):
        d = values[1] - values[0]
        if all(values[i + 1] - values[i] == d for i in range(len(values) - 1)):
            return [values[0] + d * i for i in range(n)]
    if all(isinstance(v, str) for v in values):
        parts = [re.match(r"^(.*?)([0-9]+)$", v) for v in values]
        if all(parts) and all(p.group(1) == parts[0].group(1) for p in parts):
            nums = [int(p.group(2)) for p in parts]
            d = nums[1] - nums[0]
            if all(nums[i + 1] - nums[i] == d for i in range(len(nums) - 1)):
                return [f"{parts[0].group(1)}{nums[0] + d * i}" for i in range(n)]
    raise HarnessError(f"no generic pattern for truncated values {values!r}")


def extrapolate_items(kept: List[dict], n: int) -> List[dict]:
    keys = list(kept[0].keys())
    cols = {k: _extrapolate_value([it[k] for it in kept], n) for k in keys}
    return [{k: cols[k][i] for k in keys} for i in range(n)]


def _rebuild_history_many_steps(field_name: str, kept: List[dict], n: int) -> List[dict]:
    # metric.history_many_steps: 1500 points of sin(step/10) logged out of order, odd steps in
    # one log-batch and even steps in the other; timestamp = t0 + step.
    first = kept[0]
    t0 = first["timestamp"] - first["step"]
    steps = [first["step"] + 2 * i for i in range(n)]
    return [{"key": first["key"], "value": math.sin(s / 10), "timestamp": t0 + s, "step": s}
            for s in steps]


def _rebuild_1000_metrics(field_name: str, kept: List[dict], n: int) -> List[dict]:
    # batch.1000_metrics_single_request: item i = key k{i%50}, value i, step i//50 (50 keys x 20
    # steps; runs/get reports 50 metrics, get-history of k7 has 20 points with values 7+50*s).
    ts = kept[0]["timestamp"]
    return [{"key": f"k{i % 50}", "value": float(i), "timestamp": ts, "step": i // 50}
            for i in range(n)]


# (scenario, field name) -> rebuilder(field, kept, total); anything else uses extrapolate_items
# (which covers batch.client_splits_large_batches: metrics "big" with value = step, params p<i>).
REQUEST_LIST_REBUILDERS: Dict[Tuple[str, str], Callable[[str, List[dict], int], List[dict]]] = {
    ("metric.history_many_steps", "metrics"): _rebuild_history_many_steps,
    ("batch.1000_metrics_single_request", "metrics"): _rebuild_1000_metrics,
}


def rebuild_request_json(scenario: str, seq: int, body: dict, size: int) -> dict:
    """Undo the recorder's shortening of a request body; verify the rebuilt wire size."""
    changed = False

    def fix(obj: Any, key: Optional[str]) -> Any:
        nonlocal changed
        if isinstance(obj, dict):
            return {k: fix(v, k) for k, v in obj.items()}
        if isinstance(obj, list):
            if obj and _is_list_marker(obj[-1]) is not None:
                changed = True
                kept = obj[:-1]
                total = len(kept) + _is_list_marker(obj[-1])
                rebuilder = REQUEST_LIST_REBUILDERS.get((scenario, key or ""))
                items = (rebuilder or (lambda f, k, t: extrapolate_items(k, t)))(key, kept, total)
                if items[: len(kept)] != kept:
                    raise HarnessError(f"{scenario} seq {seq}: rebuilt '{key}' does not start "
                                       f"with the recorded items")
                return items
            return [fix(v, key) for v in obj]
        if isinstance(obj, str) and STR_MARK_RE.match(obj):
            changed = True
            return untruncate_strings(obj)
        return obj

    out = fix(body, None)
    if changed:
        wire = len(json.dumps(out).encode())
        if wire != size:
            raise HarnessError(f"{scenario} seq {seq}: rebuilt request body is {wire} bytes, "
                               f"recorded {size}")
    return out


_binary_cache: Dict[Tuple[int, str], Tuple[bytes, bool]] = {}


def regenerate_binary(size: int, sha256: str, head_hex: str) -> Tuple[bytes, bool]:
    """Deterministic content of `size` bytes; True if it reproduces the recorded sha256."""
    key = (size, sha256)
    if key in _binary_cache:
        return _binary_cache[key]
    counting = (bytes(range(256)) * (size // 256 + 1))[:size]
    if hashlib.sha256(counting).hexdigest() == sha256:
        result = (counting, True)
    else:
        head = bytes.fromhex(head_hex or "")[:size]
        rest = random.Random(sha256).randbytes(size - len(head))
        result = (head + rest, False)
    _binary_cache[key] = result
    return result


# --------------------------------------------------------------------------------------------
# What the trace sent: metric points and params per recorded run id
# --------------------------------------------------------------------------------------------

class SentData:
    def __init__(self) -> None:
        self.metrics: Dict[str, List[dict]] = collections.defaultdict(list)
        self.params: Dict[str, Dict[str, str]] = collections.defaultdict(dict)
        self.ints: set = set()
        self.strings: set = set()

    def note_request(self, path: str, body: Any) -> None:
        self._collect(body)
        if not isinstance(body, dict):
            return
        run = body.get("run_id") or body.get("run_uuid")
        if path.endswith("/runs/log-metric") and run:
            self.metrics[run].append({k: body[k] for k in ("key", "value", "timestamp", "step")
                                      if k in body})
        elif path.endswith("/runs/log-batch") and run:
            self.metrics[run].extend(body.get("metrics", []))
            for p in body.get("params", []):
                self.params[run][p["key"]] = p["value"]
        elif path.endswith("/runs/log-parameter") and run:
            self.params[run][body["key"]] = body["value"]

    def _collect(self, obj: Any) -> None:
        if isinstance(obj, dict):
            for v in obj.values():
                self._collect(v)
        elif isinstance(obj, list):
            for v in obj:
                self._collect(v)
        elif isinstance(obj, bool):
            pass
        elif isinstance(obj, int):
            self.ints.add(obj)
        elif isinstance(obj, str):
            self.strings.add(obj)

    def history(self, run: str, key: str) -> List[dict]:
        return [dict(m, step=m.get("step", 0)) for m in self.metrics.get(run, [])
                if m["key"] == key]

    def latest(self, run: str) -> List[dict]:
        best: Dict[str, dict] = {}

        def rank(m: dict) -> tuple:
            v = m["value"]
            v = float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))
            return (m.get("step", 0), m["timestamp"], v)

        for m in self.metrics.get(run, []):
            m = dict(m, step=m.get("step", 0))
            if m["key"] not in best or rank(m) > rank(best[m["key"]]):
                best[m["key"]] = m
        return list(best.values())


# --------------------------------------------------------------------------------------------
# Id mapping
# --------------------------------------------------------------------------------------------

class IdMap:
    def __init__(self) -> None:
        self.exp: Dict[str, str] = {}
        self.run: Dict[str, str] = {}
        self.token: Dict[str, str] = {}
        self.gen_name: Dict[str, str] = {}
        self.version: Dict[Tuple[str, str], str] = {}

    def sub_str(self, s: str) -> str:
        if s in self.gen_name:
            return self.gen_name[s]

        def repl(m: re.Match) -> str:
            if m.group("root") is not None:
                return m.group("root") + self.exp.get(m.group("rootexp"), m.group("rootexp"))
            if m.group("exp") is not None:
                exp, run = m.group("exp"), m.group("run")
                if run in self.run:
                    return self.exp.get(exp, exp) + m.group("sep") + self.run[run]
                return m.group(0)
            return self.run.get(m.group("hex"), m.group("hex"))

        return ID_TOKEN_RE.sub(repl, s)

    def sub_value(self, value: str, key: Optional[str], parent: Any = None) -> str:
        if key in EXP_ID_KEYS:
            return self.exp.get(value, value)
        if key in ("page_token", "next_page_token"):
            return self.token.get(value, value)
        if key == "version" and isinstance(parent, dict) and isinstance(parent.get("name"), str):
            return self.version.get((parent["name"], value), value)
        return self.sub_str(value)

    def sub_json(self, obj: Any, key: Optional[str] = None, parent: Any = None) -> Any:
        if isinstance(obj, dict):
            return {k: self.sub_json(v, k, obj) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.sub_json(v, key, parent) for v in obj]
        if isinstance(obj, str):
            return self.sub_value(obj, key, parent)
        return obj

    def sub_query(self, pairs: List[List[str]]) -> str:
        names = {k: v for k, v in pairs}
        out = []
        for k, v in pairs:
            if k == "version" and "name" in names:
                v = self.version.get((names["name"], v), v)
            else:
                v = self.sub_value(v, k)
            out.append((k, v))
        return urlencode(out)


# --------------------------------------------------------------------------------------------
# Structural comparison
# --------------------------------------------------------------------------------------------

@dataclass
class Diff:
    path: str
    message: str


def _short(x: Any, limit: int = 160) -> str:
    s = json.dumps(x, ensure_ascii=False) if not isinstance(x, bytes) else repr(x)
    return s if len(s) <= limit else s[:limit] + f"...({len(s)} chars)"


def _type_name(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "list"
    if isinstance(x, dict):
        return "object"
    return type(x).__name__


class Comparator:
    """Compares one recorded JSON response with the live one (pure: learns nothing)."""

    def __init__(self, ids: IdMap, sent: SentData, context: dict) -> None:
        self.ids = ids
        self.sent = sent
        self.context = context    # recorded request query pairs and recorded response root

    # ---- learning (done before comparing) ----
    def learn(self, rec: Any, live: Any, key: Optional[str] = None, path: str = "$") -> None:
        if isinstance(rec, dict) and isinstance(live, dict):
            if (isinstance(rec.get("name"), str) and isinstance(rec.get("version"), str)
                    and isinstance(live.get("version"), str)):
                self.ids.version.setdefault((rec["name"], rec["version"]), live["version"])
            for k, v in rec.items():
                if k in live:
                    self.learn(v, live[k], k, f"{path}.{k}")
        elif isinstance(rec, list) and isinstance(live, list):
            if self.list_mode(path, key) == "ordered":
                for r, l in zip(rec, live):
                    self.learn(r, l, key, path)
            elif key in KEYED_LIST_KEYS:
                live_by_key = {it.get("key"): it for it in live if isinstance(it, dict)}
                for r in rec:
                    if isinstance(r, dict) and r.get("key") in live_by_key:
                        self.learn(r, live_by_key[r["key"]], key, path)
        elif isinstance(rec, str) and isinstance(live, str):
            if key in EXP_ID_KEYS and EXP_ID_RE.match(live):
                self.ids.exp.setdefault(rec, live)
            elif key in RUN_ID_KEYS and RUN_ID_RE.match(live) and RUN_ID_RE.match(rec):
                self.ids.run.setdefault(rec, live)
            elif key == "next_page_token":
                self.ids.token[rec] = live
            elif (key == "run_name" and GENERATED_NAME_RE.match(rec)
                  and rec not in self.sent.strings and GENERATED_NAME_RE.match(live)):
                self.ids.gen_name.setdefault(rec, live)
            elif key in ("artifact_uri", "artifact_location", "source"):
                mr, ml = ARTIFACT_URI_RE.match(rec), ARTIFACT_URI_RE.match(live)
                if mr and ml:
                    self.ids.exp.setdefault(mr.group(1), ml.group(1))
                    if mr.group(2) and ml.group(2):
                        self.ids.run.setdefault(mr.group(2), ml.group(2))

    # ---- list semantics ----
    @staticmethod
    def list_mode(path: str, key: Optional[str]) -> str:
        if key == "metrics" and path == "$.metrics":
            return "history"          # metrics/get-history: a multiset (README)
        if key in KEYED_LIST_KEYS:
            return "keyed"
        if key in UNORDERED_LIST_KEYS:
            return "unordered"
        return "ordered"

    # ---- comparison ----
    def compare(self, rec: Any, live: Any, path: str = "$", key: Optional[str] = None,
                parent: Any = None) -> List[Diff]:
        diffs: List[Diff] = []
        self._cmp(rec, live, path, key, parent, diffs)
        return diffs

    def _cmp(self, rec: Any, live: Any, path: str, key: Optional[str], parent: Any,
             diffs: List[Diff]) -> None:
        if len(diffs) >= MAX_DIFFS_PER_EXCHANGE * 4:
            return
        if isinstance(rec, dict):
            if not isinstance(live, dict):
                diffs.append(Diff(path, f"expected an object, live has {_type_name(live)} "
                                        f"{_short(live)}"))
                return
            missing = [k for k in rec if k not in live]
            extra = [k for k in live if k not in rec]
            if missing:
                diffs.append(Diff(path, f"live is missing key(s) {missing} "
                                        f"(recorded {_short({k: rec[k] for k in missing})})"))
            if extra:
                diffs.append(Diff(path, f"live has unexpected key(s) {extra} (recorded omits "
                                        f"them; live {_short({k: live[k] for k in extra})})"))
            is_error = "error_code" in rec
            for k, v in rec.items():
                if k not in live:
                    continue
                if is_error and k == "message":
                    if not isinstance(live[k], str):
                        diffs.append(Diff(f"{path}.message", "error message is not a string"))
                    continue
                self._cmp(v, live[k], f"{path}.{k}", k, rec, diffs)
            return
        if isinstance(rec, list):
            if not isinstance(live, list):
                diffs.append(Diff(path, f"expected a list, live has {_type_name(live)} "
                                        f"{_short(live)}"))
                return
            self._cmp_list(rec, live, path, key, diffs)
            return
        if isinstance(rec, bool) or rec is None:
            if live is not rec and not (isinstance(live, bool) and live == rec):
                diffs.append(Diff(path, f"recorded {_short(rec)} vs live {_short(live)}"))
            return
        if isinstance(rec, int):
            if not isinstance(live, int) or isinstance(live, bool):
                diffs.append(Diff(path, f"expected an integer (int64 as a JSON number), live "
                                        f"has {_type_name(live)} {_short(live)}"))
                return
            if key in SERVER_TIME_KEYS:
                return
            if key in CLIENT_TIME_KEYS and rec not in self.sent.ints:
                return
            if rec != live:
                diffs.append(Diff(path, f"recorded {rec} vs live {live}"))
            return
        if isinstance(rec, float):
            if not isinstance(live, (int, float)) or isinstance(live, bool):
                diffs.append(Diff(path, f"expected a number, live has {_type_name(live)} "
                                        f"{_short(live)}"))
                return
            if float(live) != rec:
                diffs.append(Diff(path, f"recorded {rec!r} vs live {live!r}"))
            return
        if isinstance(rec, str):
            if not isinstance(live, str):
                diffs.append(Diff(path, f"expected a string, live has {_type_name(live)} "
                                        f"{_short(live)}"))
                return
            self._cmp_str(rec, live, path, key, parent, diffs)
            return
        diffs.append(Diff(path, f"unsupported recorded value {rec!r}"))

    def _cmp_str(self, rec: str, live: str, path: str, key: Optional[str], parent: Any,
                 diffs: List[Diff]) -> None:
        if key in EXP_ID_KEYS:
            if not EXP_ID_RE.match(live):
                diffs.append(Diff(path, f"experiment id must be a decimal string, live {live!r}"))
            elif rec in self.ids.exp and self.ids.exp[rec] != live:
                diffs.append(Diff(path, f"experiment id: recorded {rec!r} maps to live "
                                        f"{self.ids.exp[rec]!r}, live has {live!r}"))
            return
        if key in RUN_ID_KEYS and RUN_ID_RE.match(rec):
            if not RUN_ID_RE.match(live):
                diffs.append(Diff(path, f"run id must be 32 lowercase hex, live {live!r}"))
            elif rec in self.ids.run and self.ids.run[rec] != live:
                diffs.append(Diff(path, f"run id: recorded {rec!r} maps to live "
                                        f"{self.ids.run[rec]!r}, live has {live!r}"))
            return
        if key == "version":
            # Versions of a fresh registered model are "1", "2", ... on any server: compare them
            # literally (the version map only keeps later requests going after a mismatch).
            if rec != live:
                diffs.append(Diff(path, f"recorded version {rec!r} vs live {live!r}"))
            return
        if key == "next_page_token":
            if not live:
                diffs.append(Diff(path, "next_page_token is empty"))
            return
        if (GENERATED_NAME_RE.match(rec) and rec not in self.sent.strings
                and rec not in self.ids.gen_name):
            if not GENERATED_NAME_RE.match(live):
                diffs.append(Diff(path, f"generated run name must look like word-word-N, "
                                        f"live {live!r}"))
            return
        expected = self.ids.sub_value(rec, key, parent)
        if expected != live:
            if len(expected) > 200 or len(live) > 200:
                i = next((i for i, (a, b) in enumerate(zip(expected, live)) if a != b),
                         min(len(expected), len(live)))
                diffs.append(Diff(path, f"strings differ at char {i} (recorded length "
                                        f"{len(expected)}, live length {len(live)}): recorded "
                                        f"...{expected[max(0, i - 20):i + 40]!r} vs live "
                                        f"...{live[max(0, i - 20):i + 40]!r}"))
            elif expected != rec:
                diffs.append(Diff(path, f"recorded {rec!r} (= {expected!r} with our ids) vs "
                                        f"live {live!r}"))
            else:
                diffs.append(Diff(path, f"recorded {rec!r} vs live {live!r}"))

    # -- lists --
    def _identity(self, item: Any) -> Any:
        """A short human label for an item of an ordered list."""
        if isinstance(item, dict):
            if "info" in item and isinstance(item["info"], dict):
                return item["info"].get("run_name")
            for k in ("name", "path", "key", "alias"):
                if k in item:
                    extra = item.get("version") if k == "name" and "version" in item else None
                    return f"{item[k]}#v{extra}" if extra is not None else item[k]
            return None
        return item

    def _expand_truncated(self, path: str, key: Optional[str], kept: list,
                          total: int) -> Optional[list]:
        rec_root = self.context.get("rec_json") or {}
        if path == "$.metrics":
            q = dict(self.context.get("query_pairs") or [])
            run = q.get("run_id") or q.get("run_uuid")
            full = self.sent.history(run, q.get("metric_key")) if run else []
        else:
            run = None
            try:
                run = rec_root["run"]["info"]["run_id"]
            except (KeyError, TypeError):
                pass
            if path == "$.run.data.metrics" and run:
                full = self.sent.latest(run)
            elif path == "$.run.data.params" and run:
                full = [{"key": k, "value": v} for k, v in self.sent.params.get(run, {}).items()]
            else:
                return None
        if len(full) != total:
            return None
        canon = collections.Counter(_canon(x) for x in full)
        for it in kept:
            if canon[_canon(it)] <= 0:
                return None
            canon[_canon(it)] -= 1
        return full

    def _cmp_list(self, rec: list, live: list, path: str, key: Optional[str],
                  diffs: List[Diff]) -> None:
        mode = self.list_mode(path, key)
        truncated = None
        if rec and _is_list_marker(rec[-1]) is not None:
            kept = rec[:-1]
            total = len(kept) + _is_list_marker(rec[-1])
            full = self._expand_truncated(path, key, kept, total)
            if full is not None:
                rec = full
            else:
                truncated = (kept, total)
        if truncated is not None:
            kept, total = truncated
            if len(live) != total:
                diffs.append(Diff(path, f"recorded list has {total} items (recorder kept "
                                        f"{len(kept)}), live has {len(live)}"))
            if mode == "ordered":
                for i, (r, l) in enumerate(zip(kept, live)):
                    self._cmp(r, l, f"{path}[{i}]", key, None, diffs)
            else:
                self._cmp_multiset(kept, live, path, key, diffs, subset=True)
            return
        if mode == "ordered":
            rec_ids = [self._identity(x) for x in rec]
            rec_ids = [self.ids.sub_str(x) if isinstance(x, str) else x for x in rec_ids]
            live_ids = [self._identity(x) for x in live]
            if len(rec) != len(live):
                diffs.append(Diff(path, f"recorded {len(rec)} items {_short(rec_ids, 300)} vs "
                                        f"live {len(live)} items {_short(live_ids, 300)}"))
                return
            if (all(isinstance(x, str) for x in rec_ids) and all(isinstance(x, str)
                                                                  for x in live_ids)
                    and sorted(rec_ids) == sorted(live_ids) and rec_ids != live_ids):
                diffs.append(Diff(path, f"order differs: recorded {_short(rec_ids, 300)} vs "
                                        f"live {_short(live_ids, 300)}"))
                return
            for i, (r, l) in enumerate(zip(rec, live)):
                self._cmp(r, l, f"{path}[{i}]", key, None, diffs)
            return
        if len(rec) != len(live) and mode != "keyed":
            diffs.append(Diff(path, f"recorded {len(rec)} items vs live {len(live)}"))
        self._cmp_multiset(rec, live, path, key, diffs, subset=False)

    def _cmp_multiset(self, rec: list, live: list, path: str, key: Optional[str],
                      diffs: List[Diff], subset: bool) -> None:
        mode = self.list_mode(path, key)
        rec_keys = [r.get("key") for r in rec if isinstance(r, dict)]
        if (mode == "keyed" and len(rec_keys) == len(rec) and len(set(rec_keys)) == len(rec)
                and all(isinstance(l, dict) for l in live)):
            live_by_key: Dict[Any, list] = collections.defaultdict(list)
            for l in live:
                live_by_key[l.get("key")].append(l)
            missing = [k for k in rec_keys if k not in live_by_key]
            dup = [k for k, v in live_by_key.items() if len(v) > 1]
            extra = [k for k in live_by_key if k not in set(rec_keys)]
            if missing:
                diffs.append(Diff(path, f"live lacks entries with key {missing[:10]}"
                                        f"{' ...' if len(missing) > 10 else ''}"))
            if extra and not subset:
                diffs.append(Diff(path, f"live has unexpected entries with key {extra[:10]}"
                                        f"{' ...' if len(extra) > 10 else ''}"))
            if dup:
                diffs.append(Diff(path, f"live repeats key(s) {dup[:10]}"))
            for r in rec:
                if r["key"] in live_by_key:
                    self._cmp(r, live_by_key[r["key"]][0], f"{path}[key={r['key']!r}]", key,
                              None, diffs)
            return
        if mode == "history" or (rec and all(isinstance(r, str) for r in rec)):
            want = collections.Counter(_canon(self.ids.sub_json(r)) for r in rec)
            have = collections.Counter(_canon(l) for l in live)
            missing = list((want - have).elements())
            extra = list((have - want).elements())
            if missing:
                diffs.append(Diff(path, f"{len(missing)} recorded item(s) not in live, e.g. "
                                        f"{_short([json.loads(m) for m in missing[:3]], 400)}"))
            if extra and not subset:
                diffs.append(Diff(path, f"{len(extra)} live item(s) not recorded, e.g. "
                                        f"{_short([json.loads(e) for e in extra[:3]], 400)}"))
            return
        # Small unordered lists of objects: greedy structural matching.
        used = [False] * len(live)
        unmatched = []
        for i, r in enumerate(rec):
            found = False
            for j, l in enumerate(live):
                if not used[j] and not self.compare(r, l, f"{path}[{i}]", key):
                    used[j] = True
                    found = True
                    break
            if not found:
                unmatched.append(i)
        for i in unmatched:
            # Report against the most plausible live item (same identity if any).
            ident = self._identity(rec[i])
            cand = [j for j, l in enumerate(live) if not used[j]
                    and self._identity(l) == (self.ids.sub_str(ident)
                                              if isinstance(ident, str) else ident)]
            if cand:
                used[cand[0]] = True
                self._cmp(rec[i], live[cand[0]], f"{path}[~{i}]", key, None, diffs)
            else:
                diffs.append(Diff(f"{path}[~{i}]", f"no live item matches recorded "
                                                   f"{_short(rec[i], 300)}"))
        if not subset:
            extra = [live[j] for j in range(len(live)) if not used[j]]
            if extra:
                diffs.append(Diff(path, f"live has unmatched item(s) {_short(extra, 300)}"))


def _canon(x: Any) -> str:
    def norm(v: Any, k: Optional[str] = None) -> Any:
        if isinstance(v, dict):
            return {kk: norm(vv, kk) for kk, vv in v.items()}
        if isinstance(v, list):
            return [norm(vv) for vv in v]
        if k == "value" and isinstance(v, (int, float)) and not isinstance(v, bool):
            return ["number", float(v)]
        return v
    return json.dumps(norm(x), sort_keys=True)


# --------------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------------

@dataclass
class ExchangeReport:
    seq: int
    method: str
    recorded_url: str
    live_url: str
    diffs: List[Diff] = field(default_factory=list)


@dataclass
class TraceResult:
    trace: str
    exchanges: int = 0
    reports: List[ExchangeReport] = field(default_factory=list)
    fatal: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reports and not self.fatal

    def render(self) -> str:
        lines = [f"conformance trace {self.trace}: "
                 f"{len(self.reports)} of {self.exchanges} exchange(s) differ"]
        for i, r in enumerate(self.reports):
            tag = "FIRST MISMATCH" if i == 0 else "mismatch"
            lines.append(f"  [{tag}] seq {r.seq}: {r.method} {r.recorded_url}")
            if r.live_url != r.recorded_url:
                lines.append(f"      replayed as {r.method} {r.live_url}")
            for d in r.diffs[:MAX_DIFFS_PER_EXCHANGE]:
                lines.append(f"      at {d.path}: {d.message}")
            if len(r.diffs) > MAX_DIFFS_PER_EXCHANGE:
                lines.append(f"      (+{len(r.diffs) - MAX_DIFFS_PER_EXCHANGE} more)")
        if self.fatal:
            lines.append(f"  FATAL: {self.fatal}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


def _main_type(ct: Optional[str]) -> Optional[str]:
    return ct.split(";")[0].strip().lower() if ct else None


def _disposition_filename(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    from urllib.parse import unquote
    m = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", value)
    if m:
        return unquote(m.group(2).strip(), encoding=m.group(1) or "utf-8")
    m = re.search(r'filename\s*=\s*("([^"]*)"|[^;]+)', value)
    if m:
        return m.group(2) if m.group(2) is not None else m.group(1).strip()
    return None


def _header_text(value: Optional[str]) -> Optional[str]:
    """http.client decodes header bytes as latin-1; MLflow sends UTF-8 file names raw."""
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class Replayer:
    def __init__(self, base_url: str, trace_path: Path, timeout: float = 120.0,
                 pace_s: Optional[float] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.trace_path = Path(trace_path)
        self.trace = json.loads(self.trace_path.read_text())
        self.scenario = self.trace.get("scenario", self.trace_path.stem)
        self.ids = IdMap()
        self.sent = SentData()
        self.timeout = timeout
        self.pace_s = (float(os.environ.get("MLTF_E2E_PACE_MS", "2")) / 1000.0
                       if pace_s is None else pace_s)
        self.uploads: Dict[str, Tuple[str, int, bool]] = {}   # live path -> sha, size, exact
        self.session = requests.Session()

    def run(self) -> TraceResult:
        result = TraceResult(trace=self.trace_path.name)
        exchanges = sorted(self.trace["exchanges"], key=lambda e: e["seq"])
        result.exchanges = len(exchanges)
        for ex in exchanges:
            try:
                report = self._replay_one(ex)
            except HarnessError as e:
                result.fatal = f"HARNESS ERROR at seq {ex['seq']}: {e}"
                break
            except requests.RequestException as e:
                result.fatal = (f"seq {ex['seq']} {ex['request']['method']} "
                                f"{ex['request']['raw_path']}: no HTTP answer ({e!r}); "
                                f"did the server die?")
                break
            if report.diffs:
                result.reports.append(report)
        self.session.close()
        return result

    # -- request --
    def _build_request(self, ex: dict) -> Tuple[str, str, dict, Any, Any]:
        rq = ex["request"]
        seq = ex["seq"]
        path = self.ids.sub_str(rq["raw_path"])
        query = self.ids.sub_query(rq.get("query_params") or []) if rq.get("query") else ""
        url = self.base_url + path + (f"?{query}" if query else "")
        headers = {}
        for h in ("user-agent", "accept", "accept-encoding", "content-type"):
            if h in rq["headers"]:
                headers[h] = rq["headers"][h]
        body = rq["body"]
        data: Any = None
        rec_json = None
        if "json" in body:
            rec_json = rebuild_request_json(self.scenario, seq, body["json"], body["size"]) \
                if "truncated" in body or _has_marker(body["json"]) else body["json"]
            live_json = self.ids.sub_json(rec_json)
            if rq["path"].startswith(ARTIFACT_PREFIX):
                # An uploaded file that happened to be JSON: send the exact bytes.
                raw = json.dumps(rec_json).encode()
                if len(raw) != body["size"]:
                    raw = json.dumps(rec_json, separators=(",", ":")).encode()
                data = raw
            else:
                data = json.dumps(live_json).encode()
        elif "text" in body:
            text = body["text"]
            raw = self.ids.sub_str(text).encode()
            if len(text.encode()) < body["size"]:
                raise HarnessError(f"text body of {body['size']} bytes was cut by the recorder")
            data = raw
        elif body.get("binary"):
            data, _ = regenerate_binary(body["size"], body.get("sha256", ""),
                                        body.get("head_hex", ""))
        elif body.get("size", 0) > 0:
            raise HarnessError(f"request body of {body['size']} bytes without content")
        else:
            data = b"" if rq["method"] in ("PUT", "POST", "PATCH") or rq.get("chunked") else None
        if rq["path"].startswith(ARTIFACT_PREFIX) and rq["method"] == "PUT":
            # Remember what we uploaded, to check the download later. `exact`: the bytes are the
            # recorded ones (text/JSON bodies, or a binary we could regenerate bit for bit).
            raw = data or b""
            exact = True
            if body.get("binary"):
                exact = hashlib.sha256(raw).hexdigest() == body.get("sha256")
            self.uploads[path] = (hashlib.sha256(raw).hexdigest(), len(raw), exact)
        if rq.get("chunked"):
            payload = data or b""
            data = iter([payload]) if payload else iter([])
        return rq["method"], url, headers, data, rec_json

    # -- one exchange --
    def _replay_one(self, ex: dict) -> ExchangeReport:
        rq = ex["request"]
        method, url, headers, data, rec_req_json = self._build_request(ex)
        if rec_req_json is not None and not rq["path"].startswith(ARTIFACT_PREFIX):
            self.sent.note_request(rq["path"], rec_req_json)
        rec_url = rq["raw_path"] + (f"?{rq['query']}" if rq.get("query") else "")
        report = ExchangeReport(ex["seq"], method, rec_url, url[len(self.base_url):])
        if self.pace_s:
            time.sleep(self.pace_s)
        resp = self.session.request(method, url, headers=headers, data=data, stream=True,
                                    timeout=self.timeout, allow_redirects=False)
        try:
            raw = resp.raw.read(decode_content=False)
        finally:
            resp.close()
        self._compare(ex, resp, raw, report)
        return report

    def _compare(self, ex: dict, resp: requests.Response, raw: bytes,
                 report: ExchangeReport) -> None:
        rq, rs = ex["request"], ex["response"]
        diffs = report.diffs
        rec_body = rs["body"]
        live_ct = resp.headers.get("content-type")
        rec_ct = rs["headers"].get("content-type")

        def live_excerpt() -> str:
            return raw[:300].decode("utf-8", "replace")

        if resp.status_code != rs["status"]:
            diffs.append(Diff("status", f"recorded {rs['status']} vs live {resp.status_code} "
                                        f"(live body: {live_excerpt()!r})"))
            return
        if rec_ct and _main_type(live_ct) != _main_type(rec_ct):
            diffs.append(Diff("Content-Type", f"recorded {rec_ct!r} vs live {live_ct!r}"))
        if "content-encoding" not in rs["headers"] and resp.headers.get("content-encoding"):
            diffs.append(Diff("Content-Encoding", f"recorded none vs live "
                                                  f"{resp.headers.get('content-encoding')!r}"))
            return
        is_download = (rq["method"] == "GET" and rq["path"].startswith(ARTIFACT_PREFIX)
                       and rs["status"] == 200)
        if is_download:
            self._compare_download(ex, resp, raw, diffs)
            return
        if "json" in rec_body:
            try:
                live_json = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                diffs.append(Diff("body", f"live body is not JSON ({e}): {live_excerpt()!r}"))
                return
            rec_json = untruncate_strings(rec_body["json"])
            qpairs = rq.get("query_params") or []
            cmp = Comparator(self.ids, self.sent, {"query_pairs": qpairs, "rec_json": rec_json})
            cmp.learn(rec_json, live_json)
            diffs.extend(cmp.compare(rec_json, live_json))
            return
        if "text" in rec_body:
            live_text = raw.decode("utf-8", "replace")
            if live_text != rec_body["text"]:
                diffs.append(Diff("body", f"recorded text {_short(rec_body['text'])} vs live "
                                          f"{_short(live_text)}"))
            return
        if rec_body.get("size", 0) != len(raw):
            diffs.append(Diff("body", f"recorded {rec_body.get('size')} bytes vs live "
                                      f"{len(raw)} bytes: {live_excerpt()!r}"))

    def _compare_download(self, ex: dict, resp: requests.Response, raw: bytes,
                          diffs: List[Diff]) -> None:
        rq, rs = ex["request"], ex["response"]
        rec_body = rs["body"]
        if len(raw) != rec_body.get("size", 0):
            diffs.append(Diff("body", f"artifact download: recorded {rec_body.get('size')} "
                                      f"bytes vs live {len(raw)} bytes"))
        live_path = self.ids.sub_str(rq["raw_path"])
        uploaded = self.uploads.get(live_path)
        live_sha = hashlib.sha256(raw).hexdigest()
        if uploaded and uploaded[0] != live_sha:
            diffs.append(Diff("body", f"artifact download: sha256 {live_sha} differs from the "
                                      f"uploaded content's {uploaded[0]}"))
        if rec_body.get("binary") and uploaded and uploaded[2] and live_sha != rec_body["sha256"]:
            diffs.append(Diff("body", f"artifact download: sha256 {live_sha} vs recorded "
                                      f"{rec_body['sha256']}"))
        if "text" in rec_body:
            text = self.ids.sub_str(rec_body["text"])
            live_text = raw.decode("utf-8", "replace")
            cut = len(rec_body["text"].encode()) < rec_body["size"]
            if (live_text != text) if not cut else not live_text.startswith(text):
                diffs.append(Diff("body", f"artifact download: recorded {_short(text)} vs live "
                                          f"{_short(live_text)}"))
        elif "json" in rec_body and not uploaded:
            try:
                if json.loads(raw) != rec_body["json"]:
                    diffs.append(Diff("body", f"artifact download: recorded "
                                              f"{_short(rec_body['json'])} vs live {raw[:200]!r}"))
            except ValueError:
                diffs.append(Diff("body", f"artifact download: not the recorded JSON: "
                                          f"{raw[:200]!r}"))
        rec_cd = rs["headers"].get("content-disposition")
        if rec_cd:
            live_cd = _header_text(resp.headers.get("content-disposition"))
            rec_name, live_name = _disposition_filename(rec_cd), _disposition_filename(live_cd)
            if (live_cd is None or not live_cd.lower().startswith("attachment")
                    or rec_name != live_name):
                diffs.append(Diff("Content-Disposition", f"recorded {rec_cd!r} vs live "
                                                         f"{live_cd!r}"))


def _has_marker(obj: Any) -> bool:
    if isinstance(obj, dict):
        return any(_has_marker(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_marker(v) for v in obj)
    return isinstance(obj, str) and bool(LIST_MARK_RE.match(obj) or STR_MARK_RE.match(obj))


def replay_trace(base_url: str, trace_path: Path, **kwargs: Any) -> TraceResult:
    return Replayer(base_url, trace_path, **kwargs).run()


def main(argv: List[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    base = argv[1]
    paths = [Path(p) for p in argv[2:]] or list_traces()
    failed = 0
    for p in paths:
        r = replay_trace(base, p)
        print(("PASS " if r.ok else "FAIL ") + p.name)
        if not r.ok:
            failed += 1
            print(r.render())
    print(f"{len(paths) - failed}/{len(paths)} traces conform")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

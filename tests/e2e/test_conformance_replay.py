"""test_conformance_replay.py - replay every recorded MLflow 2.9.2 trace against `mltf server`.

One test per file in ../shared/conformance/mlflow-2.9.2/ (or $MLTF_CONFORMANCE_DIR); a new trace
file is picked up automatically. See conformance.py for how ids are mapped and what is compared.
"""

from __future__ import annotations

import pytest

import conformance

TRACES = conformance.list_traces()


def test_trace_directory_is_present():
    assert TRACES, (f"no conformance traces found in {conformance.DEFAULT_TRACE_DIR} "
                    f"(or $MLTF_CONFORMANCE_DIR)")


@pytest.mark.parametrize("trace", TRACES, ids=[p.stem for p in TRACES])
def test_replay(mltf_server, trace):
    result = conformance.replay_trace(mltf_server.url, trace)
    if not result.ok:
        pytest.fail(result.render(), pytrace=False)

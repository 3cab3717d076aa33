"""Ints past 64 bits through every SDK write path, on every store.

JSON libraries, SQLite and PostgreSQL keep at most 64-bit integers: the SDK stores a wider
int as the nearest float at the call site (every store would read it back as one), and
refuses one past the float range there, before anything is queued. A PostgreSQL store used
to drop the whole batch holding such an int, other rows included.
"""

from __future__ import annotations

import pytest

import runlane
from runlane.errors import InvalidValueError
from runlane.store.base import Store

NO_CAPTURE = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}
WIDE = 2**70
HUGE = 10**400


def test_wide_ints_are_kept_as_floats_everywhere(store: Store) -> None:
    run = runlane.init("wide/ints", name="w", store=store, **NO_CAPTURE)
    run.log({"big": WIDE, "ok": 1.0})
    run.log({"big": 2**64 - 1, "ok": 2.0})  # the widest int kept exactly
    run.log({"big": -(2**63) - 1, "ok": 3.0})  # known keys: the fast path checks it too
    run.metrics("side").log(big=-WIDE)
    run.params.set(big=WIDE, nested={"big": [WIDE, 1]})
    run.update_metadata("doc", {"big": WIDE})
    run.tracks("pose").append(big=WIDE, _ts=1.0)
    run.log_event("e", metadata={"big": WIDE})
    run.log_message("m", metadata={"big": WIDE}, echo=False)
    run.finish()

    view = runlane.open(run.id, store=store)
    rows = [r["data"] for r in view.metrics().read(0, 10)["data"]]
    assert [(r["big"], r["ok"]) for r in rows] == [
        (float(WIDE), 1.0),
        (2**64 - 1, 2.0),
        (-float(2**63), 3.0),
    ]
    assert [type(r["big"]) for r in rows] == [float, int, float]
    assert view.metrics("side").read(0, 10)["data"][0]["data"]["big"] == -float(WIDE)
    params = view.params.get()
    assert params["big"] == float(WIDE) and params["nested.big"] == [float(WIDE), 1]
    assert store.read_metadata(run.id)["doc"][0] == {"big": float(WIDE)}
    assert store.read_track(run.id, "pose") == [{"timestamp": 1.0, "big": float(WIDE)}]
    assert [e.metadata for e in store.read_events(run.id) if e.name == "e"] == [{"big": WIDE}]
    assert [r.metadata for r in store.read_logs(run.id) if r.message == "m"] == [{"big": WIDE}]


def test_ints_past_the_float_range_are_refused_at_the_call_site(store: Store) -> None:
    run = runlane.init("wide/ints", name="huge", store=store, **NO_CAPTURE)
    run.log({"ok": 1.0})
    calls = [
        lambda: run.log({"big": HUGE, "ok": 2.0}),
        lambda: run.metrics("side").log(big=-HUGE),
        lambda: run.params.set(big=HUGE),
        lambda: run.update_metadata("doc", {"big": [HUGE]}),
        lambda: run.tracks("pose").append(big=HUGE),
        lambda: run.log_event("e", metadata={"big": HUGE}),
        lambda: run.log_message("m", metadata={"big": HUGE}, echo=False),
    ]
    for call in calls:
        with pytest.raises(InvalidValueError, match=r"big.*401 digits.*fit a float"):
            call()
    run.log({"ok": 3.0})
    run.finish()  # nothing was queued by the refused calls: no write fails
    view = runlane.open(run.id, store=store)
    assert [r["data"]["ok"] for r in view.metrics().read(0, 10)["data"]] == [1.0, 3.0]
    assert view.params.get() == {}

"""The measured side of ``bench/core.py``: one workload, one implementation, one process.

Run as ``python bench/workloads.py NAME IMPL PARAMS_JSON`` (``core.py`` does this; it is not
meant to be run by hand). ``IMPL`` is ``runlane`` or ``raw`` (the raw limit: orjson lines and a
file, no tracker). The process prints one JSON line on stdout as its last line::

    {"value": <the workload's headline number>, "extra": {<secondary numbers>}}

and exits 0, or exits non-zero with a traceback on stderr. Only ``sys``, ``os`` and ``time``
(all loaded by the interpreter at start) are imported at module level, so that measurements
that include ``import runlane`` are not flattered by modules this file loaded first.

Every workload times itself with ``time.perf_counter`` and checks what it measured (row counts,
values read back) so that a broken tracker fails loudly instead of producing a fast number.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

perf = time.perf_counter
wall = time.time

CAPTURES_OFF: dict[str, Any] = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}


class BenchError(RuntimeError):
    """A workload read back something other than what it wrote."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


def _fsync_close(fh: Any) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()


# --- W1: one field per call ------------------------------------------------------------------
def w1_runlane(p: dict[str, Any]) -> dict[str, Any]:
    import runlane

    n = int(p["n"])
    run = runlane.init(project="bench/w1", name="w1", **CAPTURES_OFF)
    log = run.log
    start = perf()
    for i in range(n):
        log({"loss": 1.0 / (i + 1)}, step=i)
    looped = perf()
    run.finish()
    end = perf()
    return {
        "value": (end - start) / n * 1e6,
        "extra": {
            "loop_us_per_call": (looped - start) / n * 1e6,
            "finish_ms": (end - looped) * 1e3,
            "run_id": run.id,
            "run_path": run.path,
        },
    }


def w1_raw(p: dict[str, Any]) -> dict[str, Any]:
    import orjson

    n = int(p["n"])
    path = p["out"]
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    start = perf()
    fh = open(path, "ab")  # noqa: SIM115 - closed by _fsync_close, inside the timed region
    write = fh.write
    for i in range(n):
        write(dumps({"step": i, "loss": 1.0 / (i + 1), "ts": wall()}, option=newline))
    _fsync_close(fh)
    end = perf()
    return {"value": (end - start) / n * 1e6, "extra": {"path": path}}


# --- W2: ten fields per call -----------------------------------------------------------------
def _row10(x: float) -> dict[str, float]:
    return {
        "loss": x,
        "acc": 1.0 - x,
        "lr": 0.001,
        "grad_norm": x * 3.0,
        "val_loss": x * 1.1,
        "val_acc": 0.9 - x,
        "epoch": 1.0,
        "tokens": 4096.0,
        "ppl": 1.0 + x,
        "mem": 0.5,
    }


def w2_runlane(p: dict[str, Any]) -> dict[str, Any]:
    import runlane

    n = int(p["n"])
    run = runlane.init(project="bench/w2", name="w2", **CAPTURES_OFF)
    log = run.log
    row10 = _row10
    start = perf()
    for i in range(n):
        log(row10(1.0 / (i + 1)), step=i)
    run.finish()
    end = perf()
    return {"value": n * 10 / (end - start), "extra": {"seconds": end - start}}


def w2_raw(p: dict[str, Any]) -> dict[str, Any]:
    import orjson

    n = int(p["n"])
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    row10 = _row10
    start = perf()
    fh = open(p["out"], "ab")  # noqa: SIM115 - closed by _fsync_close, inside the timed region
    write = fh.write
    for i in range(n):
        row = row10(1.0 / (i + 1))
        row["step"] = i
        row["ts"] = wall()
        write(dumps(row, option=newline))
    _fsync_close(fh)
    end = perf()
    return {"value": n * 10 / (end - start), "extra": {"seconds": end - start}}


# --- W3: a thousand nested params ------------------------------------------------------------
def _nested(n: int) -> dict[str, Any]:
    """``n`` params as 10 groups × 10 subgroups × n/100 keys, with mixed value types."""
    per = max(1, n // 100)
    out: dict[str, Any] = {}
    count = 0
    for g in range(10):
        group: dict[str, Any] = {}
        for s in range(10):
            sub: dict[str, Any] = {}
            for k in range(per):
                kinds = (count * 0.5, count, f"value-{count}", count % 2 == 0)
                sub[f"k{k}"] = kinds[count % 4]
                count += 1
            group[f"s{s}"] = sub
        out[f"g{g}"] = group
    return out


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def w3_runlane(p: dict[str, Any]) -> dict[str, Any]:
    import runlane

    nested = _nested(int(p["n"]))
    expected = _flat(nested)
    run = runlane.init(project="bench/w3", name="w3", **CAPTURES_OFF)
    start = perf()
    run.params.set(**nested)
    got = run.params.get()
    end = perf()
    run.finish()
    _check(got == expected, f"params.get() returned {len(got)} params, expected {len(expected)}")
    return {"value": (end - start) * 1e3, "extra": {"params": len(got)}}


def w3_raw(p: dict[str, Any]) -> dict[str, Any]:
    import orjson

    flat = _flat(_nested(int(p["n"])))
    start = perf()
    with open(p["out"], "wb") as fh:
        fh.write(orjson.dumps(flat))
    end = perf()
    return {"value": (end - start) * 1e3, "extra": {"params": len(flat)}}


# --- W4: read the W1 series back -------------------------------------------------------------
def w4_runlane(p: dict[str, Any]) -> dict[str, Any]:
    t0 = perf()
    import runlane

    ta = perf()
    open_run = runlane.open  # the SDK loads lazily: this is where ``import runlane`` completes
    t1 = perf()
    steps, values, times = open_run(p["run_id"]).metrics().arrays("loss")
    t2 = perf()
    again = open_run(p["run_id"]).metrics().arrays("loss")
    t3 = perf()
    n = int(p["n"])
    _check(len(values) == n, f"arrays('loss') returned {len(values)} points, expected {n}")
    _check(len(steps) == n and len(times) == n, "arrays('loss') returned ragged arrays")
    _check(float(values[-1]) == 1.0 / n, f"last loss {values[-1]!r} != {1.0 / n!r}")
    _check(len(again[1]) == n, "second read returned a different length")
    return {
        "value": (t2 - t1) * 1e3,
        "extra": {
            "with_import_ms": (t2 - t0) * 1e3,
            "import_ms": (t1 - t0) * 1e3,
            "read_with_sdk_load_ms": (t2 - ta) * 1e3,
            "second_read_ms": (t3 - t2) * 1e3,
            "points": len(values),
        },
    }


def w4_raw(p: dict[str, Any]) -> dict[str, Any]:
    n = int(p["n"])
    column = p["column"]
    if not os.path.exists(column):  # untimed setup, without numpy: the W1 losses as float64
        from array import array

        with open(column, "wb") as fh:
            array("d", [1.0 / (i + 1) for i in range(n)]).tofile(fh)
    t0 = perf()
    import numpy as np

    t1 = perf()
    values = np.fromfile(column, dtype=np.float64)
    t2 = perf()
    import orjson

    t3 = perf()
    with open(p["jsonl"], "rb") as fh:
        records = [orjson.loads(line) for line in fh.read().splitlines()]
    steps = np.fromiter((r["step"] for r in records), dtype=np.float64, count=len(records))
    losses = np.fromiter((r["loss"] for r in records), dtype=np.float64, count=len(records))
    stamps = np.fromiter((r["ts"] for r in records), dtype=np.float64, count=len(records))
    t4 = perf()
    _check(len(values) == n and len(losses) == n, f"raw read {len(values)}/{len(losses)} != {n}")
    _check(len(steps) == n and len(stamps) == n, "raw JSONL read returned ragged arrays")
    return {
        "value": (t2 - t1) * 1e3,
        "extra": {
            "with_import_ms": (t2 - t0) * 1e3,
            "jsonl_parse_ms": (t4 - t3) * 1e3,
            "points": len(values),
        },
    }


WORKLOADS = {
    ("W1", "runlane"): w1_runlane,
    ("W1", "raw"): w1_raw,
    ("W2", "runlane"): w2_runlane,
    ("W2", "raw"): w2_raw,
    ("W3", "runlane"): w3_runlane,
    ("W3", "raw"): w3_raw,
    ("W4", "runlane"): w4_runlane,
    ("W4", "raw"): w4_raw,
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or (argv[0], argv[1]) not in WORKLOADS:
        names = ", ".join(f"{w} {i}" for w, i in WORKLOADS)
        print(
            f"usage: workloads.py NAME IMPL PARAMS_JSON with NAME IMPL one of: {names}",
            file=sys.stderr,
        )
        return 2
    import json

    params = json.loads(argv[2])
    result = WORKLOADS[(argv[0], argv[1])](params)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

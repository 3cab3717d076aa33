"""The runs table and the lineage graph at 10,000 runs, on a local folder and on PostgreSQL.

    python bench/runs_scale.py [--runs 10000] [--repeat 7] [--stores local,postgres]
                               [--only keys,count] [--data DIR] [--fresh] [--json out.json]

What it measures, through the REST API in this process (``TestClient`` over ``create_app``, so
the numbers are server time plus an in-process HTTP round trip, no socket):

* ``count``: ``GET /runs?total=1&limit=50&where=params.lr = 0.01`` — a page plus the number of
  matching runs (a third of the project), what the runs table asks for first.
* ``group``: ``GET /runs/groups?by=params.lr`` over the whole project.
* ``group tags``: ``GET /runs/groups?by=tags``.
* ``projects``: ``GET /projects``.
* ``keys``: ``GET /runs/keys`` (the newest 200 runs' params, meta and metric keys: the runs
  listed, then their params and streams in one bulk read each).
* ``columns``: ``GET /runs?limit=100&column=...`` — a page of the runs table showing two
  params, a meta key and a metric's minimum (params and streams of the page in one bulk read
  each, then one column read per run).
* ``lineage``: ``GET /runs/{id}/lineage/graph`` of a run in the middle of the project.

Data: project ``bench/scale`` holds ``--runs`` runs, each with three params, a tag, a 3-row
``loss`` stream and two lineage records (it reads ``s3://lake/shard-<i % 50>``, it writes
``s3://lake/model-<i>``; every 10th run also reads the previous run's model, so the graph has
chains); project ``bench/other`` holds 10 more. The local data is cached in ``--data``
(default ``$TMPDIR/runlane-bench-scale``) and the PostgreSQL database ``bench_scale_<runs>``
is kept between runs (``--fresh`` rebuilds both). PostgreSQL comes from ``scripts/services``
(via ``tests/support/services.py``). One untimed warm-up, then ``--repeat`` timed rounds;
the table shows medians (and min/max) in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

PROJECT = "bench/scale"
API = "/api/v1"
DATA_VERSION = 1


def fill(store: Any, runs: int) -> str:
    """Write the bench projects into ``store``; return the id of the run the lineage is read
    from (the middle one)."""
    from runlane.entities import Batch, LineageRecord, ParamsUpdate, RunPatch, RunSpec

    middle = ""
    started = time.perf_counter()
    for project, count in (("scale", runs), ("other", 10)):
        for i in range(count):
            info, _ = store.create_run(RunSpec(owner="bench", project=project, name=f"r{i:05d}"))
            at = time.time()
            inputs = [f"s3://lake/shard-{i % 50}"] + ([f"s3://lake/model-{i - 1}"] * (i % 10 == 0))
            lineage = [
                LineageRecord(f"in-{k}", "dataset", p, True, at=at) for k, p in enumerate(inputs)
            ]
            lineage.append(LineageRecord("model", "model", f"s3://lake/model-{i}", False, at=at))
            store.write(
                info.id,
                Batch(
                    params=[
                        ParamsUpdate(
                            {"lr": (0.1, 0.01, 0.001)[i % 3], "bs": 32 << (i % 4), "seed": i}, at=at
                        )
                    ],
                    rows={
                        "default": [
                            {"loss": 1.0 / (k + 1), "_step": k, "_ts": at + k} for k in range(3)
                        ]
                    },
                    lineage=lineage if project == "scale" else [],
                    patches=[
                        RunPatch(tags=("even" if i % 2 == 0 else "odd",), status="succeeded", at=at)
                    ],
                ),
            )
            if project == "scale" and i == runs // 2:
                middle = info.id
            if i and i % 2000 == 0:
                print(f"  {i} runs written ({time.perf_counter() - started:.0f} s)", flush=True)
    return middle


@contextmanager
def local_store(root: Path, runs: int, fresh: bool) -> Iterator[tuple[Any, str]]:
    import shutil

    from runlane.store.local import LocalStore

    marker = root / "bench-scale.json"
    if fresh and root.exists():
        shutil.rmtree(root)
    made = json.loads(marker.read_text()) if marker.exists() else {}
    if made.get("version") != DATA_VERSION or made.get("runs") != runs:
        if root.exists() and any(root.iterdir()):
            shutil.rmtree(root)
        store = LocalStore(root)
        started = time.perf_counter()
        middle = fill(store, runs)
        print(f"local data made in {time.perf_counter() - started:.0f} s", flush=True)
        marker.write_text(json.dumps({"version": DATA_VERSION, "runs": runs, "middle": middle}))
        store.close()
        made = json.loads(marker.read_text())
    store = LocalStore(root)
    try:
        yield store, str(made["middle"])
    finally:
        store.close()


@contextmanager
def postgres_store(runs: int, fresh: bool) -> Iterator[tuple[Any, str]]:
    import psycopg

    from runlane.store.server import ServerStore
    from support.services import services

    base = services()
    name = f"bench_scale_{runs}_v{DATA_VERSION}"
    dsn = base.dsn_for(name)
    with psycopg.connect(base.dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
    store = ServerStore(dsn)
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM runs WHERE owner = 'bench' AND project = 'scale'"
            ).fetchone()
        if row is None or int(row[0]) != runs:
            if row is not None and int(row[0]):
                raise SystemExit(f"database {name} is incomplete: rerun with --fresh")
            started = time.perf_counter()
            fill(store, runs)
            print(f"postgres data made in {time.perf_counter() - started:.0f} s", flush=True)
        middle = store.list_runs(project=PROJECT, where=f"name = 'r{runs // 2:05d}'")[0].id
        yield store, middle
    finally:
        store.close()


def requests(middle: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "count": (
            "/runs",
            {"project": PROJECT, "where": "params.lr = 0.01", "total": 1, "limit": 50},
        ),
        "group": ("/runs/groups", {"project": PROJECT, "by": "params.lr"}),
        "group tags": ("/runs/groups", {"project": PROJECT, "by": "tags"}),
        "projects": ("/projects", {}),
        "keys": ("/runs/keys", {"project": PROJECT}),
        "columns": (
            "/runs",
            {
                "project": PROJECT,
                "limit": 100,
                "column": ["params.lr", "params.bs", "meta.note", "metrics.loss:min"],
            },
        ),
        "lineage": (f"/runs/{middle}/lineage/graph", {}),
    }


def measure(
    store: Any, middle: str, repeat: int, runs: int, only: list[str]
) -> dict[str, dict[str, float]]:
    from starlette.testclient import TestClient

    from runlane.server.app import create_app

    client = TestClient(create_app(store))
    out: dict[str, dict[str, float]] = {}
    for label, (path, params) in requests(middle).items():
        if label not in only:
            continue
        times: list[float] = []
        for round_ in range(repeat + 1):
            started = time.perf_counter()
            answer = client.get(API + path, params=params)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise SystemExit(f"{label}: HTTP {answer.status_code} {answer.text[:300]}")
            if round_:
                times.append(elapsed)
            else:
                check(label, answer.json(), runs)
        out[label] = {
            "median_ms": statistics.median(times),
            "min_ms": min(times),
            "max_ms": max(times),
        }
    return out


def check(label: str, body: dict[str, Any], runs: int) -> None:
    """The answers must be right, or the timings mean nothing."""
    expect: dict[str, Callable[[dict[str, Any]], bool]] = {
        "count": lambda b: b["total"] == len(range(1, runs, 3)),
        "group": lambda b: (
            b["total"] == runs
            and [g["count"] for g in b["groups"]]
            == [len(range(2, runs, 3)), len(range(1, runs, 3)), len(range(0, runs, 3))]
        ),
        "group tags": lambda b: [g["count"] for g in b["groups"]] == [(runs + 1) // 2, runs // 2],
        "projects": lambda b: [p["runs"] for p in b["projects"]] == [10, runs],
        "keys": lambda b: b["params"] == ["bs", "lr", "seed"] and b["metrics"] == ["loss"],
        "columns": lambda b: (
            len(b["runs"]) == 100
            and all(
                {"params.lr", "params.bs", "metrics.loss:min"} <= set(r["values"])
                for r in b["runs"]
            )
        ),
        "lineage": lambda b: len(b["nodes"]) > 3,
    }
    if not expect[label](body):
        raise SystemExit(f"{label}: unexpected answer {json.dumps(body)[:400]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--stores", default="local,postgres")
    parser.add_argument(
        "--only", default=",".join(requests("x")), help="comma-separated measurements to take"
    )
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "runlane-bench-scale"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached data")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    only = [label for label in args.only.split(",") if label]
    unknown = sorted(set(only) - set(requests("x")))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}; known: {', '.join(requests('x'))}")
    results: dict[str, Any] = {
        "runs": args.runs,
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "stores": {},
    }
    for kind in args.stores.split(","):
        opener = (
            local_store(args.data / str(args.runs), args.runs, args.fresh)
            if kind == "local"
            else postgres_store(args.runs, args.fresh)
        )
        with opener as (store, middle):
            results["stores"][kind] = measure(store, middle, args.repeat, args.runs, only)
    print(f"\n{args.runs} runs, median of {args.repeat} (min–max), ms")
    print(f"{'':12}" + "".join(f"{k:>24}" for k in results["stores"]))
    for label in only:
        cells = [
            f"{r[label]['median_ms']:8.1f} ({r[label]['min_ms']:.0f}–{r[label]['max_ms']:.0f})"
            for r in results["stores"].values()
        ]
        print(f"{label:12}" + "".join(f"{c:>24}" for c in cells))
    out = args.json or HERE / "results" / f"runs-scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the artifact mirror (:mod:`runlane.store.server.mirror`) adds to one artifact commit and
one read of a ServerStore whose project already holds ``--records`` artifact records.

    python bench/mirror_cost.py [--records 1000] [--ops 50] [--json out.json]

PostgreSQL and SeaweedFS come from ``scripts/services start``. In this process, two
ServerStores on one fresh database and bucket prefix play two replicas (each its own cache
folder), each with the server's :class:`~runlane.server.artifacts_service.ArtifactService`
(no HTTP: the numbers are the server's own time). Replica A seeds the project: ``--records``
value records (``log_text``-like: an event row and a manifest line each) over ``--runs``
runs (default ``records / 4``: the project's folder then holds two files per run).

Measured, median (and p90) milliseconds over ``--ops`` operations, the two sides of each A/B
interleaved:

* **commit**: ``ArtifactService.commit`` of one value record — with the mirror (advisory lock,
  pull, a listing of the project's folder, one or two rows pushed, commit) and with the mirror
  bypassed (the artifact code alone on the same cache folder, database and lineage writes);
* **read**: ``ArtifactService.records(run)`` when nothing changed — with the pull (one
  indexed query) and without;
* **read after the other replica committed**: replica B commits one record, then A reads:
  the pull fetches and writes the changed files (the run's manifest and event file);
* **empty write block, full listing**: ``mirror.write(project)`` around nothing, without
  ``within`` (lock + pull + a listing of the whole project folder + commit): what a ModelBox
  gRPC write or a flush pays on top of its work (commits list only the run's folder,
  ``.artifacts`` and ``.models``);
* **pull, nothing changed**: ``mirror.pull(project)`` alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from server import database, services  # noqa: E402

PROJECT = ("bench", "mirror")


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 3),
    }


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--ops", type=int, default=50)
    parser.add_argument("--runs", type=int, default=None, help="runs (default: records / 4)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from runlane.entities import RunSpec
    from runlane.server.artifacts_service import ArtifactService
    from runlane.store.server import ServerStore
    from runlane.store.server.objects import S3Location, S3Objects

    env = services()
    location = S3Location.parse(
        f"s3://{env['RUNLANE_TEST_S3_BUCKET']}/mirror-bench-{time.time_ns()}",
        endpoint=env["RUNLANE_TEST_S3_ENDPOINT"],
        access_key=env["RUNLANE_TEST_S3_ACCESS_KEY"],
        secret_key=env["RUNLANE_TEST_S3_SECRET_KEY"],
    )
    owner, project = PROJECT
    scope = f"{owner}/{project}"
    with (
        database(env["RUNLANE_TEST_POSTGRES_DSN"], "mirror_bench") as dsn,
        tempfile.TemporaryDirectory(prefix="runlane-mirror-bench-") as tmp,
    ):
        stores = [
            ServerStore(dsn, objects=S3Objects(location), files_root=Path(tmp) / name)
            for name in ("a", "b")
        ]
        a, b = (ArtifactService(s) for s in stores)
        try:
            runs = [
                stores[0].create_run(RunSpec(owner=owner, project=project, name=f"r{i}"))[0].id
                for i in range(args.runs or max(1, args.records // 4))
            ]
            step = 0

            def value(service: ArtifactService, run_id: str) -> None:
                nonlocal step
                step += 1
                spec = {"name": "note", "kind": "text", "step": step, "value": f"v{step}"}
                service.commit(run_id, "value", spec)

            seeded = time.perf_counter()
            for i in range(args.records):
                value(a, runs[i % len(runs)])
            seed_s = time.perf_counter() - seeded
            b.records(runs[0])  # B's first use of the project (pulls it whole)
            files = sum(1 for p in stores[0].root.joinpath(scope).rglob("*") if p.is_file())

            bypass = {"on": False}

            def plain(service: ArtifactService) -> Any:
                """``writing`` and the read hook, or nothing when bypassed."""
                original = service.writing

                def writing(o: str, p: str, run_id: str | None = None) -> Any:
                    return contextlib.nullcontext() if bypass["on"] else original(o, p, run_id)

                return writing

            a.writing = plain(a)  # type: ignore[method-assign]
            touch = stores[0].touch_artifacts

            def hooked(o: str, p: str) -> None:
                if not bypass["on"]:
                    touch(o, p)

            stores[0].touch_artifacts = hooked  # type: ignore[method-assign]

            target = runs[-1]
            results: dict[str, Any] = {"records": args.records, "files": files, "ops": args.ops}
            results["seed_s"] = round(seed_s, 2)
            pairs: dict[str, tuple[list[float], list[float]]] = {
                "commit": ([], []),
                "read": ([], []),
            }
            for i in range(args.ops):
                order = (True, False) if i % 2 else (False, True)
                for mirrored in order:
                    bypass["on"] = not mirrored
                    side = 0 if mirrored else 1
                    pairs["commit"][side].append(_timed(lambda: value(a, target)))
                    pairs["read"][side].append(_timed(lambda: a.records(target)))
                bypass["on"] = False
            for name, (with_mirror, without) in pairs.items():
                results[name] = {
                    "with_mirror": _stats(with_mirror),
                    "mirror_bypassed": _stats(without),
                    "added_median_ms": round(
                        (statistics.median(with_mirror) - statistics.median(without)) * 1000, 3
                    ),
                }
            after: list[float] = []
            for _ in range(args.ops):
                value(b, target)
                after.append(_timed(lambda: a.records(target)))
            results["read_after_other_replica_committed"] = _stats(after)
            empty: list[float] = []
            for _ in range(args.ops):

                def block() -> None:
                    with stores[0].mirror.write(scope):
                        pass

                empty.append(_timed(block))
            results["empty_write_block_full_listing"] = _stats(empty)
            pulls = [_timed(lambda: stores[0].mirror.pull(scope)) for _ in range(args.ops)]
            results["pull_nothing_changed"] = _stats(pulls)
        finally:
            for store in stores:
                store.close()
    print(json.dumps(results, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

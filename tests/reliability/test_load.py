"""Load: 50 concurrent clients logging for RUNLANE_LOAD_SECONDS (60 by default) against one
``runlane server`` process on loopback over PostgreSQL.

Clients: 5 worker processes × 10 threads. Each client is its own
:class:`~runlane.store.remote.RemoteStore` — the SDK's HTTP store, with its batch ids,
retries and spool — with one run, sending batches of ROWS rows × 4 numeric fields to one
stream as fast as the server answers. A call is one ``RemoteStore.write`` (one POST); its
wall time on the client is the latency. Afterwards every run is read back through the server:
the stream holds exactly the rows sent, field ``i`` is ``0..n-1`` in index order (nothing
lost, nothing doubled, nothing reordered) and the checksum of ``loss`` matches.

Run as a script (``python test_load.py worker URL START SECONDS THREADS TAG``) it is one
worker process; it prints one JSON line per client.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

LOAD_SECONDS = float(os.environ.get("RUNLANE_LOAD_SECONDS", "60"))
PROCESSES = 5
THREADS = 10  # per process: 50 clients
ROWS = 50  # rows per batch; 4 values per row


def loss_of(i: int) -> float:
    return 1.0 / (1.0 + i)


# --- one worker process -----------------------------------------------------------------------
def client(url: str, start: float, seconds: float, tag: str, out: list[dict[str, Any]]) -> None:
    from runlane.entities import Batch, RunSpec
    from runlane.store.remote import RemoteStore

    spool = Path(os.environ.get("RUNLANE_DIR", "/tmp")) / "spool" / tag
    store = RemoteStore(url, spool_dir=spool, timeout=60.0)
    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    run_id = ""
    try:
        info, _ = store.create_run(RunSpec(owner="load", project="clients", name=tag))
        run_id = info.id
        time.sleep(max(0.0, start - time.time()))
        deadline = start + seconds
        while time.time() < deadline:
            rows = [
                {"i": sent + k, "loss": loss_of(sent + k), "acc": 0.5, "lr": 1e-3}
                for k in range(ROWS)
            ]
            began = time.perf_counter()
            try:
                store.write(run_id, Batch(rows={"train": rows}))
            except Exception as exc:  # counted, and the rows are not counted as sent
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            latencies.append(time.perf_counter() - began)
            sent += ROWS
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        spooled = store.spool.pending() if run_id else 0
        store.close()
    out.append(
        {
            "run_id": run_id,
            "tag": tag,
            "rows": sent,
            "latencies": latencies,
            "errors": errors,
            "spooled": spooled,
        }
    )


def worker_main(url: str, start: float, seconds: float, threads: int, tag: str) -> None:
    out: list[dict[str, Any]] = []
    workers = [
        threading.Thread(target=client, args=(url, start, seconds, f"{tag}-{n}", out))
        for n in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    for item in out:
        print(json.dumps(item), flush=True)


# --- the test -----------------------------------------------------------------------------------
def test_fifty_clients_for_a_minute(tmp_path: Path) -> None:
    from runlane.store.remote import RemoteStore
    from support.servers import ServerProcess, free_port
    from support.services import drop_database, fresh_database, services

    services()
    dsn = fresh_database("load")
    env = {**os.environ, "RUNLANE_CAPTURE": "none", "RUNLANE_DIR": str(tmp_path / "data")}
    server = ServerProcess(
        ["--store", dsn, "--files", str(tmp_path / "files")],
        free_port(),
        env,
        tmp_path / "server.log",
    )
    server.start()
    try:
        start = time.time() + 5.0  # every worker imports, connects and creates its run first
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "worker",
                    server.url,
                    repr(start),
                    repr(LOAD_SECONDS),
                    str(THREADS),
                    f"p{p}",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=True,
            )
            for p in range(PROCESSES)
        ]
        results: list[dict[str, Any]] = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=LOAD_SECONDS + 120)
            assert proc.returncode == 0, stderr[-2000:]
            results.extend(json.loads(line) for line in stdout.splitlines() if line.strip())
        elapsed = time.time() - start
        reader = RemoteStore(server.url, spool_dir=tmp_path / "reader-spool")
        lost = doubled = 0
        for item in results:
            assert item["run_id"], item["errors"]
            columns = reader.read_columns(item["run_id"], "train", ["i", "loss"])
            got = columns["i"]
            want = np.arange(item["rows"], dtype=np.float64)
            lost += max(0, item["rows"] - len(got))
            doubled += max(0, len(got) - item["rows"])
            assert np.array_equal(got, want), (item["tag"], len(got), item["rows"])
            checksum = math.fsum(loss_of(i) for i in range(item["rows"]))
            assert math.isclose(math.fsum(columns["loss"]), checksum, rel_tol=1e-12)
        reader.close()
    finally:
        server.stop()
        drop_database(dsn)
    latencies = np.array([x for item in results for x in item["latencies"]]) * 1000.0
    errors = [e for item in results for e in item["errors"]]
    rows = sum(item["rows"] for item in results)
    report = {
        "clients": len(results),
        "seconds": LOAD_SECONDS,
        "calls": int(latencies.size),
        "rows": rows,
        "values": rows * 4,
        "values_per_s": round(rows * 4 / LOAD_SECONDS),
        "rows_per_s": round(rows / LOAD_SECONDS),
        "calls_per_s": round(latencies.size / LOAD_SECONDS, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies.size else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 1) if latencies.size else None,
        "max_ms": round(float(latencies.max()), 1) if latencies.size else None,
        "errors": len(errors),
        "spooled": sum(item["spooled"] for item in results),
        "lost": lost,
        "doubled": doubled,
        "wall_s": round(elapsed, 1),
    }
    print("load:", json.dumps(report))
    target = os.environ.get("RUNLANE_LOAD_REPORT")
    if target:
        Path(target).write_text(json.dumps(report, indent=2) + "\n")
    assert len(results) == PROCESSES * THREADS
    assert errors == [], errors[:5]
    assert report["spooled"] == 0 and lost == 0 and doubled == 0
    assert rows > 0 and all(item["rows"] > 0 for item in results)


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "worker":
    worker_main(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6])

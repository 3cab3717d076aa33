"""Per-tool workload adapters for the peer benchmark; runs inside one worker subprocess.

Each adapter does one workload through the tool's public API (where one exists) and returns
the seconds of the timed region. Peers are imported lazily inside each function, so this module
imports nothing heavy and the driver (``run.py``) can import it in any environment.

Timed regions (the same for every tool):
- W1: ``n`` single-scalar log calls with an explicit step, then the tool's finish/close.
- W2: ``n`` log calls of 10 fields each, then finish/close.
- W3: the call(s) that store 1,000 nested params (flattening included where the tool needs it).
- W4: opening the stored run and reading the whole 100,000-point series through the read API
  (``prepare`` writes it beforehand, untimed, in another subprocess).
- W6: ``from X import entry`` in a fresh interpreter (interpreter start-up excluded).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

W2_FIELDS = 10

# The name a user imports to start a run; W6 times this import.
IMPORTS: dict[str, str] = {
    "runlane": "from runlane import init",
    "mldash": "from ml_dash import Experiment",
    "trackio": "import trackio",
    "aim": "from aim import Run",
    "wandb": "import wandb",
    "mlflow-sqlite": "import mlflow",
    "mlflow-batch": "import mlflow",
    "mlflow-file": "import mlflow",
    "raw-orjson": "import orjson",
    "raw-sqlite": "import sqlite3",
    "raw-numpy": "import numpy",
}

# What the W4 read returns, per tool (printed in the doc's caveats).
READ_APIS: dict[str, str] = {
    "runlane": "`runlane.open(id).metrics().arrays('loss')` → numpy (step, value, time)",
    "mldash": "`Experiment(prefix).metrics('loss').read(0, 100000)` → list of row dicts",
    "trackio": "`SQLiteStorage.get_logs(project, run)` (what its dashboard calls; no public "
    "read API) → list of row dicts",
    "aim": "`Run(hash, repo=path).get_metric('loss', Context({})).data.numpy()` (resume mode; "
    "read-only needs the index `aim up` builds) → numpy",
    "wandb": "none offline (the .wandb file is read only by `wandb sync`)",
    "mlflow-sqlite": "`MlflowClient().get_metric_history(run_id, 'loss')` → list of Metric",
    "mlflow-batch": "same store as mlflow-sqlite",
    "mlflow-file": "`MlflowClient().get_metric_history(run_id, 'loss')` → list of Metric",
    "raw-orjson": "`orjson.loads` per line → numpy",
    "raw-sqlite": "`SELECT step, value` → numpy",
    "raw-numpy": "`numpy.fromfile`",
}


def nested_params() -> dict[str, Any]:
    """1,000 leaves, three levels deep (10 × 10 × 10)."""
    return {
        f"group{a}": {
            f"sub{b}": {f"p{c}": a * 100 + b * 10 + c + 0.5 for c in range(10)} for b in range(10)
        }
        for a in range(10)
    }


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _w2_row(i: int) -> dict[str, float]:
    return {f"f{k}": i * 0.001 + k for k in range(W2_FIELDS)}


# ----------------------------------------------------------------------------- runlane


def _runlane_start(root: Path, name: str) -> Any:
    import runlane

    return runlane.init(
        project="bench/peers",
        name=name,
        dir=root,
        capture_git=False,
        capture_env=False,
        capture_stdio=False,
        system_metrics=False,
    )


def runlane_w1(root: Path, n: int) -> float:
    run = _runlane_start(root, "w1")
    t = time.perf_counter()
    for i in range(n):
        run.log({"loss": i * 0.5}, step=i)
    run.finish()
    return time.perf_counter() - t


def runlane_w2(root: Path, n: int) -> float:
    run = _runlane_start(root, "w2")
    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    for i, row in enumerate(rows):
        run.log(row, step=i)
    run.finish()
    return time.perf_counter() - t


def runlane_w3(root: Path) -> float:
    run = _runlane_start(root, "w3")
    params = nested_params()
    t = time.perf_counter()
    run.params.set(params)
    run.flush()
    elapsed = time.perf_counter() - t
    run.finish()
    return elapsed


def runlane_prepare(root: Path, n: int) -> dict[str, Any]:
    run = _runlane_start(root, "w4")
    for i in range(n):
        run.log({"loss": i * 0.5}, step=i)
    run.finish()
    return {"id": run.id}


def runlane_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    from runlane import open as open_run

    t = time.perf_counter()
    _, values, _ = open_run(info["id"], dir=root).metrics().arrays("loss")
    return time.perf_counter() - t, len(values)


# ----------------------------------------------------------------------------- ML-Dash


def _mldash_start(root: Path, name: str) -> Any:
    from ml_dash import Experiment

    exp = Experiment(prefix=f"bench/peers/{name}", dash_root=str(root / ".dash"))
    exp.run.start()
    return exp


def mldash_w1(root: Path, n: int) -> float:
    exp = _mldash_start(root, "w1")
    stream = exp.metrics("loss")
    t = time.perf_counter()
    for i in range(n):
        stream.log(loss=i * 0.5, step=i)
    exp.run.complete()
    return time.perf_counter() - t


def mldash_w2(root: Path, n: int) -> float:
    exp = _mldash_start(root, "w2")
    stream = exp.metrics("train")
    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    for i, row in enumerate(rows):
        stream.log(step=i, **row)
    exp.run.complete()
    return time.perf_counter() - t


def mldash_w3(root: Path) -> float:
    exp = _mldash_start(root, "w3")
    params = nested_params()
    t = time.perf_counter()
    exp.params.set(**params)
    elapsed = time.perf_counter() - t
    exp.run.complete()
    return elapsed


def mldash_prepare(root: Path, n: int) -> dict[str, Any]:
    exp = _mldash_start(root, "w4")
    stream = exp.metrics("loss")
    for i in range(n):
        stream.log(loss=i * 0.5, step=i)
    exp.run.complete()
    return {"prefix": "bench/peers/w4"}


def mldash_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    from ml_dash import Experiment

    t = time.perf_counter()

    exp = Experiment(prefix=info["prefix"], dash_root=str(root / ".dash"))
    exp.run.start()
    rows = exp.metrics("loss").read(start_index=0, limit=10**7)["data"]
    return time.perf_counter() - t, len(rows)


# ----------------------------------------------------------------------------- Trackio


def _trackio_start(name: str, config: dict[str, Any] | None = None) -> Any:
    import trackio

    return trackio.init(
        project="bench-peers",
        name=name,
        config=config,
        embed=False,
        auto_log_cpu=False,
        auto_log_gpu=False,
    )


def trackio_w1(root: Path, n: int) -> float:
    import trackio

    _trackio_start("w1")
    t = time.perf_counter()
    for i in range(n):
        trackio.log({"loss": i * 0.5}, step=i)
    trackio.finish()
    return time.perf_counter() - t


def trackio_w2(root: Path, n: int) -> float:
    import trackio

    _trackio_start("w2")
    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    for i, row in enumerate(rows):
        trackio.log(row, step=i)
    trackio.finish()
    return time.perf_counter() - t


def trackio_w3(root: Path) -> float:
    """Trackio takes params only as ``init(config=...)`` and stores them with the logged rows:
    the timed region is (init with the params + one log + finish) minus the same without the
    params, after one warm-up run."""
    import trackio

    params = nested_params()
    spans: list[float] = []
    for name, config in (("w3-warm", None), ("w3-empty", None), ("w3", params)):
        t = time.perf_counter()
        _trackio_start(name, config)
        trackio.log({"x": 0.0}, step=0)
        trackio.finish()
        spans.append(time.perf_counter() - t)
    return max(spans[2] - spans[1], 0.0)


def trackio_prepare(root: Path, n: int) -> dict[str, Any]:
    import trackio

    _trackio_start("w4")
    for i in range(n):
        trackio.log({"loss": i * 0.5}, step=i)
    trackio.finish()
    return {"project": "bench-peers", "run": "w4"}


def trackio_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    from trackio.sqlite_storage import SQLiteStorage

    t = time.perf_counter()

    rows = SQLiteStorage.get_logs(info["project"], info["run"])
    count = sum(1 for row in rows if "loss" in row)
    return time.perf_counter() - t, count


# ----------------------------------------------------------------------------- Aim


def _aim_start(root: Path) -> Any:
    from aim import Run

    return Run(
        repo=str(root),
        system_tracking_interval=None,
        log_system_params=False,
        capture_terminal_logs=False,
    )


def aim_w1(root: Path, n: int) -> float:
    run = _aim_start(root)
    t = time.perf_counter()
    for i in range(n):
        run.track(i * 0.5, name="loss", step=i)
    run.close()
    return time.perf_counter() - t


def aim_w2(root: Path, n: int) -> float:
    run = _aim_start(root)
    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    for i, row in enumerate(rows):
        run.track(row, step=i)
    run.close()
    return time.perf_counter() - t


def aim_w3(root: Path) -> float:
    run = _aim_start(root)
    params = nested_params()
    t = time.perf_counter()
    run["hparams"] = params
    elapsed = time.perf_counter() - t
    run.close()
    return elapsed


def aim_prepare(root: Path, n: int) -> dict[str, Any]:
    run = _aim_start(root)
    for i in range(n):
        run.track(i * 0.5, name="loss", step=i)
    run_hash = run.hash
    run.close()
    return {"hash": run_hash}


def aim_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    """Aim's read-only open finds a run only after its repository index is built (by
    ``aim up``'s indexer), so the run is opened in resume mode, as Aim's own docs show."""
    from aim import Run
    from aim.storage.context import Context

    t = time.perf_counter()
    run = Run(
        info["hash"],
        repo=str(root),
        system_tracking_interval=None,
        log_system_params=False,
        capture_terminal_logs=False,
    )
    _, columns = run.get_metric("loss", Context({})).data.numpy()
    return time.perf_counter() - t, len(columns[0])


# ----------------------------------------------------------------------------- W&B offline


def _wandb_start(root: Path, config: dict[str, Any] | None = None) -> Any:
    import wandb

    settings = wandb.Settings(
        mode="offline",
        console="off",
        disable_git=True,
        save_code=False,
        x_disable_stats=True,
        x_disable_meta=True,
        silent=True,
    )
    return wandb.init(project="bench-peers", dir=str(root), config=config, settings=settings)


def wandb_w1(root: Path, n: int) -> float:
    run = _wandb_start(root)
    t = time.perf_counter()
    for i in range(n):
        run.log({"loss": i * 0.5}, step=i)
    run.finish()
    return time.perf_counter() - t


def wandb_w2(root: Path, n: int) -> float:
    run = _wandb_start(root)
    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    for i, row in enumerate(rows):
        run.log(row, step=i)
    run.finish()
    return time.perf_counter() - t


def wandb_w3(root: Path) -> float:
    run = _wandb_start(root)
    params = nested_params()
    t = time.perf_counter()
    run.config.update(params)
    elapsed = time.perf_counter() - t
    run.finish()
    return elapsed


def wandb_prepare(root: Path, n: int) -> dict[str, Any]:
    run = _wandb_start(root)
    for i in range(n):
        run.log({"loss": i * 0.5}, step=i)
    run.finish()
    return {}


# ----------------------------------------------------------------------------- MLflow


def _mlflow_start(root: Path, variant: str) -> Any:
    import mlflow

    if variant == "file":
        mlflow.set_tracking_uri((root / "mlruns").as_uri())
    else:
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_experiment("bench-peers")
    return mlflow.start_run()


def _mlflow_w1(root: Path, n: int, variant: str) -> float:
    import mlflow

    _mlflow_start(root, variant)
    t = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", i * 0.5, step=i)
    mlflow.end_run()
    return time.perf_counter() - t


def _mlflow_batch_w1(root: Path, n: int) -> float:
    """Per-call buffering into 1,000-metric ``log_batch`` calls (MLflow's batch limit)."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    run = _mlflow_start(root, "sqlite")
    client = MlflowClient()
    run_id = run.info.run_id
    pending: list[Any] = []
    t = time.perf_counter()
    for i in range(n):
        pending.append(Metric("loss", i * 0.5, int(time.time() * 1000), i))
        if len(pending) == 1000:
            client.log_batch(run_id, metrics=pending)
            pending = []
    if pending:
        client.log_batch(run_id, metrics=pending)
    mlflow.end_run()
    return time.perf_counter() - t


def _mlflow_w2(root: Path, n: int, variant: str) -> float:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    run = _mlflow_start(root, variant)
    rows = [_w2_row(i) for i in range(n)]
    client = MlflowClient()
    pending: list[Any] = []
    t = time.perf_counter()
    for i, row in enumerate(rows):
        if variant == "batch":
            stamp = int(time.time() * 1000)
            pending.extend(Metric(k, v, stamp, i) for k, v in row.items())
            if len(pending) >= 1000:
                client.log_batch(run.info.run_id, metrics=pending)
                pending = []
        else:
            mlflow.log_metrics(row, step=i)
    if pending:
        client.log_batch(run.info.run_id, metrics=pending)
    mlflow.end_run()
    return time.perf_counter() - t


def _mlflow_w3(root: Path, variant: str) -> float:
    import mlflow

    _mlflow_start(root, variant)
    params = nested_params()
    t = time.perf_counter()
    mlflow.log_params(flatten(params))
    elapsed = time.perf_counter() - t
    mlflow.end_run()
    return elapsed


def _mlflow_prepare(root: Path, n: int, variant: str) -> dict[str, Any]:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    run = _mlflow_start(root, variant)
    client = MlflowClient()
    stamp = int(time.time() * 1000)
    for start in range(0, n, 1000):
        batch = [Metric("loss", i * 0.5, stamp, i) for i in range(start, min(start + 1000, n))]
        client.log_batch(run.info.run_id, metrics=batch)
    mlflow.end_run()
    return {"run_id": run.info.run_id, "variant": variant}


def _mlflow_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    import mlflow
    from mlflow.tracking import MlflowClient

    t = time.perf_counter()

    if info["variant"] == "file":
        mlflow.set_tracking_uri((root / "mlruns").as_uri())
    else:
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    history = MlflowClient().get_metric_history(info["run_id"], "loss")
    return time.perf_counter() - t, len(history)


# ----------------------------------------------------------------------------- raw limits


def raw_orjson_w1(root: Path, n: int) -> float:
    import orjson

    t = time.perf_counter()
    with open(root / "w1.jsonl", "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({"step": i, "loss": i * 0.5}) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t


def raw_orjson_w2(root: Path, n: int) -> float:
    import orjson

    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    with open(root / "w2.jsonl", "wb") as fh:
        for i, row in enumerate(rows):
            fh.write(orjson.dumps({"step": i, **row}) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t


def raw_orjson_w3(root: Path) -> float:
    import orjson

    params = nested_params()
    t = time.perf_counter()
    with open(root / "params.json", "wb") as fh:
        fh.write(orjson.dumps(flatten(params)))
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t


def raw_orjson_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    import numpy as np
    import orjson

    t = time.perf_counter()

    with open(root / "w1.jsonl", "rb") as fh:
        values = np.array([orjson.loads(line)["loss"] for line in fh], dtype=np.float64)
    return time.perf_counter() - t, len(values)


def _sqlite_open(path: Path) -> Any:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS m (step INTEGER, key TEXT, value REAL)")
    return conn


def raw_sqlite_w1(root: Path, n: int) -> float:
    t = time.perf_counter()
    conn = _sqlite_open(root / "w1.db")
    conn.executemany("INSERT INTO m VALUES (?, 'loss', ?)", ((i, i * 0.5) for i in range(n)))
    conn.commit()
    conn.close()
    return time.perf_counter() - t


def raw_sqlite_w2(root: Path, n: int) -> float:
    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    conn = _sqlite_open(root / "w2.db")
    conn.executemany(
        "INSERT INTO m VALUES (?, ?, ?)",
        ((i, k, v) for i, row in enumerate(rows) for k, v in row.items()),
    )
    conn.commit()
    conn.close()
    return time.perf_counter() - t


def raw_sqlite_w3(root: Path) -> float:
    params = nested_params()
    t = time.perf_counter()
    conn = _sqlite_open(root / "w3.db")
    conn.executemany("INSERT INTO m VALUES (0, ?, ?)", flatten(params).items())
    conn.commit()
    conn.close()
    return time.perf_counter() - t


def raw_sqlite_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    import numpy as np

    t = time.perf_counter()

    conn = _sqlite_open(root / "w1.db")
    rows = conn.execute("SELECT step, value FROM m WHERE key = 'loss' ORDER BY rowid").fetchall()
    values = np.array([r[1] for r in rows], dtype=np.float64)
    conn.close()
    return time.perf_counter() - t, len(values)


def raw_numpy_w1(root: Path, n: int) -> float:
    import numpy as np

    t = time.perf_counter()
    buf = np.empty(n, dtype=np.float64)
    for i in range(n):
        buf[i] = i * 0.5
    with open(root / "w1.f64", "wb") as fh:
        buf.tofile(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t


def raw_numpy_w2(root: Path, n: int) -> float:
    import numpy as np

    rows = [_w2_row(i) for i in range(n)]
    t = time.perf_counter()
    buf = np.empty((n, W2_FIELDS), dtype=np.float64)
    for i, row in enumerate(rows):
        buf[i] = list(row.values())
    with open(root / "w2.f64", "wb") as fh:
        buf.tofile(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t


def raw_numpy_read(root: Path, info: dict[str, Any]) -> tuple[float, int]:
    import numpy as np

    t = time.perf_counter()

    values = np.fromfile(root / "w1.f64", dtype=np.float64)
    return time.perf_counter() - t, len(values)


def _raw_prepare(w1: Callable[[Path, int], float]) -> Callable[[Path, int], dict[str, Any]]:
    def prepare(root: Path, n: int) -> dict[str, Any]:
        w1(root, n)
        return {}

    return prepare


# ----------------------------------------------------------------------------- registry

Adapter = dict[str, Callable[..., Any] | None]

ADAPTERS: dict[str, Adapter] = {
    "runlane": {
        "w1": runlane_w1,
        "w2": runlane_w2,
        "w3": runlane_w3,
        "prepare": runlane_prepare,
        "read": runlane_read,
    },
    "mldash": {
        "w1": mldash_w1,
        "w2": mldash_w2,
        "w3": mldash_w3,
        "prepare": mldash_prepare,
        "read": mldash_read,
    },
    "trackio": {
        "w1": trackio_w1,
        "w2": trackio_w2,
        "w3": trackio_w3,
        "prepare": trackio_prepare,
        "read": trackio_read,
    },
    "aim": {"w1": aim_w1, "w2": aim_w2, "w3": aim_w3, "prepare": aim_prepare, "read": aim_read},
    "wandb": {
        "w1": wandb_w1,
        "w2": wandb_w2,
        "w3": wandb_w3,
        "prepare": wandb_prepare,
        "read": None,
    },
    "mlflow-sqlite": {
        "w1": lambda r, n: _mlflow_w1(r, n, "sqlite"),
        "w2": lambda r, n: _mlflow_w2(r, n, "sqlite"),
        "w3": lambda r: _mlflow_w3(r, "sqlite"),
        "prepare": lambda r, n: _mlflow_prepare(r, n, "sqlite"),
        "read": _mlflow_read,
    },
    "mlflow-batch": {
        "w1": _mlflow_batch_w1,
        "w2": lambda r, n: _mlflow_w2(r, n, "batch"),
        "w3": None,
        "prepare": None,
        "read": None,
    },
    "mlflow-file": {
        "w1": lambda r, n: _mlflow_w1(r, n, "file"),
        "w2": lambda r, n: _mlflow_w2(r, n, "file"),
        "w3": lambda r: _mlflow_w3(r, "file"),
        "prepare": lambda r, n: _mlflow_prepare(r, n, "file"),
        "read": _mlflow_read,
    },
    "raw-orjson": {
        "w1": raw_orjson_w1,
        "w2": raw_orjson_w2,
        "w3": raw_orjson_w3,
        "prepare": _raw_prepare(raw_orjson_w1),
        "read": raw_orjson_read,
    },
    "raw-sqlite": {
        "w1": raw_sqlite_w1,
        "w2": raw_sqlite_w2,
        "w3": raw_sqlite_w3,
        "prepare": _raw_prepare(raw_sqlite_w1),
        "read": raw_sqlite_read,
    },
    "raw-numpy": {
        "w1": raw_numpy_w1,
        "w2": raw_numpy_w2,
        "w3": None,
        "prepare": _raw_prepare(raw_numpy_w1),
        "read": raw_numpy_read,
    },
}


def disk_bytes(root: Path) -> int:
    """Apparent size (sum of file sizes) of everything under ``root``."""
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def run_workload(tool: str, workload: str, root: Path, n: int) -> dict[str, Any]:
    """Run one workload of one tool in this process; returns the JSON-able result.

    ``prepare`` stores ``info.json`` in ``root`` for the later ``read``; ``import`` is handled by
    the driver (it needs a fresh interpreter, not this one)."""
    adapter = ADAPTERS[tool]
    fn = adapter.get(workload)
    if fn is None:
        raise ValueError(f"tool {tool!r} has no workload {workload!r}")
    if workload in ("w1", "w2"):
        return {"seconds": fn(root, n), "n": n}
    if workload == "w3":
        return {"seconds": fn(root), "n": 1000}
    if workload == "prepare":
        info = fn(root, n)
        (root / "info.json").write_text(json.dumps(info))
        return {"seconds": 0.0, "n": n}
    if workload == "read":
        import numpy  # noqa: F401  (every tool's user has it; not part of the read)

        info = json.loads((root / "info.json").read_text())
        seconds, count = fn(root, info)
        return {"seconds": seconds, "n": count}
    raise ValueError(f"unknown workload {workload!r}: expected w1, w2, w3, prepare or read")

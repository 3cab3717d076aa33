"""MLflow's side of ``bench/server.py``: ``mlflow server`` on PostgreSQL, run from
``bench/peers/.venv`` (mlflow + psycopg2-binary, see ``setup.py``), and the scripts that drive
it through MLflow's own client in child processes of that venv's interpreter.

* :data:`INGEST_CHILD` — ``URL ROWS``: rows of 10 metrics through ``MlflowClient.log_batch``
  (1,000 metrics a call, MLflow's limit), then ``set_terminated``; prints ``total_s``.
* :data:`FILL_CHILD` — ``URL POINTS``: one ``loss = sin(i / 1000)`` series at step ``i``,
  1,000 points a ``log_batch``; prints the ``run`` id and ``fill_s``.
* :data:`READ_CHILD` — ``URL RUN_ID``: ``MlflowClient.get_metric_history(run_id, "loss")``,
  timed from creating the client to holding every ``Metric`` (modules imported before the
  clock); prints ``seconds``, ``points``, ``sum`` and ``last_step``.
* :func:`sampled_request` — MLflow's downsampled read, the REST route its UI charts call
  (MLflow 3.17's Python client has no method for it).

Nothing here imports MLflow: the driver runs in the project's venv.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PEERS_PY = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
Request = tuple[str, dict[str, str | int], Callable[[Any], dict[str, int]]]

TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
ENV = {**os.environ, **TELEMETRY_OFF}

INGEST_CHILD = r"""
import sys, time, json
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric
url, rows = sys.argv[1], int(sys.argv[2])
client = MlflowClient(tracking_uri=url)
exp = client.create_experiment(f"bench-{time.time_ns()}")
run = client.create_run(exp)
rid = run.info.run_id
start = time.perf_counter()
batch = []
now = int(time.time() * 1000)
for i in range(rows):
    x = i * 1e-3
    for j in range(10):
        batch.append(Metric(f"m{j}", x + j, now, i))
    if len(batch) >= 1000:
        client.log_batch(rid, metrics=batch)
        batch = []
if batch:
    client.log_batch(rid, metrics=batch)
client.set_terminated(rid)
print(json.dumps({"total_s": time.perf_counter() - start}))
"""

FILL_CHILD = r"""
import sys, time, json, math
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric
url, points = sys.argv[1], int(sys.argv[2])
client = MlflowClient(tracking_uri=url)
exp = client.create_experiment(f"bench-read-{time.time_ns()}")
rid = client.create_run(exp).info.run_id
now = int(time.time() * 1000)
start = time.perf_counter()
for first in range(0, points, 1000):
    client.log_batch(rid, metrics=[Metric("loss", math.sin(i / 1000.0), now + i, i)
                                   for i in range(first, min(points, first + 1000))])
client.set_terminated(rid)
print(json.dumps({"run": rid, "fill_s": time.perf_counter() - start}))
"""

READ_CHILD = r"""
import sys, time, json
from mlflow.tracking import MlflowClient
import mlflow.store.tracking.rest_store
url, run_id = sys.argv[1], sys.argv[2]
start = time.perf_counter()
history = MlflowClient(tracking_uri=url).get_metric_history(run_id, "loss")
seconds = time.perf_counter() - start
history = sorted(history, key=lambda m: m.step)
print(json.dumps({"seconds": seconds, "points": len(history),
                  "sum": sum(m.value for m in history), "last_step": float(history[-1].step)}))
"""


def missing() -> str | None:
    """Why MLflow cannot run here, or None when ``bench/peers/.venv`` has mlflow + psycopg2."""
    if not PEERS_PY.exists():
        return f"{PEERS_PY} is missing (python3.11 bench/peers/setup.py)"
    probe = subprocess.run(
        [str(PEERS_PY), "-c", "import mlflow, psycopg2"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return (
            "bench/peers/.venv lacks mlflow or psycopg2-binary "
            "(bench/peers/.venv/bin/pip install psycopg2-binary)"
        )
    return None


def versions() -> dict[str, str]:
    code = (
        "import json, mlflow, psycopg2, sqlalchemy; print(json.dumps({'mlflow': "
        "mlflow.__version__, 'psycopg2': psycopg2.__version__.split()[0], "
        "'sqlalchemy': sqlalchemy.__version__}))"
    )
    done = subprocess.run([str(PEERS_PY), "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    return found


@contextmanager
def serve(dsn: str, logs: Path, port: int) -> Iterator[str]:
    """``mlflow server`` (one worker) on the PostgreSQL database ``dsn`` at ``port``, its log
    in ``logs``; yields its URL and stops it (its whole process group) on exit. Raises
    ``SystemExit`` when it does not answer ``/health`` within two minutes."""
    import httpx

    with open(logs / "mlflow.log", "ab") as out:
        proc = subprocess.Popen(
            [
                str(PEERS_PY.parent / "mlflow"),
                "server",
                "--backend-store-uri",
                dsn.replace("postgresql://", "postgresql+psycopg2://", 1),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--default-artifact-root",
                str(logs / "mlflow-artifacts"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"mlflow server did not start; see {logs / 'mlflow.log'}")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def sampled_request(url: str, run_id: str) -> Request:
    """MLflow's sampled read (the REST route its UI charts call), 1,000 points of ``loss``."""
    return (
        f"{url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        {"run_ids": run_id, "metric_key": "loss", "max_results": 1000},
        lambda doc: {"points_returned": len(doc.get("metrics", []))},
    )

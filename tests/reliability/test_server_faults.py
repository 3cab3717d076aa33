"""The services under a remote run fail while a real client process logs through them.

* the ``runlane server`` is SIGKILLed mid-ingest and restarted (twice);
* PostgreSQL is restarted (once cleanly, once by a crash: ``pg_ctl -m immediate``) under a
  running server — a private cluster, so no other test's database goes away;
* the object store (a private SeaweedFS) is killed for 30 s while the client logs past the
  compaction threshold (10,000 rows per stream) and stores artifacts, then started again on
  the same ports and data.

The client logs ``{"i": i, "v": value_of(i)}`` at a known rate and then finishes normally.
Afterwards every row is there exactly once (count, order and checksum over all rows, read
through the server), the client's spool is empty, the run reads ``succeeded``, and the
figures (rows logged while a service was down, catch-up times) are recorded.

While the object store is down, metric ingest does not notice (rows stay hot in PostgreSQL;
the client never spools) and compaction into Parquet catches up once it is back. Artifact
calls never raise: during the outage the server answers 503 ``store_unavailable`` and the
client spools each call (a private copy of the file, returned as a pending record), then
replays the spool once the object store is back; every artifact then reads back through the
server, once, with its sha256.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from support_checks import check_rows, read_stream
from support_procs import LOGGED, Counters, child_env, finish, spawn, tail
from support_services import PrivatePostgres, PrivateSeaweed

import runlane
from runlane.store.remote import RemoteStore
from runlane.store.server import ServerStore
from support.seaweed import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.reliability


class Client:
    """A ``steady`` child: logs ``total`` rows at ``rate`` rows/s, then finishes."""

    def __init__(self, tmp: Path, env: dict[str, str], total: int, rate: int, *extra: Any):
        self.counters = Counters(tmp / "counters", create=True)
        self.log = tmp / "client.log"
        self.spool = Path(env["RUNLANE_DIR"]) / ".spool"
        self.proc = spawn(
            "steady", "faults/p", "client", self.counters.path, rate, total, *extra,
            env=env, log=self.log,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.run_id = self.proc.stdout.readline().strip()
        assert self.run_id, f"the client did not start{tail(self.log)}"

    def wait_logged(self, rows: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.counters[LOGGED] < rows:
            assert self.proc.poll() is None, f"the client died{tail(self.log)}"
            assert time.monotonic() < deadline, f"the client is stuck{tail(self.log)}"
            time.sleep(0.01)

    def finish(self, timeout: float = 120) -> dict[str, Any]:
        out = finish(self.proc, timeout, self.log)
        self.counters.close()
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def spooled_entries(self) -> list[Path]:
        return [p for p in self.spool.rglob("*.entry")] if self.spool.exists() else []

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _rows_on(store: ServerStore, run_id: str) -> int:
    return store.read_rows(run_id, "default", 0, 1).total


def _wait_rows(store: ServerStore, run_id: str, rows: int, timeout: float = 30) -> float:
    """Seconds until the server holds at least ``rows`` rows of the run."""
    t0 = time.monotonic()
    while _rows_on(store, run_id) < rows:
        assert time.monotonic() - t0 < timeout, f"the server never caught up to {rows} rows"
        time.sleep(0.05)
    return time.monotonic() - t0


def _check_complete(url: str, tmp: Path, client: Client, total: int) -> None:
    """Every row once, in order, with its value; nothing left in the spool; succeeded."""
    remote = RemoteStore(url, spool_dir=tmp / "reader-spool")
    try:
        assert check_rows(read_stream(remote, client.run_id), "after the faults") == total
        assert remote.get_run(client.run_id).status == "succeeded"
        assert remote.read_params(client.run_id).data == {"total": total}
    finally:
        remote.close()
    assert not client.spooled_entries(), "the client left requests in its spool"
    assert not list(client.spool.rglob("failed/*")), "the server refused spooled requests"


def test_server_killed_and_restarted_mid_ingest(
    dsn: str, runlane_server: Any, root: Path, tmp_path: Path, figures: Any
) -> None:
    total, rate = 16_000, 2_000
    server = runlane_server("--store", dsn)
    client = Client(tmp_path, child_env(root, RUNLANE_SERVER=server.url), total, rate)
    direct = ServerStore(dsn)
    catch_up: list[float] = []
    down_rows = 0
    try:
        for at in (3_000, 9_000):
            client.wait_logged(at)
            server.kill()  # SIGKILL: requests in flight are cut
            before = client.counters[LOGGED]
            time.sleep(1.0)
            server.start()  # same port, same database
            logged = client.counters[LOGGED]
            down_rows += logged - before
            catch_up.append(_wait_rows(direct, client.run_id, logged))
        result = client.finish()
    finally:
        direct.close()
    assert result["left"] == 0
    assert "spooling" in client.stderr(), "the client never saw the server down"
    _check_complete(server.url, tmp_path, client, total)
    figures.record(
        "faults.server_kill",
        kills=2,
        rows=total,
        rows_logged_while_down=down_rows,
        max_catch_up_s=round(max(catch_up), 2),
        lost=0,
        doubled=0,
    )


def test_postgres_restarted_under_a_running_server(
    runlane_server: Any, root: Path, tmp_path: Path, figures: Any
) -> None:
    pg = PrivatePostgres()
    try:
        pg.start()
        total, rate = 14_000, 2_000
        server = runlane_server("--store", pg.dsn)
        client = Client(tmp_path, child_env(root, RUNLANE_SERVER=server.url), total, rate)
        catch_up: list[float] = []
        down_rows = 0
        for at, mode in ((3_000, "fast"), (8_000, "immediate")):
            client.wait_logged(at)
            pg.stop(mode)  # "immediate": the database crashes and replays its WAL at start
            before = client.counters[LOGGED]
            time.sleep(1.5)
            pg.start()
            logged = client.counters[LOGGED]
            down_rows += logged - before
            direct = ServerStore(pg.dsn)
            try:
                catch_up.append(_wait_rows(direct, client.run_id, logged))
            finally:
                direct.close()
        result = client.finish()
        assert result["left"] == 0
        assert server.process is not None and server.process.poll() is None, "server died"
        _check_complete(server.url, tmp_path, client, total)
        server.stop()
    finally:
        pg.close()
    figures.record(
        "faults.postgres_restart",
        restarts=2,
        rows=total,
        rows_logged_while_down=down_rows,
        max_catch_up_s=round(max(catch_up), 2),
        lost=0,
        doubled=0,
    )


OUTAGE = 30.0


def test_object_store_unavailable_for_30_seconds(
    dsn: str, runlane_server: Any, root: Path, tmp_path: Path, figures: Any
) -> None:
    weed = PrivateSeaweed(tmp_path / "weed")
    weed.start()
    keys = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    try:
        server = runlane_server(
            "--store", dsn,
            "--artifacts", f"s3://{weed.bucket}/chunks",
            "--s3-endpoint", weed.endpoint,
            env=keys,
        )  # fmt: skip
        rate, total = 2_000, 70_000  # 35 s: the outage starts at 2 s, ends at 32 s
        client = Client(tmp_path, child_env(root, RUNLANE_SERVER=server.url), total, rate, 4_000)
        client.wait_logged(4_000)
        weed.kill()
        killed = time.monotonic()
        logged_at_kill = client.counters[LOGGED]
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - killed)))
        outage = time.monotonic() - killed
        logged_in_outage = client.counters[LOGGED] - logged_at_kill
        weed.start()
        back = time.monotonic()
        result = client.finish(timeout=180)
        assert result["left"] == 0, result
        stderr = client.stderr()
        assert "spooling runs and records" not in stderr, "ingest must not wait for S3"
        assert "spooling artifact commits" in stderr, "artifact calls were spooled"
        _check_complete(server.url, tmp_path, client, total)

        # cold chunks: compaction failed while the store was down, caught up after
        check = ServerStore(dsn)
        try:
            deadline = time.monotonic() + 60
            while True:
                with check.connection() as conn:
                    row = conn.execute(
                        "SELECT coalesce(sum(count), 0) FROM metric_chunks"
                    ).fetchone()
                chunked_rows = int(row[0]) if row else 0
                if chunked_rows >= total - 10_000 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            check.close()
        compacted_after = time.monotonic() - back
        assert chunked_rows >= total - 10_000, f"only {chunked_rows} rows compacted"

        # artifacts: no call failed; those made during the outage were spooled (pending),
        # replayed once the object store was back, and read back intact, once each
        assert result["failures"] == [], result["failures"]
        spooled = [item for item in result["stored"] if item["pending"]]
        assert spooled, "no artifact call saw the object store down"
        names = {f"weights-{i}" for i in range(0, total, 4_000)}
        assert {item["name"] for item in result["stored"]} == names
        view = runlane.open(client.run_id, store=server.url)
        assert sorted(r.name for r in view.artifacts) == sorted(names)
        for item in result["stored"]:
            assert item["recorded_sha256"] == item["sha256"]
            path = view.artifacts.download(item["name"], dest=tmp_path / "downloads")
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == item["sha256"], item
            assert len(data) == item["size"]
    finally:
        weed.kill()
    figures.record(
        "faults.object_store_outage",
        outage_s=round(outage, 1),
        rows=total,
        rows_logged_during_outage=logged_in_outage,
        rows_compacted_to_parquet=chunked_rows,
        compaction_caught_up_s=round(compacted_after, 1),
        artifacts_stored=len(result["stored"]),
        artifact_calls_spooled=len(spooled),
        artifact_calls_failed=0,
        max_artifact_call_blocked_s=round(max(i["seconds"] for i in result["stored"]), 1),
        lost=0,
        doubled=0,
    )

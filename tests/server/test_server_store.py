"""ServerStore beyond the contract suite: migrations, hot/cold compaction into SeaweedFS,
concurrent writers, idempotent batches, cleanup, and the registry's postgresql:// scheme."""

from __future__ import annotations

import threading
import time

import numpy as np
import psycopg
import pytest

from runlane.entities import Batch, LogRecord, RunSpec
from runlane.errors import StoreError
from runlane.store.registry import forget_stores, open_store
from runlane.store.server import DEFAULT_CHUNK_ROWS, ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from runlane.store.server.schema import LATEST, migrate


def new_run(store: ServerStore, name: str = "r") -> str:
    info, _ = store.create_run(RunSpec(owner="alice", project="vision", name=name))
    return info.id


def test_schema_is_versioned_and_migrations_are_idempotent(dsn: str) -> None:
    store = ServerStore(dsn)
    store.close()
    with psycopg.connect(dsn) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM runlane_migrations")]
        assert versions == list(range(1, LATEST + 1))
        assert migrate(conn) == 0  # nothing left to apply
        conn.execute(
            "INSERT INTO runlane_migrations (version, name) VALUES (%s, 'future')", (LATEST + 1,)
        )
        conn.commit()
    with pytest.raises(StoreError, match="newer than this runlane"):
        ServerStore(dsn)


def test_unreachable_database_raises_store_error() -> None:
    with pytest.raises(StoreError, match="could not open the PostgreSQL store"):
        ServerStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", pool_size=1)


def test_rows_past_10000_move_to_parquet_chunks_in_seaweedfs(
    pg_store: ServerStore, s3: S3Location
) -> None:
    assert pg_store.chunk_rows == DEFAULT_CHUNK_ROWS == 10_000
    run_id = new_run(pg_store)
    total = 25_003
    for start in range(0, total, 5_000):
        rows = [
            {"v": float(i), "i": i, "_step": i} for i in range(start, min(total, start + 5_000))
        ]
        pg_store.write(run_id, Batch(rows={"loss": rows}))
    with pg_store.connection() as conn:
        hot = conn.execute("SELECT count(*) FROM metric_rows").fetchone()
        chunks = conn.execute(
            "SELECT first_idx, count, key FROM metric_chunks ORDER BY 1"
        ).fetchall()
    assert hot is not None and hot[0] == total - 20_000
    assert [(c[0], c[1]) for c in chunks] == [(0, 10_000), (10_000, 10_000)]
    client = S3Objects(s3)._client
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=s3.prefix)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(s3.prefix + c[2] for c in chunks)
    # reads merge cold and hot transparently
    page = pg_store.read_rows(run_id, "loss", 9_998, 5)
    assert [i for i, _, _ in page.rows] == [9_998, 9_999, 10_000, 10_001, 10_002]
    assert [d["i"] for _, d, _ in page.rows] == [9_998, 9_999, 10_000, 10_001, 10_002]
    assert type(page.rows[0][1]["i"]) is int
    tail = pg_store.read_rows(run_id, "loss", 19_999, 3)
    assert [d["v"] for _, d, _ in tail.rows] == [19_999.0, 20_000.0, 20_001.0]
    cols = pg_store.read_columns(run_id, "loss", ["v", "_step"])
    np.testing.assert_array_equal(cols["_index"], np.arange(total))
    np.testing.assert_array_equal(cols["v"], np.arange(total, dtype=np.float64))
    assert [s.count for s in pg_store.list_streams(run_id)] == [total]


def test_background_compaction_keeps_reads_complete(dsn: str, s3: S3Location) -> None:
    store = ServerStore(dsn, objects=S3Objects(s3), chunk_rows=100, background_compaction=True)
    try:
        run_id = new_run(store)
        for start in range(0, 1_000, 50):
            store.write(run_id, Batch(rows={"m": [{"x": i} for i in range(start, start + 50)]}))
            # at any moment, every committed row reads back exactly once
            cols = store.read_columns(run_id, "m", ["x"])
            np.testing.assert_array_equal(cols["x"], np.arange(start + 50, dtype=np.float64))
        store.compact()
        with store.connection() as conn:
            hot = conn.execute("SELECT count(*) FROM metric_rows").fetchone()
        assert hot is not None and hot[0] <= 100
    finally:
        store.close()


def test_concurrent_writers_in_two_store_instances_get_contiguous_indices(
    dsn: str, s3: S3Location
) -> None:
    stores = [ServerStore(dsn, objects=S3Objects(s3), chunk_rows=500) for _ in range(2)]
    try:
        run_id = new_run(stores[0])
        errors: list[BaseException] = []

        def writer(store: ServerStore, tag: int) -> None:
            try:
                for n in range(20):
                    rows = [{"w": tag, "n": n, "k": k} for k in range(37)]
                    store.write(
                        run_id,
                        Batch(
                            rows={"s": rows}, logs=[LogRecord("info", f"{tag}-{n}", time.time())]
                        ),
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(stores[i % 2], i)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        page = stores[1].read_rows(run_id, "s", 0, 10_000)
        assert [i for i, _, _ in page.rows] == list(range(4 * 20 * 37))
        # each batch's 37 rows stay together and in order
        for start in range(0, len(page.rows), 37):
            group = [d for _, d, _ in page.rows[start : start + 37]]
            assert [d["k"] for d in group] == list(range(37))
            assert len({(d["w"], d["n"]) for d in group}) == 1
        seqs = [r.seq for r in stores[0].read_logs(run_id)]
        assert seqs == list(range(80))
    finally:
        for store in stores:
            store.close()


def test_write_once_applies_a_batch_id_once(pg_store: ServerStore) -> None:
    run_id = new_run(pg_store)
    batch = Batch(rows={"m": [{"x": 1}, {"x": 2}]}, logs=[LogRecord("info", "once", 1.0)])
    assert pg_store.write_once(run_id, batch, "batch-1") is True
    assert pg_store.write_once(run_id, batch, "batch-1") is False
    assert pg_store.write_once(run_id, batch, "batch-2") is True
    assert pg_store.read_rows(run_id, "m").total == 4
    assert [r.message for r in pg_store.read_logs(run_id)] == ["once", "once"]


def test_delete_run_removes_its_chunks_from_the_object_store(dsn: str, s3: S3Location) -> None:
    store = ServerStore(dsn, objects=S3Objects(s3), chunk_rows=10)
    try:
        run_id = new_run(store)
        keep = new_run(store, "keep")
        for rid in (run_id, keep):
            store.write(rid, Batch(rows={"m": [{"x": i} for i in range(35)]}))
        client = S3Objects(s3)._client

        def keys() -> list[str]:
            found = client.list_objects_v2(Bucket=s3.bucket, Prefix=s3.prefix).get("Contents", [])
            return [o["Key"] for o in found]

        assert len(keys()) == 6
        store.delete_run(run_id)
        assert len(keys()) == 3 and all(f"/{keep}/" in k for k in keys())
        assert store.read_rows(keep, "m").total == 35
    finally:
        store.close()


def test_without_s3_chunks_live_in_the_database(dsn: str) -> None:
    store = ServerStore(dsn, chunk_rows=10)
    try:
        run_id = new_run(store)
        store.write(run_id, Batch(rows={"m": [{"x": i} for i in range(25)]}))
        with store.connection() as conn:
            objects = conn.execute("SELECT count(*) FROM objects").fetchone()
        assert objects is not None and objects[0] == 2
        assert [d["x"] for _, d, _ in store.read_rows(run_id, "m", 0, 100).rows] == list(range(25))
    finally:
        store.close()


def test_registry_opens_postgresql_uris(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNLANE_ARTIFACTS", raising=False)
    store = open_store(dsn)
    try:
        assert isinstance(store, ServerStore)
        assert open_store(dsn) is store
        run_id = new_run(store)
        assert store.get_run(run_id).project == "vision"
    finally:
        forget_stores()


def test_chart_downsampling_from_chunk_summaries_matches_the_full_series(
    dsn: str, s3: S3Location
) -> None:
    from starlette.testclient import TestClient

    from runlane.server.app import create_app
    from runlane.server.downsample import minmax

    store = ServerStore(dsn, objects=S3Objects(s3), chunk_rows=5_000)
    try:
        run_id = new_run(store)
        n = 100_000
        rng = np.random.default_rng(7)
        values = rng.normal(size=n)
        values[31_337] = 99.0
        values[64_000:64_150] = np.nan
        values[90_001] = -99.0
        rows = [
            {"loss": float(v), "_step": 3 * i, "_ts": 1_000.0 + i} for i, v in enumerate(values)
        ]
        store.write(run_id, Batch(rows={"train": rows}, nonfinite={"train"}))
        with store.connection() as conn:
            summarized = conn.execute(
                "SELECT count(*) FROM metric_chunks WHERE summary IS NOT NULL"
            ).fetchone()
        assert summarized is not None and summarized[0] == 19  # 95,000 cold rows, 5,000 hot
        cols = store.read_columns(run_id, "train", ["loss", "_step", "_ts"])
        for axis, xs in (("step", cols["_step"]), ("index", cols["_index"]), ("time", cols["_ts"])):
            found = store.read_series(run_id, "train", ["loss"], axis, 100)
            assert found is not None
            total, series = found
            fx, fy = minmax(xs.astype(float), cols["loss"], 100)
            assert total == n
            np.testing.assert_array_equal(series["loss"][0], fx)  # 1,000 rows a bucket: exact
            np.testing.assert_array_equal(series["loss"][1], fy)
        _, odd = store.read_series(run_id, "train", ["loss"], "step", 777) or (0, {})
        assert odd["loss"][1].max() == 99.0 and odd["loss"][1].min() == -99.0
        assert len(odd["loss"][0]) <= 2 * 777
        client = TestClient(create_app(store))
        url = f"/api/v1/runs/{run_id}/streams/train/series"
        fast = client.get(url, params={"fields": "loss", "buckets": 100}).json()
        full = client.get(url, params={"fields": "loss", "buckets": 100, "start": 0}).json()
        assert fast["series"] == full["series"] and fast["total"] == full["total"] == n
    finally:
        store.close()


def test_series_of_a_mid_length_compacted_stream_keeps_every_bucket(
    dsn: str, s3: S3Location
) -> None:
    """20,000 rows at 1,000 buckets: the per-100-row summaries would give only 200 buckets,
    so the read falls back to the full columns and every bucket keeps its min and max."""
    from starlette.testclient import TestClient

    from runlane.server.app import create_app
    from runlane.server.downsample import minmax

    store = ServerStore(dsn, objects=S3Objects(s3), chunk_rows=5_000)
    try:
        run_id = new_run(store)
        rng = np.random.default_rng(3)
        rows = [{"loss": float(v), "_ts": 1.0 + i} for i, v in enumerate(rng.normal(size=20_000))]
        store.write(run_id, Batch(rows={"train": rows}))
        with store.connection() as conn:
            chunks = conn.execute("SELECT count(*) FROM metric_chunks").fetchone()
        assert chunks is not None and chunks[0] >= 3  # compacted: the summary path applies
        assert store.read_series(run_id, "train", ["loss"], "index", 1_000) is None
        client = TestClient(create_app(store))
        url = f"/api/v1/runs/{run_id}/streams/train/series"
        fast = client.get(url, params={"fields": "loss", "buckets": 1_000}).json()
        full = client.get(url, params={"fields": "loss", "buckets": 1_000, "start": 0}).json()
        assert fast["series"] == full["series"]
        cols = store.read_columns(run_id, "train", ["loss"])
        _, ys = minmax(cols["_index"].astype(float), cols["loss"], 1_000)
        assert len(ys) == 2_000
    finally:
        store.close()

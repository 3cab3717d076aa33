"""The Store contract: every backend passes this one suite (see ``conftest.STORE_FACTORIES``).

Tests talk to the Store protocol directly, with hand-built specs and batches, so that what a
backend must do is written down once, independent of the SDK.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from runlane.entities import (
    Batch,
    Event,
    LineageRecord,
    LogRecord,
    MetadataUpdate,
    ParamsUpdate,
    RunPatch,
    RunSpec,
    StreamInfoUpdate,
    TrackEntry,
)
from runlane.errors import InvalidArgumentError, NotFoundError, QuerySyntaxError
from runlane.store.base import Store
from runlane.store.documents import HEARTBEAT_STALE_AFTER
from runlane.values import encode_bytes


def spec(name: str | None = None, **kw: Any) -> RunSpec:
    kw.setdefault("owner", "alice")
    kw.setdefault("project", "vision")
    return RunSpec(name=name, **kw)


def make_run(store: Store, name: str | None = None, **kw: Any) -> str:
    info, existed = store.create_run(spec(name, **kw))
    assert existed is False
    return info.id


def rows_batch(stream: str, rows: list[dict[str, Any]], nonfinite: bool = False) -> Batch:
    batch = Batch(rows={stream: rows})
    if nonfinite:
        batch.nonfinite.add(stream)
    return batch


def log(level: str, message: str, ts: float = 1000.0, **kw: Any) -> LogRecord:
    return LogRecord(level=level, message=message, timestamp=ts, **kw)


# --- create, get, resolve -------------------------------------------------------------------------


def test_store_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.uri, str) and store.uri


def test_create_run_returns_new_run_with_spec_fields(store: Store) -> None:
    info, existed = store.create_run(
        spec(
            "resnet",
            folder="sweeps/a",
            group="g1",
            description="first try",
            tags=("x", "y", "x"),
            framework="torch",
            backend="cuda",
            extra={"k": 1},
        )
    )
    assert existed is False
    assert (info.owner, info.project, info.name, info.folder) == (
        "alice",
        "vision",
        "resnet",
        "sweeps/a",
    )
    assert info.group == "g1"
    assert info.description == "first try"
    assert info.tags == ("x", "y")
    assert (info.framework, info.backend) == ("torch", "cuda")
    assert info.status == "created"
    assert [c.status for c in info.status_history] == ["created"]
    assert info.extra == {"k": 1}
    assert info.prefix == "alice/vision/sweeps/a/resnet"
    assert abs(info.created_at - time.time()) < 60
    assert store.get_run(info.id) == store.get_run(info.id)
    assert store.get_run(info.id).name == "resnet"


def test_run_without_name_is_named_by_its_id(store: Store) -> None:
    info, _ = store.create_run(spec())
    assert info.name == info.id


def test_taken_names_get_numbered_suffixes(store: Store) -> None:
    names = [store.create_run(spec("run"))[0].name for _ in range(3)]
    assert names == ["run", "run-2", "run-3"]
    # the same name in another project or folder is free
    assert store.create_run(spec("run", project="other"))[0].name == "run"
    assert store.create_run(spec("run", folder="f"))[0].name == "run"


def test_a_run_may_be_created_running(store: Store) -> None:
    """init creates its run running in one write: a process killed right after creating it
    never leaves a run that reads ``created`` forever."""
    info, _ = store.create_run(spec("live", status="running"))
    assert info.status == "running"
    assert [h.status for h in store.get_run(info.id).status_history] == ["created", "running"]
    again, existed = store.create_run(spec("live", resume=True, status="created"))
    assert existed and again.status == "running"  # the spec's status is ignored for a run found


def test_external_id_is_create_or_get(store: Store) -> None:
    first, existed_first = store.create_run(spec("a", external_id="job-17"))
    again, existed_again = store.create_run(spec("b", external_id="job-17"))
    assert existed_first is False
    assert existed_again is True
    assert again.id == first.id
    assert again.name == "a"
    assert again.external_id == "job-17"
    # scoped to owner/project
    other, existed_other = store.create_run(spec("a", project="other", external_id="job-17"))
    assert existed_other is False
    assert other.id != first.id


def test_resume_by_name_returns_existing_run(store: Store) -> None:
    first, _ = store.create_run(spec("train", folder="f"))
    again, existed = store.create_run(spec("train", folder="f", resume=True))
    assert existed is True
    assert again.id == first.id
    fresh, existed_fresh = store.create_run(spec("never-made", resume=True))
    assert existed_fresh is False
    assert fresh.name == "never-made"


def test_explicit_run_id_is_kept_and_rejoined(store: Store) -> None:
    info, existed = store.create_run(spec("a", run_id="fixedid0001"))
    assert (info.id, existed) == ("fixedid0001", False)
    again, existed_again = store.create_run(spec("a", run_id="fixedid0001"))
    assert (again.id, existed_again) == ("fixedid0001", True)


def test_unknown_run_raises_not_found_everywhere(store: Store) -> None:
    calls = [
        lambda: store.get_run("nope-nope"),
        lambda: store.resolve_run("nope-nope"),
        lambda: store.delete_run("nope-nope"),
        lambda: store.heartbeat("nope-nope", time.time()),
        lambda: store.write("nope-nope", Batch(logs=[log("info", "x")])),
        lambda: store.read_params("nope-nope"),
        lambda: store.read_metadata("nope-nope"),
        lambda: store.list_streams("nope-nope"),
        lambda: store.read_rows("nope-nope", "default"),
        lambda: store.read_columns("nope-nope", "default"),
        lambda: store.read_logs("nope-nope"),
        lambda: store.read_events("nope-nope"),
        lambda: store.list_tracks("nope-nope"),
        lambda: store.read_track("nope-nope", "t"),
        lambda: store.read_lineage("nope-nope"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="nope-nope"):
            call()


def test_resolve_run_by_id_prefix_and_name_prefix(store: Store) -> None:
    run_id = make_run(store, "named", folder="a/b")
    make_run(store, "other")
    assert store.resolve_run(run_id) == run_id
    assert store.resolve_run(run_id[:8]) == run_id
    assert store.resolve_run("alice/vision/a/b/named") == run_id
    with pytest.raises(NotFoundError):
        store.resolve_run("alice/vision/missing")
    with pytest.raises(NotFoundError):
        store.resolve_run(run_id[:3])  # too short to be a prefix


# --- list, delete ---------------------------------------------------------------------------------


def _three_runs(store: Store) -> dict[str, str]:
    ids = {}
    for name, lr, tags in (("a", 0.1, ("x",)), ("b", 0.01, ("y",)), ("c", 0.001, ("x", "y"))):
        ids[name] = make_run(store, name, tags=tags)
        store.write(ids[name], Batch(params=[ParamsUpdate({"lr": lr, "opt.name": "adam"})]))
        time.sleep(0.002)  # distinct creation times
    ids["z"] = make_run(store, "z", owner="bob", project="audio")
    return ids


def test_list_runs_filters_by_project(store: Store) -> None:
    _three_runs(store)
    assert sorted(r.name for r in store.list_runs()) == ["a", "b", "c", "z"]
    assert sorted(r.name for r in store.list_runs(project="alice/vision")) == ["a", "b", "c"]
    assert sorted(r.name for r in store.list_runs(project="vision")) == ["a", "b", "c"]
    assert [r.name for r in store.list_runs(project="bob/audio")] == ["z"]
    assert store.list_runs(project="bob/vision") == []


def test_list_runs_where(store: Store) -> None:
    _three_runs(store)
    assert {r.name for r in store.list_runs(where="params.lr >= 0.01")} == {"a", "b"}
    assert {r.name for r in store.list_runs(where="tags contains 'x'")} == {"a", "c"}
    assert {r.name for r in store.list_runs(where="params.opt.name = 'adam' and name != 'a'")} == {
        "b",
        "c",
    }
    assert store.list_runs(where="name = 'nothing'") == []


def test_list_runs_sort_limit_offset(store: Store) -> None:
    _three_runs(store)
    assert [r.name for r in store.list_runs(project="vision")] == ["c", "b", "a"]  # newest first
    assert [r.name for r in store.list_runs(project="vision", sort="name")] == ["a", "b", "c"]
    assert [r.name for r in store.list_runs(project="vision", sort="-name")] == ["c", "b", "a"]
    assert [r.name for r in store.list_runs(project="vision", sort="params.lr")] == ["c", "b", "a"]
    assert [r.name for r in store.list_runs(project="vision", sort="name", limit=2)] == ["a", "b"]
    assert [r.name for r in store.list_runs(project="vision", sort="name", offset=1)] == ["b", "c"]
    page = store.list_runs(project="vision", sort="name", limit=1, offset=1)
    assert [r.name for r in page] == ["b"]


def test_delete_run_removes_everything(store: Store) -> None:
    ids = _three_runs(store)
    store.write(ids["a"], rows_batch("default", [{"x": 1}]))
    store.delete_run(ids["a"])
    with pytest.raises(NotFoundError):
        store.get_run(ids["a"])
    with pytest.raises(NotFoundError):
        store.read_rows(ids["a"], "default")
    assert "a" not in {r.name for r in store.list_runs()}
    # the name is free again
    assert store.create_run(spec("a"))[0].name == "a"


# --- bulk reads: count, group, projects, lineage of many runs ----------------------------------


def test_count_runs_counts_what_list_runs_lists(store: Store) -> None:
    ids = _three_runs(store)
    store.write(ids["b"], Batch(patches=[RunPatch(status="succeeded", at=time.time())]))
    cases: list[tuple[str | None, str | None]] = [
        (None, None),
        ("alice/vision", None),
        ("vision", "params.lr >= 0.01"),
        (None, "tags contains 'x'"),
        (None, "status = 'succeeded'"),
        ("bob/audio", "params.lr >= 0.01"),
        ("nobody/nothing", None),
    ]
    counts = [store.count_runs(project=p, where=w) for p, w in cases]
    assert counts == [4, 3, 2, 2, 1, 0, 0]
    assert counts == [len(store.list_runs(project=p, where=w)) for p, w in cases]
    with pytest.raises(QuerySyntaxError):
        store.count_runs(where="params.lr >")


def _group_table(store: Store, by: str, **kw: Any) -> dict[Any, tuple[int, list[str]]]:
    """``{value: (count, sorted ids)}``; a bool keyed ``("bool", value)`` (True == 1 in a
    dict), a list or dict by its JSON text."""
    out: dict[Any, tuple[int, list[str]]] = {}
    for group in store.group_runs(by, **kw):
        value = group.value
        key = value
        if isinstance(value, bool):
            key = ("bool", value)
        elif isinstance(value, list | dict):
            key = json.dumps(value, sort_keys=True)
        assert key not in out, f"value {value!r} answered twice"
        out[key] = (group.count, sorted(group.ids))
    return out


def test_group_runs_by_a_param_one_group_per_value(store: Store) -> None:
    values: dict[str, Any] = {
        "a": 0.1,
        "b": 0.1,
        "c": 0.01,
        "d": "auto",
        "e": 1,
        "f": 1.0,  # the same number as 1
        "g": True,  # not the number 1
        "h": [1, 2],
        "i": [1, 2],
        "j": {"k": "v"},
        "k": None,  # JSON null: no value
    }
    ids = {}
    for name, value in values.items():
        ids[name] = make_run(store, name)
        store.write(ids[name], Batch(params=[ParamsUpdate({"lr": value, "other": 1})]))
    ids["m"] = make_run(store, "m")  # no params at all
    store.write(ids["m"], Batch(params=[ParamsUpdate({"other": 2})]))
    table = _group_table(store, "params.lr")
    assert table == {
        0.1: (2, []),
        0.01: (1, []),
        "auto": (1, []),
        1: (2, []),
        ("bool", True): (1, []),
        "[1, 2]": (2, sorted([ids["h"], ids["i"]])),
        '{"k": "v"}': (1, [ids["j"]]),
        None: (2, []),
    }
    assert sum(g.count for g in store.group_runs("params.lr")) == store.count_runs()
    # max_ids caps the ids of a list-valued group, not its count
    capped = [g for g in store.group_runs("params.lr", max_ids=1) if isinstance(g.value, list)]
    assert [(g.count, len(g.ids)) for g in capped] == [(2, 1)]
    assert capped[0].ids[0] in (ids["h"], ids["i"])
    # keys that need quoting, within a filter and a project
    assert _group_table(store, "params.`other`", where="name < 'c'") == {1: (2, [])}
    assert _group_table(store, "params.other", project="alice/vision", where="params.lr = 0.1") == {
        1: (2, [])
    }
    assert store.group_runs("params.lr", project="bob/audio") == []


def test_group_runs_by_tags_text_fields_and_meta(store: Store) -> None:
    a = make_run(store, "a", tags=("gpu", "baseline"), extra={"team": "red"})
    b = make_run(store, "b", tags=("gpu",), extra={"team": "blue"})
    make_run(store, "c", extra={"team": "red"})
    make_run(store, "d", group="sweep-1")
    make_run(store, "z", owner="bob", project="audio", tags=("gpu",))
    store.write(b, Batch(patches=[RunPatch(status="succeeded", at=time.time())]))
    store.write(a, Batch(params=[ParamsUpdate({"lr": 0.1})]))
    assert _group_table(store, "tags", project="alice/vision") == {
        "gpu": (2, []),
        "baseline": (1, []),
        None: (2, []),
    }
    assert _group_table(store, "tags", where="params.lr = 0.1") == {
        "gpu": (1, []),
        "baseline": (1, []),
    }
    assert _group_table(store, "status") == {"created": (4, []), "succeeded": (1, [])}
    assert _group_table(store, "group") == {None: (4, []), "sweep-1": (1, [])}
    assert _group_table(store, " meta.team ", project="vision") == {
        "red": (2, []),
        "blue": (1, []),
        None: (1, []),
    }


def test_group_runs_sees_crashed_runs_as_list_runs_does(store: Store) -> None:
    run_id = make_run(store)
    t = time.time()
    store.write(run_id, Batch(patches=[RunPatch(status="running", at=t)]))
    store.heartbeat(run_id, t - HEARTBEAT_STALE_AFTER - 60)
    assert _group_table(store, "status") == {"crashed": (1, [])}
    assert store.count_runs(where="status = 'crashed'") == 1


@pytest.mark.parametrize(
    "by", ["metrics.loss", "created", "-params.lr", "params.lr,name", "x y", "params."]
)
def test_group_runs_refuses_what_cannot_be_grouped(store: Store, by: str) -> None:
    make_run(store)
    with pytest.raises(InvalidArgumentError, match="group by"):
        store.group_runs(by)


def test_group_runs_refuses_a_negative_max_ids(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="max_ids"):
        store.group_runs("status", max_ids=-1)


def test_list_projects_counts_runs_and_the_newest(store: Store) -> None:
    assert store.list_projects() == []
    _three_runs(store)
    make_run(store, "q", owner="bob", project="vision")
    projects = store.list_projects()
    assert [(p.owner, p.project, p.runs) for p in projects] == [
        ("alice", "vision", 3),
        ("bob", "audio", 1),
        ("bob", "vision", 1),
    ]
    newest = max(r.created_at for r in store.list_runs(project="alice/vision"))
    assert projects[0].last_created == pytest.approx(newest)


def test_read_lineage_many_is_read_lineage_of_each(store: Store) -> None:
    a, b, empty = make_run(store, "a"), make_run(store, "b"), make_run(store, "empty")
    data = LineageRecord("data", "dataset", "s3://lake/x.csv", True, hash="h1", at=1.0)
    model = LineageRecord("model", "model", "models/m.pt", False, size=3, summary={"acc": 0.5})
    store.write(a, Batch(lineage=[data, model]))
    store.write(a, Batch(lineage=[replace(data, name="more", at=2.0)]))
    store.write(b, Batch(lineage=[replace(model, is_input=True)]))
    many = store.read_lineage_many([b, a, *UNKNOWN_IDS, empty, a])
    assert set(many) == {a, b, empty}
    assert many == {r: store.read_lineage(r) for r in (a, b, empty)}
    assert [r.name for r in many[a]] == ["data", "model", "more"]
    assert many[empty] == []
    assert store.read_lineage_many([]) == {}
    store.delete_run(b)
    assert set(store.read_lineage_many([a, b])) == {a}


# --- params and metadata --------------------------------------------------------------------------


def test_params_merge_reset_and_version(store: Store) -> None:
    run_id = make_run(store)
    empty = store.read_params(run_id)
    assert (empty.version, empty.data) == (0, {})
    store.write(run_id, Batch(params=[ParamsUpdate({"lr": 0.1, "model.depth": 18}, at=1000.0)]))
    store.write(run_id, Batch(params=[ParamsUpdate({"lr": 0.2, "seed": 3}, at=1001.0)]))
    doc = store.read_params(run_id)
    assert doc.data == {"lr": 0.2, "model.depth": 18, "seed": 3}
    assert doc.version == 2
    assert doc.updated_at == pytest.approx(1001.0)
    # two updates in one batch count as two versions, applied in order
    store.write(
        run_id,
        Batch(
            params=[
                ParamsUpdate({"only": True}, reset=True, at=1002.0),
                ParamsUpdate({"b": [1, 2]}),
            ]
        ),
    )
    doc = store.read_params(run_id)
    assert doc.data == {"only": True, "b": [1, 2]}
    assert doc.version == 4


def test_metadata_documents(store: Store) -> None:
    run_id = make_run(store)
    assert store.read_metadata(run_id) == {}
    store.write(run_id, Batch(metadata=[MetadataUpdate("env", {"python": "3.11"}, 1000.0)]))
    store.write(
        run_id,
        Batch(
            metadata=[
                MetadataUpdate("hw", {"gpus": ["a100"], "n": 2}, 1001.0),
                MetadataUpdate("env", {"python": "3.12"}, 1002.0),
            ]
        ),
    )
    meta = store.read_metadata(run_id)
    assert meta["env"][0] == {"python": "3.12"}
    assert meta["env"][1] == pytest.approx(1002.0)
    assert meta["hw"] == ({"gpus": ["a100"], "n": 2}, pytest.approx(1001.0))


# --- metric rows ----------------------------------------------------------------------------------


def test_rows_get_contiguous_indices_across_writes(store: Store) -> None:
    run_id = make_run(store)
    store.write(run_id, rows_batch("default", [{"loss": float(i), "_step": i} for i in range(3)]))
    store.write(run_id, rows_batch("default", [{"loss": 3.0, "_step": 3}]))
    store.write(
        run_id,
        Batch(rows={"default": [{"loss": 4.0, "_step": 4}], "eval": [{"acc": 0.5}, {"acc": 0.6}]}),
    )
    page = store.read_rows(run_id, "default")
    assert [i for i, _, _ in page.rows] == [0, 1, 2, 3, 4]
    assert [d["loss"] for _, d, _ in page.rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert page.total == 5
    assert all(isinstance(created, str) and created.endswith("Z") for _, _, created in page.rows)
    assert [i for i, _, _ in store.read_rows(run_id, "eval").rows] == [0, 1]
    streams = {s.name: s for s in store.list_streams(run_id)}
    assert set(streams) == {"default", "eval"}
    assert streams["default"].count == 5
    assert {"loss", "_step"} <= set(streams["default"].fields)
    assert streams["eval"].count == 2


def test_rows_keep_values_of_every_kind(store: Store) -> None:
    run_id = make_run(store)
    row = {
        "i": 7,
        "f": 0.5,
        "nan": math.nan,
        "pinf": math.inf,
        "ninf": -math.inf,
        "t": True,
        "s": "text",
        "raw": encode_bytes(b"\x00\xff"),
        "none": None,
        "_ts": 1000.5,
    }
    store.write(run_id, rows_batch("default", [row], nonfinite=True))
    store.write(run_id, rows_batch("default", [{"f": 1.5}]))
    (_, data, _), (_, second, _) = store.read_rows(run_id, "default").rows
    assert data["i"] == 7 and type(data["i"]) is int
    assert data["f"] == 0.5
    assert math.isnan(data["nan"])
    assert data["pinf"] == math.inf and data["ninf"] == -math.inf
    assert data["t"] is True
    assert data["s"] == "text"
    assert data["raw"] == b"\x00\xff"
    assert data["none"] is None
    assert data["_ts"] == 1000.5
    assert second == {"f": 1.5}


def test_read_rows_paging_shape(store: Store) -> None:
    run_id = make_run(store)
    store.write(run_id, rows_batch("default", [{"v": i} for i in range(10)]))
    page = store.read_rows(run_id, "default", start=3, limit=4)
    assert [i for i, _, _ in page.rows] == [3, 4, 5, 6]
    assert (page.start_index, page.total) == (3, 10)
    shape = page.to_dict()
    assert set(shape) == {"data", "startIndex", "endIndex", "total", "hasMore"}
    assert shape["startIndex"] == 3
    assert shape["endIndex"] == 6
    assert shape["total"] == 4
    assert shape["hasMore"] is True
    assert shape["data"][0] == {"index": 3, "data": {"v": 3}, "createdAt": page.rows[0][2]}
    last = store.read_rows(run_id, "default", start=8, limit=4).to_dict()
    assert [d["index"] for d in last["data"]] == [8, 9]
    assert (last["endIndex"], last["hasMore"]) == (9, False)
    tail = store.read_rows(run_id, "default", start=-3, limit=10)
    assert [i for i, _, _ in tail.rows] == [7, 8, 9]
    beyond = store.read_rows(run_id, "default", start=50, limit=5)
    assert beyond.rows == []
    assert beyond.to_dict()["hasMore"] is False
    assert store.read_rows(run_id, "default", start=0, limit=0).rows == []


def test_stream_info_is_kept_merged_and_listed(store: Store) -> None:
    rid = make_run(store)
    store.write(
        rid,
        Batch(
            stream_info=[
                StreamInfoUpdate("loss", "training loss", ("train", "core"), {"unit": "nats"}, 5.0)
            ]
        ),
    )
    (info,) = store.list_streams(rid)  # listed before any row
    assert (info.name, info.count) == ("loss", 0)
    assert (info.description, info.tags, info.metadata) == (
        "training loss",
        ("train", "core"),
        {"unit": "nats"},
    )
    store.write(rid, rows_batch("loss", [{"v": 1.0, "_ts": 1.0}]))
    # None fields keep what was there; given ones replace
    store.write(rid, Batch(stream_info=[StreamInfoUpdate("loss", None, ("eval",), None, 6.0)]))
    (info,) = store.list_streams(rid)
    assert (info.count, info.description, info.tags, info.metadata) == (
        1,
        "training loss",
        ("eval",),
        {"unit": "nats"},
    )


def test_never_logged_stream_reads_empty(store: Store) -> None:
    run_id = make_run(store)
    page = store.read_rows(run_id, "never")
    assert (page.rows, page.total) == ([], 0)
    assert page.to_dict() == {
        "data": [],
        "startIndex": 0,
        "endIndex": -1,
        "total": 0,
        "hasMore": False,
    }
    cols = store.read_columns(run_id, "never")
    assert list(cols) == ["_index"]
    assert cols["_index"].dtype == np.int64 and len(cols["_index"]) == 0
    assert store.list_streams(run_id) == []


def test_read_columns_nan_for_missing_and_non_numeric(store: Store) -> None:
    run_id = make_run(store)
    store.write(run_id, rows_batch("default", [{"a": 1, "b": "x"}, {"a": 2.5}]))
    store.write(run_id, rows_batch("default", [{"b": 3, "c": True}, {"a": None}]))
    cols = store.read_columns(run_id, "default", ["a", "b", "c", "absent"])
    assert cols["_index"].tolist() == [0, 1, 2, 3]
    assert cols["_index"].dtype == np.int64
    for name in ("a", "b", "c", "absent"):
        assert cols[name].dtype == np.float64
        assert len(cols[name]) == 4
    np.testing.assert_array_equal(cols["a"], [1.0, 2.5, np.nan, np.nan])
    np.testing.assert_array_equal(cols["b"], [np.nan, np.nan, 3.0, np.nan])
    np.testing.assert_array_equal(cols["c"], [np.nan, np.nan, 1.0, np.nan])
    assert np.isnan(cols["absent"]).all()
    every = store.read_columns(run_id, "default")
    assert {"_index", "a", "b", "c"} <= set(every)
    np.testing.assert_array_equal(every["a"], cols["a"])


def test_read_columns_keeps_nonfinite_values(store: Store) -> None:
    run_id = make_run(store)
    store.write(
        run_id, rows_batch("default", [{"v": math.inf}, {"v": -math.inf}, {"v": 1.0}], True)
    )
    store.write(run_id, rows_batch("default", [{"v": math.nan}], True))
    values = store.read_columns(run_id, "default", ["v"])["v"]
    assert values[:3].tolist() == [math.inf, -math.inf, 1.0]
    assert math.isnan(values[3])


# --- logs, events, tracks, lineage ----------------------------------------------------------------


def test_logs_get_sequence_numbers_and_filter_by_level(store: Store) -> None:
    run_id = make_run(store)
    store.write(
        run_id,
        Batch(logs=[log("debug", "d", 1000.0), log("info", "i", 1001.0, metadata={"k": [1, 2]})]),
    )
    store.write(
        run_id,
        Batch(
            logs=[log("warn", "w", 1002.0, source="rank1"), log("error", "e"), log("fatal", "f")]
        ),
    )
    logs = store.read_logs(run_id)
    assert [(r.seq, r.message, r.level) for r in logs] == [
        (0, "d", "debug"),
        (1, "i", "info"),
        (2, "w", "warn"),
        (3, "e", "error"),
        (4, "f", "fatal"),
    ]
    assert logs[1].metadata == {"k": [1, 2]}
    assert logs[2].source == "rank1"
    assert logs[1].timestamp == pytest.approx(1001.0, abs=1e-3)
    assert [r.message for r in store.read_logs(run_id, level="warn")] == ["w", "e", "f"]
    assert [r.message for r in store.read_logs(run_id, level="error")] == ["e", "f"]
    assert [r.seq for r in store.read_logs(run_id, start=3)] == [3, 4]
    assert [r.seq for r in store.read_logs(run_id, start=1, limit=2)] == [1, 2]
    assert [r.seq for r in store.read_logs(run_id, level="warn", limit=1)] == [2]


def test_events_in_order_and_since(store: Store) -> None:
    run_id = make_run(store)
    store.write(
        run_id,
        Batch(
            events=[
                Event("started", 1000.0, source="trainer"),
                Event("epoch", 1010.0, metadata={"epoch": 1}),
            ]
        ),
    )
    store.write(run_id, Batch(events=[Event("epoch", 1020.0, metadata={"epoch": 2})]))
    events = store.read_events(run_id)
    assert [(e.name, e.wallclock) for e in events] == [
        ("started", 1000.0),
        ("epoch", 1010.0),
        ("epoch", 1020.0),
    ]
    assert events[0].source == "trainer"
    assert events[1].metadata == {"epoch": 1}
    assert [e.wallclock for e in store.read_events(run_id, since=1010.0)] == [1010.0, 1020.0]
    assert store.read_events(run_id, since=5000.0) == []


def test_tracks_merge_same_timestamp_and_read_ranges(store: Store) -> None:
    run_id = make_run(store)
    assert store.list_tracks(run_id) == []
    assert store.read_track(run_id, "robot/pose") == []
    store.write(
        run_id,
        Batch(
            tracks=[
                TrackEntry("robot/pose", 2.0, {"x": 1.0}),
                TrackEntry("robot/pose", 1.0, {"x": 0.0, "y": 0.0}),
                TrackEntry("robot/pose", 2.0, {"y": 5.0, "x": 9.0}),
                TrackEntry("camera", 1.5, {"frame": 3}),
            ]
        ),
    )
    store.write(run_id, Batch(tracks=[TrackEntry("robot/pose", 3.0, {"x": 2.0})]))
    # another batch at a timestamp already written: merged on read too, later fields win
    store.write(run_id, Batch(tracks=[TrackEntry("robot/pose", 2.0, {"x": 7.0, "z": 1.0})]))
    assert sorted(store.list_tracks(run_id)) == ["camera", "robot/pose"]
    assert store.read_track(run_id, "robot/pose") == [
        {"timestamp": 1.0, "x": 0.0, "y": 0.0},
        {"timestamp": 2.0, "x": 7.0, "y": 5.0, "z": 1.0},
        {"timestamp": 3.0, "x": 2.0},
    ]
    assert [e["timestamp"] for e in store.read_track(run_id, "robot/pose", start=2.0)] == [2.0, 3.0]
    assert [e["timestamp"] for e in store.read_track(run_id, "robot/pose", end=3.0)] == [1.0, 2.0]
    assert [e["timestamp"] for e in store.read_track(run_id, "robot/pose", 1.5, 2.5)] == [2.0]
    assert store.read_track(run_id, "camera") == [{"timestamp": 1.5, "frame": 3}]


def test_lineage_round_trip(store: Store) -> None:
    run_id = make_run(store)
    records = [
        LineageRecord(
            "train-set", "data", "/data/train", True, "ab" * 32, 1234, {"rows": 10}, 1000.0
        ),
        LineageRecord("model", "model", None, False, None, None, None, 1001.0),
    ]
    store.write(run_id, Batch(lineage=records[:1]))
    store.write(run_id, Batch(lineage=records[1:]))
    assert store.read_lineage(run_id) == records


def test_one_batch_of_every_kind(store: Store) -> None:
    run_id = make_run(store)
    batch = Batch(
        params=[ParamsUpdate({"lr": 0.1})],
        metadata=[MetadataUpdate("m", {"a": 1}, 1.0)],
        rows={"default": [{"loss": 1.0}]},
        logs=[log("info", "hello")],
        events=[Event("e", 1.0)],
        tracks=[TrackEntry("t", 1.0, {"v": 1})],
        lineage=[LineageRecord("d", "data", None, True)],
        patches=[
            RunPatch(status="running", at=time.time()),
            RunPatch(status="succeeded", at=time.time()),
        ],
    )
    store.write(run_id, batch)
    assert store.read_params(run_id).data == {"lr": 0.1}
    assert store.read_metadata(run_id)["m"][0] == {"a": 1}
    assert store.read_rows(run_id, "default").rows[0][1] == {"loss": 1.0}
    assert [r.message for r in store.read_logs(run_id)] == ["hello"]
    assert [e.name for e in store.read_events(run_id)] == ["e"]
    assert store.read_track(run_id, "t") == [{"timestamp": 1.0, "v": 1}]
    assert [r.name for r in store.read_lineage(run_id)] == ["d"]
    assert store.get_run(run_id).status == "succeeded"
    store.sync(run_id)  # durable; must not fail


# --- patches, status, liveness --------------------------------------------------------------------


def test_patches_change_run_fields(store: Store) -> None:
    run_id = make_run(store, "before", tags=("a",))
    created = store.get_run(run_id)
    time.sleep(0.002)
    store.write(
        run_id,
        Batch(
            patches=[
                RunPatch(
                    name="after",
                    description="d",
                    framework="jax",
                    backend="tpu",
                    group="g",
                    extra={"k": 1},
                    at=time.time(),
                ),
                RunPatch(extra={"j": [1, 2]}, at=time.time()),
            ]
        ),
    )
    info = store.get_run(run_id)
    assert (info.name, info.description, info.framework, info.backend, info.group) == (
        "after",
        "d",
        "jax",
        "tpu",
        "g",
    )
    assert info.extra == {"k": 1, "j": [1, 2]}
    assert info.updated_at > created.updated_at


def test_tags_add_and_reset(store: Store) -> None:
    run_id = make_run(store, tags=("a", "b"))
    store.write(run_id, Batch(patches=[RunPatch(tags=("b", "c"), at=time.time())]))
    assert store.get_run(run_id).tags == ("a", "b", "c")
    store.write(run_id, Batch(patches=[RunPatch(tags=("z",), reset_tags=True, at=time.time())]))
    assert store.get_run(run_id).tags == ("z",)
    assert [r.id for r in store.list_runs(where="tags contains 'z'")] == [run_id]
    assert store.list_runs(where="tags contains 'a'") == []


def test_status_history_and_sticky_terminal(store: Store) -> None:
    run_id = make_run(store)
    t = time.time()
    store.write(run_id, Batch(patches=[RunPatch(status="running", at=t)]))
    assert store.get_run(run_id).status == "running"
    store.write(run_id, Batch(patches=[RunPatch(status="failed", status_message="boom", at=t + 1)]))
    store.write(run_id, Batch(patches=[RunPatch(status="succeeded", at=t + 2)]))
    store.write(run_id, Batch(patches=[RunPatch(status="running", at=t + 3)]))
    info = store.get_run(run_id)
    assert info.status == "failed"
    assert [(c.status, c.message) for c in info.status_history] == [
        ("created", None),
        ("running", None),
        ("failed", "boom"),
    ]
    assert info.status_history[2].at == pytest.approx(t + 1)
    listed = store.list_runs(where="status = 'failed'")
    assert [r.id for r in listed] == [run_id]
    assert listed[0].status_history == info.status_history  # listings carry the history too


def test_status_aliases_and_invalid_status(store: Store) -> None:
    run_id = make_run(store)
    store.write(run_id, Batch(patches=[RunPatch(status="COMPLETED", at=time.time())]))
    assert store.get_run(run_id).status == "succeeded"
    other = make_run(store)
    with pytest.raises(InvalidArgumentError, match="bogus"):
        store.write(other, Batch(patches=[RunPatch(status="bogus", at=time.time())]))


def test_stale_heartbeat_reads_as_crashed(store: Store) -> None:
    run_id = make_run(store)
    t = time.time()
    store.write(run_id, Batch(patches=[RunPatch(status="running", at=t)]))
    store.heartbeat(run_id, t)
    assert store.get_run(run_id).status == "running"
    store.heartbeat(run_id, t - HEARTBEAT_STALE_AFTER - 60)
    assert store.get_run(run_id).status == "crashed"
    assert [r.status for r in store.list_runs()] == ["crashed"]
    assert [r.id for r in store.list_runs(where="status = 'crashed'")] == [run_id]
    store.heartbeat(run_id, time.time())  # alive again
    assert store.get_run(run_id).status == "running"
    assert [r.status for r in store.list_runs()] == ["running"]


def test_stale_heartbeat_does_not_touch_finished_runs(store: Store) -> None:
    run_id = make_run(store)
    t = time.time()
    store.write(
        run_id, Batch(patches=[RunPatch(status="running", at=t), RunPatch(status="stopped", at=t)])
    )
    store.heartbeat(run_id, t - HEARTBEAT_STALE_AFTER - 60)
    assert store.get_run(run_id).status == "stopped"
    created = make_run(store)
    store.heartbeat(created, t - HEARTBEAT_STALE_AFTER - 60)
    assert store.get_run(created).status == "created"


def test_crashed_cannot_be_stored(store: Store) -> None:
    run_id = make_run(store)
    with pytest.raises(InvalidArgumentError, match="crashed"):
        store.write(run_id, Batch(patches=[RunPatch(status="crashed", at=time.time())]))


# --- bulk reads of params and streams -------------------------------------------------------------

#: Ids no run has: plain ones (past one remote page of 1,000 ids, so paging is exercised),
#: one with a NUL (PostgreSQL text cannot hold it) and a lone surrogate (no valid text).
UNKNOWN_IDS = [f"nope-{i:04d}" for i in range(1200)] + ["nul\x00id", "\ud800"]


def test_read_params_many_is_read_params_of_each(store: Store) -> None:
    a, b, empty = make_run(store, "a"), make_run(store, "b"), make_run(store, "empty")
    store.write(a, Batch(params=[ParamsUpdate({"lr": 0.1, "model.depth": 18}, at=1000.0)]))
    store.write(
        a, Batch(params=[ParamsUpdate({"lr": 0.2, "cap": math.inf, "ks": [3, 5]}, at=1001.0)])
    )
    store.write(b, Batch(params=[ParamsUpdate({"seed": 3}, at=1002.0)]))
    many = store.read_params_many([b, a, *UNKNOWN_IDS, empty, a])
    assert set(many) == {a, b, empty}
    assert many == {r: store.read_params(r) for r in (a, b, empty)}
    assert many[a].data == {"lr": 0.2, "model.depth": 18, "cap": math.inf, "ks": [3, 5]}
    assert (many[a].version, many[b].version) == (2, 1)
    assert (many[empty].version, many[empty].data) == (0, {})
    assert store.read_params_many([]) == {}
    assert store.read_params_many(UNKNOWN_IDS) == {}
    store.delete_run(b)
    assert set(store.read_params_many([a, b])) == {a}


def test_list_streams_many_is_list_streams_of_each(store: Store) -> None:
    a, b, empty = make_run(store, "a"), make_run(store, "b"), make_run(store, "empty")
    store.write(
        a,
        Batch(
            rows={
                "default": [{"loss": 1.0, "_step": 0, "_ts": 1.0}],
                "eval": [{"acc": 0.5, "top": math.inf}, {"acc": 0.6}],
            },
            nonfinite={"eval"},
        ),
    )
    described = StreamInfoUpdate("notes", "no rows yet", ("t",), {"unit": "nats"}, 5.0)
    store.write(a, Batch(stream_info=[described]))
    store.write(b, rows_batch("default", [{"x": 1.0}, {"x": 2.0, "y": 3.0}]))
    many = store.list_streams_many([b, a, *UNKNOWN_IDS, empty, a])
    assert set(many) == {a, b, empty}
    assert many == {r: store.list_streams(r) for r in (a, b, empty)}
    assert [(s.name, s.count) for s in many[a]] == [("default", 1), ("eval", 2), ("notes", 0)]
    assert (many[a][2].description, many[a][2].tags, many[a][2].metadata) == (
        "no rows yet",
        ("t",),
        {"unit": "nats"},
    )
    assert {"x", "y"} <= set(many[b][0].fields)
    assert many[empty] == []
    assert store.list_streams_many([]) == {}
    assert store.list_streams_many(UNKNOWN_IDS) == {}
    store.delete_run(b)
    assert set(store.list_streams_many([a, b])) == {a}


# --- read_columns from a start index (live chart polls) -------------------------------------------


def _long_mixed_stream(store: Store) -> str:
    """11 rows in three batches — past the PostgreSQL contract store's 3-row chunks, so a
    read from a start index cuts into a chunk, starts at a chunk border or lands in the hot
    rows. ``early`` appears only in the first rows, ``b`` is sometimes a string, ``_step`` is
    logged on some rows only, one value is infinite."""
    run_id = make_run(store)
    first = [{"a": i, "early": -i, "b": "x" if i % 2 else i, "_ts": 100.0 + i} for i in range(4)]
    second = [{"a": i * 0.5, "_step": 10 * i, "_ts": 100.0 + i} for i in range(4, 8)]
    second[1]["a"] = math.inf
    third = [{"b": i, "c": True, "_ts": 100.0 + i} for i in range(8, 11)]
    store.write(run_id, rows_batch("default", first))
    store.write(run_id, rows_batch("default", second, nonfinite=True))
    store.write(run_id, rows_batch("default", third))
    return run_id


@pytest.mark.parametrize("fields", [None, ["a", "b", "_step", "early", "absent"]])
def test_read_columns_from_start_is_the_full_read_sliced(
    store: Store, fields: list[str] | None
) -> None:
    run_id = _long_mixed_stream(store)
    full = store.read_columns(run_id, "default", fields)
    assert full["_index"].tolist() == list(range(11))
    assert full["a"][5] == math.inf and np.isnan(full["early"][4:]).all()
    for start in (0, 1, 3, 4, 5, 8, 9, 10, 11, 12, 1000):
        part = store.read_columns(run_id, "default", fields, start=start)
        assert set(part) == set(full), start
        assert part["_index"].dtype == np.int64
        assert part["_index"].tolist() == list(range(start, 11)), start
        for name, column in full.items():
            assert part[name].dtype == column.dtype, (start, name)
            np.testing.assert_array_equal(part[name], column[start:], err_msg=f"{start} {name}")


def test_read_columns_start_on_a_missing_stream_and_bad_starts(store: Store) -> None:
    run_id = _long_mixed_stream(store)
    never = store.read_columns(run_id, "never", ["a"], start=5)
    assert set(never) == {"_index", "a"}
    assert len(never["_index"]) == 0 and len(never["a"]) == 0
    for bad in (-1, -11):
        with pytest.raises(InvalidArgumentError, match=str(bad)):
            store.read_columns(run_id, "default", ["a"], start=bad)
    with pytest.raises(NotFoundError):
        store.read_columns("nope-nope", "default", start=3)


# --- field aggregates of many runs (the runs table's metric columns) ------------------------------


def _eval_stream(store: Store) -> str:
    """7 ``eval`` rows in two batches (PostgreSQL: two 3-row chunks and one hot row): NaN,
    ±inf, None, text and booleans mixed in; ``neg``'s first chunk holds -inf beside its only
    finite value; ``flag`` holds a value in a chunk only; ``only_inf`` no finite value."""
    run_id = make_run(store, "eval")
    first = [
        {"acc": 0.5, "x": None, "neg": -math.inf},
        {"acc": math.nan, "x": "s", "neg": 2.0},
        {"acc": False, "neg": math.nan},
        {"acc": 0.75, "only_inf": math.inf},
    ]
    second = [{"acc": "high", "only_inf": -math.inf}, {"flag": True}, {"acc": 0.25}]
    store.write(run_id, rows_batch("eval", first, nonfinite=True))
    store.write(run_id, rows_batch("eval", second, nonfinite=True))
    return run_id


def test_field_aggregates_many_is_the_aggregate_of_read_columns(store: Store) -> None:
    from runlane.entities import FieldAggregate
    from runlane.store.columns import field_aggregate

    mixed, scored, bare = _long_mixed_stream(store), _eval_stream(store), make_run(store, "bare")
    pairs = [
        ("default", "a"),
        ("default", "early"),
        ("default", "b"),
        ("default", "c"),
        ("default", "_step"),
        ("default", "absent"),
        ("eval", "acc"),
        ("eval", "x"),
        ("eval", "neg"),
        ("eval", "only_inf"),
        ("eval", "flag"),
        ("never", "a"),
        ("bad/../name", "a"),
    ]
    many = store.field_aggregates_many([scored, *UNKNOWN_IDS, mixed, bare, mixed], [*pairs, *pairs])
    assert set(many) == {mixed, scored, bare}
    for run_id in (mixed, scored, bare):
        assert list(many[run_id]) == pairs, run_id  # each pair once, in the asked order
        for stream, field in pairs[:-1]:
            column = store.read_columns(run_id, stream, [field])[field]
            assert many[run_id][(stream, field)] == field_aggregate(column), (run_id, field)
    got = {pair: (a.last, a.min, a.max) for pair, a in many[mixed].items()}
    assert got[("default", "a")] == (3.5, 0.0, 3.5)  # the inf of row 5 does not count
    assert got[("default", "early")] == (-3.0, -3.0, 0.0)  # cold rows only on PostgreSQL
    assert got[("default", "b")] == (10.0, 0.0, 10.0)  # text values skipped
    assert got[("default", "c")] == (1.0, 1.0, 1.0)  # booleans are 0 and 1
    assert got[("default", "_step")] == (70.0, 40.0, 70.0)
    got = {pair: (a.last, a.min, a.max) for pair, a in many[scored].items()}
    assert got[("eval", "acc")] == (0.25, 0.0, 0.75)
    assert got[("eval", "neg")] == (2.0, 2.0, 2.0)
    assert got[("eval", "flag")] == (1.0, 1.0, 1.0)
    empty = FieldAggregate(None, None, None)
    for pair in [("eval", "x"), ("eval", "only_inf"), ("default", "absent"), ("never", "a")]:
        assert many[scored].get(pair, empty) == empty and many[mixed][pair] == empty
    assert all(a == empty for a in many[bare].values())
    assert store.field_aggregates_many([mixed], []) == {mixed: {}}
    assert store.field_aggregates_many([], pairs) == {}
    store.delete_run(scored)
    assert set(store.field_aggregates_many([mixed, scored], pairs[:1])) == {mixed}


@pytest.mark.parametrize("bad", [[("default",)], [("default", 3)], ["default.loss"], [None]])
def test_field_aggregates_many_refuses_what_is_no_pair(store: Store, bad: list[Any]) -> None:
    run_id = make_run(store)
    with pytest.raises(InvalidArgumentError, match="pair"):
        store.field_aggregates_many([run_id], bad)


def test_field_aggregates_from_postgres_summaries_of_many_sub_buckets(tmp_path: Any) -> None:
    """PostgreSQL answers min and max of cold chunks from their summaries (several 100-row
    sub-buckets per chunk here, and several fields per summary), reading a chunk only where
    its summary holds an infinity: the answers equal the full columns' aggregates."""
    from runlane.store.columns import field_aggregate
    from support.stores import postgres_store

    rng = np.random.default_rng(7)
    values = rng.normal(size=(4, 1000))
    values[0, rng.choice(1000, 100, replace=False)] = math.nan
    values[2, 300] = math.inf  # the second chunk of ``w`` holds +inf, the fourth -inf
    values[2, 780] = -math.inf
    values[3, 600:] = math.nan  # ``late`` ends in a chunk: its last value is read there
    rows = [dict(zip(("u", "v", "w", "late"), column, strict=True)) for column in values.T.tolist()]
    with postgres_store(tmp_path, chunk_rows=250) as store:
        run_id = make_run(store)
        for first in range(0, 1000, 250):
            store.write(run_id, rows_batch("default", rows[first : first + 250], nonfinite=True))
        pairs = [("default", name) for name in ("u", "v", "w", "late")]
        many = store.field_aggregates_many([run_id], pairs)[run_id]
        for (_stream, name), row in zip(pairs, values, strict=True):
            finite = row[np.isfinite(row)]
            expected = (float(finite[-1]), float(finite.min()), float(finite.max()))
            got = many[("default", name)]
            assert (got.last, got.min, got.max) == expected, name
            column = store.read_columns(run_id, "default", [name])[name]
            assert got == field_aggregate(column), name

"""Hypothesis over every public SDK call, on the embedded local store.

Each call gets hostile names and values (see ``support_fuzz``). The property, for every call:
it either returns and the value reads back equal (by the documented coercion), or it raises a
runlane error whose message names the bad value (or, for values, the key that holds it) —
never another exception type. After each test the run finishes without a background write
failure (the writer never choked on something the call accepted), the writer thread is alive,
and every JSON/JSONL file under the data root parses.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support_fuzz import (
    FUZZ,
    assert_files_parse,
    clean_names,
    documents,
    floats,
    names_value,
    outcome,
    same,
    scalars,
    texts,
)

import runlane
from runlane.errors import (
    InvalidArgumentError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    QuerySyntaxError,
    RunlaneError,
)
from runlane.names import check_path
from runlane.sdk import writer as w
from runlane.sdk.run import Run

NO_CAPTURE: dict[str, Any] = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}
BAD_INPUT = (InvalidNameError, InvalidValueError, InvalidArgumentError)
steps = st.one_of(st.none(), st.integers(-3, 2**70), floats, texts, st.just(np.int64(4)))
timestamps = st.one_of(st.none(), floats, st.integers(-(2**40), 2**40), texts)
field_keys = st.one_of(texts, clean_names)


@pytest.fixture
def run(root: Path) -> Run:
    return runlane.init("fuzz/sdk", name="target", dir=root, **NO_CAPTURE)


#: Outcomes of the current test: each fuzz test must see calls both kept and refused, so a
#: strategy that only ever produces bad (or only good) input cannot pass unnoticed.
TALLY: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _tally() -> None:
    TALLY.clear()


def attempt(call: Callable[[], Any]) -> tuple[bool, Any]:
    """:func:`outcome`, counted in TALLY."""
    ok, result = outcome(call)
    TALLY["kept" if ok else "refused"] += 1
    return ok, result


def finish_and_check(run: Run, root: Path, *, both: bool = True) -> None:
    """The run ends with no background failure; the writer lives; every file parses; the
    test saw calls kept and calls refused."""
    if both:
        assert TALLY["kept"] > 0 and TALLY["refused"] > 0, dict(TALLY)
    run.finish()
    writer = w.get_writer()
    assert writer._thread is not None and writer._thread.is_alive()
    assert assert_files_parse(root) > 0
    assert [v.id for v in runlane.runs("fuzz/sdk", dir=root) if v.id == run.id] == [run.id]


def refused(error: RunlaneError, *candidates: object) -> None:
    """A refusal is an argument error whose message names one of ``candidates``."""
    assert isinstance(error, BAD_INPUT), f"{type(error).__name__}: {error}"
    message = str(error)
    assert any(names_value(message, c) for c in candidates), (
        f"{type(error).__name__} message {message!r} names none of {candidates!r}"
    )


def plain(value: Any) -> Any:
    """What the SDK keeps for a metric value (numpy scalars → Python scalars)."""
    if isinstance(value, np.generic | np.ndarray):
        return value.item()
    return value


# --- metrics ------------------------------------------------------------------------------
def test_run_log_reads_back_or_refuses(run: Run, root: Path) -> None:
    count = 0

    @FUZZ
    @given(
        row=st.dictionaries(field_keys, scalars, max_size=4),
        step=steps,
        timestamp=timestamps,
        x_axis=st.one_of(st.none(), field_keys),
    )
    def check(row: dict[str, Any], step: Any, timestamp: Any, x_axis: Any) -> None:
        nonlocal count
        ok, error = attempt(lambda: run.log(row, step=step, timestamp=timestamp, x_axis=x_axis))
        if not ok:
            refused(error, *row, *row.values(), step, timestamp, x_axis)
            return
        run.flush()
        count += 1
        assert run.metrics().stats()["totalDataPoints"] == count
        [stored] = run.metrics().read(count - 1, 1)["data"]
        data = stored["data"]
        for key, value in row.items():
            assert same(data[key], value), (key, data[key], value)
        if step is not None:
            assert data["_step"] == int(plain(step))
        assert math.isfinite(data["_ts"])
        if timestamp is not None:
            assert data["_ts"] == float(timestamp)

    check()
    finish_and_check(run, root)


def test_metric_streams_read_back_or_refuse(run: Run, root: Path) -> None:
    counts: dict[str, int] = {}

    @FUZZ
    @given(
        name=st.one_of(texts, clean_names),
        fields=st.dictionaries(field_keys, scalars, max_size=3),
        ts=st.one_of(st.none(), st.just(-1), floats),
    )
    def check(name: str, fields: dict[str, Any], ts: Any) -> None:
        ok, error = attempt(lambda: run.metrics(name).log(ts, **fields))
        if not ok:
            refused(error, name, *fields, *fields.values(), ts)
            return
        run.flush()
        counts[name] = counts.get(name, 0) + 1
        stream = run.metrics(name)
        page = stream.read(counts[name] - 1, 1)
        [stored] = page["data"]
        for key, value in fields.items():
            assert same(stored["data"][key], value), (key, stored["data"][key], value)
        stats = stream.stats()
        assert stats["totalDataPoints"] == counts[name]
        numeric = [k for k, v in fields.items() if type(plain(v)) in (int, float)]
        columns = stream.columns(numeric)
        for key in numeric:
            got = columns[key][-1]
            want = float(plain(fields[key]))
            assert (math.isnan(got) and math.isnan(want)) or got == want

    check()
    finish_and_check(run, root)


# --- params, metadata ---------------------------------------------------------------------
def expected_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The documented flattening: nested mappings → dotted keys; empty mappings vanish."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.update(expected_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def expected_param_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [expected_param_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): expected_param_value(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((expected_param_value(v) for v in value), key=repr)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def test_params_read_back_or_refuse(run: Run, root: Path) -> None:
    @FUZZ
    @given(params=st.dictionaries(field_keys, documents, max_size=4), merge=st.booleans())
    def check(params: dict[str, Any], merge: bool) -> None:
        before = run.params.get()
        ok, error = attempt(lambda: run.params.set(params, reset=not merge))
        if not ok:
            refused(error, *params, *_leaves(params))
            return
        run.flush()
        flat = {k: expected_param_value(v) for k, v in expected_params(params).items()}
        want = {**before, **flat} if merge else flat
        got = run.params.get()
        assert set(got) == set(want)
        for key, value in want.items():
            assert same(got[key], value), (key, got[key], value)
        assert isinstance(run.params.get(flatten=False), dict)

    check()
    finish_and_check(run, root)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [*value, *(leaf for v in value.values() for leaf in _leaves(v))]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_metadata_reads_back_or_refuses(run: Run, root: Path) -> None:
    @FUZZ
    @given(key=st.one_of(texts, clean_names), value=st.dictionaries(field_keys, documents))
    def check(key: str, value: dict[str, Any]) -> None:
        ok, error = attempt(lambda: run.update_metadata(key, value))
        if not ok:
            refused(error, key, *_leaves(value))
            return
        run.flush()
        stored = run.metadata()[key]["value"]
        assert same(stored, {str(k): expected_param_value(v) for k, v in value.items()})

    check()
    finish_and_check(run, root)


# --- logs, events, tracks -------------------------------------------------------------------
levels = st.one_of(
    st.sampled_from(["debug", "info", "warn", "warning", "ERROR", "fatal", "critical"]), texts
)


def test_log_messages_read_back_or_refuse(run: Run, root: Path) -> None:
    @FUZZ
    @given(
        message=st.one_of(texts, scalars),
        level=levels,
        metadata=st.one_of(st.none(), st.dictionaries(field_keys, documents, max_size=3)),
    )
    def check(message: Any, level: str, metadata: dict[str, Any] | None) -> None:
        ok, error = attempt(lambda: run.log_message(message, level, metadata, echo=False))
        if not ok:
            refused(error, level, str(message), *_leaves(metadata or {}))
            return
        run.flush()
        last = run.logs()[-1]
        assert last.message == str(message)
        assert last.level in ("debug", "info", "warn", "error", "fatal")
        if metadata:
            want = {str(k): expected_param_value(v) for k, v in metadata.items()}
            assert same(last.metadata, want), (last.metadata, want)

    check()
    finish_and_check(run, root)


def test_events_read_back_or_refuse(run: Run, root: Path) -> None:
    @FUZZ
    @given(
        name=st.one_of(texts, clean_names),
        source=st.one_of(st.none(), texts),
        wallclock=st.one_of(st.none(), floats, st.integers(-(2**70), 2**70)),
        metadata=st.one_of(st.none(), st.dictionaries(field_keys, documents, max_size=3)),
    )
    def check(name: str, source: Any, wallclock: Any, metadata: Any) -> None:
        ok, error = attempt(
            lambda: run.log_event(name, source=source, wallclock=wallclock, metadata=metadata)
        )
        if not ok:
            refused(error, name, source, wallclock, *_leaves(metadata or {}))
            return
        run.flush()
        last = run.events()[-1]
        assert last.name == name and last.source == source
        if wallclock is not None:
            assert last.wallclock == float(wallclock)
        if metadata:
            want = {str(k): expected_param_value(v) for k, v in metadata.items()}
            assert same(last.metadata, want)

    check()
    finish_and_check(run, root)


def test_tracks_read_back_or_refuse(run: Run, root: Path) -> None:
    @FUZZ
    @given(
        topic=st.one_of(texts, clean_names, st.just("robot/arm")),
        fields=st.dictionaries(field_keys, scalars, max_size=3),
        ts=st.one_of(st.none(), floats),
    )
    def check(topic: str, fields: dict[str, Any], ts: Any) -> None:
        before = run.tracks(topic).read() if _valid_topic(topic) else []
        ok, error = attempt(lambda: run.tracks(topic).append(ts, **fields))
        if not ok:
            refused(error, topic, *fields, *fields.values(), ts)
            return
        run.flush()
        entries = run.tracks(topic).read()
        assert len(entries) >= len(before)
        if ts is None:  # a new timestamp, after this thread's previous one
            old = {e["timestamp"] for e in before}
            [entry] = [e for e in entries if e["timestamp"] not in old]
        elif ts == -1:  # ML-Dash's rule: the previous timestamp of this thread
            entry = next(e for e in entries if all(k in e for k in fields))
        else:  # the entry at ts, merged with what was there
            [entry] = [e for e in entries if e["timestamp"] == float(ts)]
        for key, value in fields.items():
            assert same(entry[key], expected_param_value(value)), (key, entry[key], value)

    check()
    finish_and_check(run, root)


def _valid_topic(topic: str) -> bool:
    return outcome(lambda: check_path(topic, "track topic"))[0]


# --- run info -------------------------------------------------------------------------------
def test_run_info_setters_read_back_or_refuse(run: Run, root: Path) -> None:
    @FUZZ
    @given(
        name=st.one_of(texts, clean_names),
        description=st.one_of(texts, scalars),
        tags=st.one_of(texts, st.lists(st.one_of(texts, clean_names), max_size=3)),
        reset=st.booleans(),
    )
    def check(name: str, description: Any, tags: Any, reset: bool) -> None:
        before = run.info.tags
        ok, error = attempt(lambda: run.set_name(name))
        if ok:
            assert run.info.name == name
        else:
            refused(error, name)
        ok, error = attempt(lambda: run.set_description(description))
        if ok:
            assert run.info.description == str(description)
        else:
            refused(error, description)
        ok, error = attempt(lambda: run.add_tags(tags, reset=reset))
        if not ok:
            items = tags if isinstance(tags, list) else tags.split(",")
            refused(error, tags, *items, *(str(t).strip() for t in items))
            return
        items = tags.split(",") if isinstance(tags, str) else tags
        wanted = [t.strip() for t in items if t.strip()]
        got = run.info.tags
        assert set(wanted) <= set(got)
        if not reset:
            assert set(before) <= set(got)

    check()
    finish_and_check(run, root)


def test_init_creates_a_readable_run_or_refuses(root: Path) -> None:
    made: list[Run] = []

    @FUZZ
    @given(
        project=st.one_of(texts, clean_names, st.builds("{}/{}".format, clean_names, texts)),
        name=st.one_of(st.none(), texts, clean_names),
        folder=st.one_of(st.none(), texts, st.just("a/b"), st.just("../up")),
        tags=st.one_of(st.none(), texts),
        config=st.one_of(st.none(), st.dictionaries(clean_names, documents, max_size=3)),
    )
    def check(project: str, name: Any, folder: Any, tags: Any, config: Any) -> None:
        ok, result = attempt(
            lambda: runlane.init(
                project, name=name, folder=folder, tags=tags, config=config, dir=root, **NO_CAPTURE
            )
        )
        if not ok:
            parts = project.split("/", 1)
            tag_items = [t.strip() for t in (tags or "").split(",")]
            refused(result, project, *parts, name, folder, *tag_items, *_leaves(config or {}))
            return
        made.append(result)
        info = result.info
        assert info.status == "running"
        if name is not None:
            assert info.name == name or info.name.startswith(f"{name}-")
        run_dir = Path(result.path or "")
        assert run_dir.resolve().is_relative_to(root.resolve())
        view = runlane.open(result.id, dir=root)
        assert view.name == info.name
        result.finish()

    check()
    assert TALLY["kept"] > 0 and TALLY["refused"] > 0, dict(TALLY)
    for made_run in made:
        assert runlane.open(made_run.id, dir=root).status == "succeeded"
    assert assert_files_parse(root) > 0


# --- artifacts ------------------------------------------------------------------------------
def test_log_artifact_names_stay_in_the_run_folder(run: Run, root: Path, tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x00" * 64)
    run_dir = Path(run.path or "").resolve()

    @FUZZ
    @given(
        name=st.one_of(st.none(), texts, clean_names),
        rel_path=st.one_of(st.none(), texts, st.just("a/b/"), st.just("./x"), st.just("a/../..")),
    )
    def check(name: Any, rel_path: Any) -> None:
        ok, result = attempt(lambda: run.log_artifact(source, name=name, rel_path=rel_path))
        if not ok:
            refused(result, name, rel_path)
            return
        assert (
            Path(run.get_outputs_path(rel_path)).resolve().is_relative_to(run_dir)
            if rel_path
            else True
        )
        run.flush()  # the lineage record is written by the writer thread
        assert all(p.resolve().is_relative_to(run_dir) for p in run_dir.rglob("*"))
        copies = [p for p in run_dir.rglob(source.name) if p.is_file()]
        assert copies and all(p.read_bytes() == source.read_bytes() for p in copies)

    check()
    finish_and_check(run, root)


# --- reading back: open and search ---------------------------------------------------------
def test_open_and_search_refuse_or_answer(run: Run, root: Path) -> None:
    run.params.set(lr=0.1)
    run.flush()

    @FUZZ
    @given(
        ref=st.one_of(texts, clean_names, st.just(run.id), st.just(run.id[:8])),
        where=st.one_of(
            texts,
            st.builds("name = {!r}".format, texts),
            st.builds("params.{} > {}".format, clean_names, st.integers()),
            st.builds("tags contains {!r}".format, texts),
            st.just("params.lr > 0; DROP TABLE runs"),
        ),
        sort=st.one_of(st.none(), texts, st.sampled_from(["-created", "params.lr", "name"])),
    )
    def check(ref: str, where: str, sort: Any) -> None:
        try:
            view = runlane.open(ref, dir=root)
        except NotFoundError as exc:
            assert names_value(str(exc), ref) or "ambiguous" in str(exc)
        except RunlaneError as exc:
            refused(exc, ref)
        else:
            assert view.id == run.id
        try:
            found = runlane.runs("fuzz/sdk", where=where, sort=sort, dir=root)
        except (QuerySyntaxError, InvalidArgumentError) as exc:
            assert str(exc)
        else:
            assert {v.id for v in found} <= {run.id}
        assert [v.id for v in runlane.runs("fuzz/sdk", dir=root)] == [run.id]

    check()
    finish_and_check(run, root, both=False)


def test_huge_and_deep_values_do_not_stall_the_writer(run: Run, root: Path) -> None:
    """A 10 MB string, a 1,000-deep param and 10,000 fields: refused or kept, never a crash."""
    big = "z" * 10_000_000
    run.log_message(big)
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(1000):
        node["d"] = {}
        node = node["d"]
    node["leaf"] = 1
    ok, error = attempt(lambda: run.params.set(deep=deep))
    if not ok:
        refused(error, "deep.d.d.d")
    ok, error = outcome(lambda: run.update_metadata("deep", deep))
    if not ok:
        refused(error, "deep")
    wide = {f"f{i}": float(i) for i in range(10_000)}
    run.log(wide)
    run.flush()
    assert run.logs()[-1].message == big
    assert run.history()[-1]["f9999"] == 9999.0
    finish_and_check(run, root, both=False)

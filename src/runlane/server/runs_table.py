"""What the web UI's runs table asks beyond a page of runs: column values, totals, groups and
the keys its column picker offers.

Everything is read through the :class:`~runlane.store.base.Store` protocol, so the answers are
the same over a local folder and over PostgreSQL:

* **Columns** (:func:`parse_columns`, :func:`column_values`): ``params.<key>``,
  ``meta.<key>`` and ``metrics.<key>`` with an optional aggregate ``:last`` (the default),
  ``:min`` or ``:max`` over the finite values of the field. A metric key is the field name for
  the ``default`` stream and ``<stream>.<field>`` for the others, as in the filter language.
* **Totals** (:func:`count_runs`): the number of runs a ``where`` selects
  (:meth:`~runlane.store.base.Store.count_runs`: one query, nothing listed).
* **Groups** (:func:`group_runs`): the runs a ``where`` selects, grouped by the value of one
  field (``params.<key>``, ``meta.<key>``, ``tags`` or a text field such as ``status``), from
  :meth:`~runlane.store.base.Store.group_runs` (one query). Each group carries a
  filter-language condition that selects exactly its runs, so a client pages through a group
  with ``where = (<where>) and (<group where>)``. A run is in one group per tag.

Bad column texts and grouping fields raise :class:`~runlane.errors.InvalidArgumentError`
naming the value and what is allowed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal as TypingLiteral

import orjson

from runlane.entities import RunInfo
from runlane.errors import InvalidArgumentError
from runlane.query import Compare, Contains, Expr, Field, In, IsNull, Literal, to_text
from runlane.query._values import kind_of
from runlane.store.base import Store
from runlane.store.grouping import GROUP_FORMS as GROUP_FORMS
from runlane.store.grouping import GROUP_TEXT_FIELDS as GROUP_TEXT_FIELDS
from runlane.store.grouping import group_field as group_field
from runlane.store.grouping import needs_ids

Aggregate = TypingLiteral["last", "min", "max"]
AGGREGATES: tuple[Aggregate, ...] = ("last", "min", "max")
COLUMN_KINDS = ("params", "meta", "metrics")
COLUMN_FORMS = "params.<key>, meta.<key> or metrics.<key>[:last|:min|:max]"
MAX_GROUPS = 500
MAX_ID_LIST = 1000  # a group of unfilterable values lists its run ids up to this many
_KIND_ORDER = {"num": 0, "text": 1, "bool": 2, "other": 3, "null": 4}


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: ``text`` as the client wrote it, parsed into its parts."""

    text: str
    kind: str  # params | meta | metrics
    key: str
    aggregate: Aggregate = "last"


def parse_columns(texts: Iterable[str]) -> list[Column]:
    """Parse column texts; duplicates are dropped. Raises InvalidArgumentError."""
    out: dict[str, Column] = {}
    for text in texts:
        if text in out:
            continue
        kind, dot, rest = text.partition(".")
        if kind not in COLUMN_KINDS or not dot or not rest:
            raise InvalidArgumentError(f"column {text!r} is not one of {COLUMN_FORMS}")
        aggregate: Aggregate = "last"
        if kind == "metrics":
            key, colon, agg = rest.rpartition(":")
            if colon:
                if agg not in AGGREGATES:
                    raise InvalidArgumentError(
                        f"column {text!r}: aggregate {agg!r} is not one of {', '.join(AGGREGATES)}"
                    )
                aggregate = AGGREGATES[AGGREGATES.index(agg)]
                rest = key
            if not rest:
                raise InvalidArgumentError(f"column {text!r} is not one of {COLUMN_FORMS}")
        out[text] = Column(text, kind, rest, aggregate)
    return list(out.values())


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _metric_place(key: str, fields: dict[str, set[str]]) -> tuple[str, str] | None:
    """``(stream, field)`` of a metric key: a ``default`` field, else ``<stream>.<field>``."""
    if key in fields.get("default", ()):
        return "default", key
    for stream, names in fields.items():
        if stream != "default" and key.startswith(stream + "."):
            field = key[len(stream) + 1 :]
            if field in names:
                return stream, field
    return None


def column_values(
    store: Store, infos: Sequence[RunInfo], columns: Sequence[Column]
) -> list[dict[str, Any]]:
    """``{column text: value}`` for each run of ``infos`` (in order); a column a run lacks is
    left out.

    A page costs at most three bulk reads whatever its number of runs, each only when a
    column needs it: the params (:meth:`~runlane.store.base.Store.read_params_many`), the
    stream listings that place each metric key in a stream
    (:meth:`~runlane.store.base.Store.list_streams_many`), then the asked aggregates of every
    placed (stream, field) (:meth:`~runlane.store.base.Store.field_aggregates_many`). A run
    deleted meanwhile gets its meta values only."""
    ids = [info.id for info in infos]
    params = store.read_params_many(ids) if any(c.kind == "params" for c in columns) else {}
    metrics = [c for c in columns if c.kind == "metrics"]
    streams = store.list_streams_many(ids) if metrics else {}
    places: dict[str, dict[str, tuple[str, str]]] = {}  # run id → column text → place
    for run_id, listed in streams.items():
        fields = {s.name: set(s.fields) for s in listed}
        found = {c.text: _metric_place(c.key, fields) for c in metrics}
        places[run_id] = {text: place for text, place in found.items() if place is not None}
    pairs = sorted({place for found in places.values() for place in found.values()})
    wanted = [run_id for run_id, found in places.items() if found]
    aggregates = store.field_aggregates_many(wanted, pairs) if wanted else {}
    out: list[dict[str, Any]] = []
    for info in infos:
        values: dict[str, Any] = {}
        doc = params.get(info.id)
        for c in columns:
            if c.kind == "params" and doc is not None and c.key in doc.data:
                values[c.text] = _finite(doc.data[c.key])
            elif c.kind == "meta" and c.key in info.extra:
                values[c.text] = _finite(info.extra[c.key])
        found_aggregates = aggregates.get(info.id, {})
        for c in metrics:
            place = places.get(info.id, {}).get(c.text)
            aggregate = found_aggregates.get(place) if place is not None else None
            value = None if aggregate is None else getattr(aggregate, c.aggregate)
            if value is not None:
                values[c.text] = value
        out.append(values)
    return out


def count_runs(store: Store, project: str | None, where: str | None) -> int:
    """How many runs ``where`` selects in ``project``."""
    return store.count_runs(project=project, where=where)


# --- groups -----------------------------------------------------------------------------------
def _group_key(value: Any) -> tuple[str, Any]:
    kind = kind_of(value)
    if kind == "null":
        return kind, None
    if needs_ids(value):
        return "other", orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if kind == "other":
        return kind, repr(value)
    if kind == "num" and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return kind, int(value)  # 1 and 1.0 are one group, shown as 1
    return kind, value


def _condition(field: Field, kind: str, value: Any, ids: list[str], count: int) -> Expr | None:
    if kind == "null":
        return IsNull(field)
    if kind == "other":
        if len(ids) < count or len(ids) > MAX_ID_LIST:
            return None
        return In(Field("id"), tuple(Literal(i) for i in ids))
    if field.root == "tags":
        return Contains(field, Literal(value))
    return Compare(field, "=", Literal(value))


def group_runs(
    store: Store,
    project: str | None,
    where: str | None,
    by: str,
    limit: int = MAX_GROUPS,
) -> dict[str, Any]:
    """Groups of the runs ``where`` selects, by the value of ``by``, ordered by value
    (numbers, then text, then booleans, then other JSON values, then the group of runs without
    a value). Each group is ``{"value", "label", "count", "where"}``; ``where`` selects exactly
    the group's runs (``null`` only for a group of more than :data:`MAX_ID_LIST` runs holding
    list or dict values). ``truncated`` tells that groups past ``limit`` were left out."""
    field = group_field(by)
    total = store.count_runs(project=project, where=where)
    counts: Counter[tuple[str, Any]] = Counter()
    shown: dict[tuple[str, Any], Any] = {}
    ids: dict[tuple[str, Any], list[str]] = {}
    for group in store.group_runs(str(field), project=project, where=where, max_ids=MAX_ID_LIST):
        key = _group_key(group.value)
        counts[key] += group.count
        shown.setdefault(key, group.value)
        if key[0] == "other":
            ids.setdefault(key, []).extend(group.ids)
    ordered = sorted(counts, key=lambda k: (_KIND_ORDER[k[0]], "" if k[1] is None else k[1]))
    groups = []
    for key in ordered[:limit]:
        condition = _condition(field, key[0], key[1], ids.get(key, []), counts[key])
        value = key[1] if key[0] in ("num", "text", "bool") else shown[key]
        groups.append(
            {
                "value": None if key[0] == "null" else value,
                "label": _label(value, key),
                "count": counts[key],
                "where": None if condition is None else to_text(condition),
            }
        )
    return {
        "by": str(field),
        "total": total,
        "groups": groups,
        "truncated": len(ordered) > limit,
    }


def _label(value: Any, key: tuple[str, Any]) -> str:
    if key[0] == "null":
        return "(none)"
    if key[0] == "bool":
        return "true" if value else "false"
    if key[0] == "other":
        return str(key[1])
    return str(value)


# --- keys -------------------------------------------------------------------------------------
def column_keys(
    store: Store, project: str | None, where: str | None, sample: int
) -> dict[str, list[str]]:
    """The params, meta and metric keys of the newest ``sample`` runs ``where`` selects, each
    list ordered by how many of those runs have the key (then by name): what a column picker
    offers. Three reads whatever ``sample``: the runs, then their params and their streams at
    once (:meth:`~runlane.store.base.Store.read_params_many`,
    :meth:`~runlane.store.base.Store.list_streams_many`); a run deleted in between counts
    for its meta keys only."""
    params: Counter[str] = Counter()
    metrics: Counter[str] = Counter()
    meta: Counter[str] = Counter()
    infos = store.list_runs(project=project, where=where, sort="-created", limit=sample)
    ids = [info.id for info in infos]
    for doc in store.read_params_many(ids).values():
        params.update(doc.data.keys())
    for info in infos:
        meta.update(info.extra.keys())
    for streams in store.list_streams_many(ids).values():
        for stream in streams:
            prefix = "" if stream.name == "default" else stream.name + "."
            metrics.update(prefix + f for f in stream.fields if not f.startswith("_"))

    def ordered(counter: Counter[str]) -> list[str]:
        return sorted(counter, key=lambda k: (-counter[k], k))

    return {"params": ordered(params), "metrics": ordered(metrics), "meta": ordered(meta)}

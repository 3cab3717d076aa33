"""Grouping runs by the value of one field: what :meth:`Store.group_runs` means, in one place.

* :func:`group_field` parses the field text every store and the server take:
  ``params.<key>``, ``meta.<key>``, ``tags`` or one of :data:`GROUP_TEXT_FIELDS`.
* :func:`needs_ids` tells the values the filter language cannot name (lists, objects,
  integers beyond 64 bits): a group of such a value carries its run ids.
* :func:`group_records` is the reference implementation over filter-language records
  (:func:`runlane.store.documents.run_record`); the SQL stores compute the same in one query.

Semantics: a run without the field (a missing key, JSON null, or a non-finite number, which
the filter language reads as null) is in the group of ``None``; grouping by ``tags`` puts a
run in one group per tag, and a run without tags in the group of ``None``. Values group by
equality within their kind (``1`` and ``1.0`` are one group, ``True`` and ``1`` are two).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from runlane.entities import RunGroup
from runlane.errors import InvalidArgumentError, QuerySyntaxError
from runlane.query import TOP_FIELDS, Field, field_value, parse_sort

GROUP_TEXT_FIELDS: tuple[str, ...] = tuple(
    f for f in TOP_FIELDS if f not in ("created", "updated", "tags")
)
GROUP_FORMS = f"params.<key>, meta.<key>, tags or one of {', '.join(GROUP_TEXT_FIELDS)}"
#: Default for ``max_ids``: how many run ids a group of an unnameable value lists at most.
MAX_IDS = 1000


def group_field(by: str) -> Field:
    """The field ``by`` names. Raises InvalidArgumentError for anything but
    :data:`GROUP_FORMS` (metrics, times, several fields, a sort sign)."""
    if not isinstance(by, str):
        raise InvalidArgumentError(f"cannot group by {by!r}: use {GROUP_FORMS}")
    text = by.strip()
    if text == "tags":
        return Field("tags")
    try:
        keys = parse_sort(text)
    except (QuerySyntaxError, InvalidArgumentError) as exc:
        raise InvalidArgumentError(f"cannot group by {by!r}: use {GROUP_FORMS} ({exc})") from None
    if len(keys) != 1 or keys[0][1] or text.startswith("+"):
        raise InvalidArgumentError(f"cannot group by {by!r}: name one field, {GROUP_FORMS}")
    field = keys[0][0]
    if field.root == "metrics" or (field.key is None and field.root not in GROUP_TEXT_FIELDS):
        raise InvalidArgumentError(f"cannot group by {by!r}: use {GROUP_FORMS}")
    return field


def needs_ids(value: Any) -> bool:
    """Whether the filter language cannot select runs by ``value`` (a list, an object, an
    integer outside the signed 64-bit range): such a group lists its run ids instead."""
    if isinstance(value, list | tuple | dict):
        return True
    return type(value) is int and not -(2**63) <= value < 2**63


def check_max_ids(max_ids: int) -> int:
    """``max_ids`` as an int ≥ 0. Raises InvalidArgumentError."""
    if isinstance(max_ids, bool) or not isinstance(max_ids, int) or max_ids < 0:
        raise InvalidArgumentError(f"max_ids must be an integer ≥ 0, not {max_ids!r}")
    return max_ids


def _canonical(value: Any) -> tuple[str, Any]:
    """A hashable key under which equal values (in the filter language's sense) meet."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "null", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, str):
        return "text", value
    if needs_ids(value):
        return "json", orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, int | float):
        return "num", value  # 1 == 1.0 and hash(1) == hash(1.0): one key
    return "json", repr(value)


def group_records(
    records: Iterable[Mapping[str, Any]], field: Field, max_ids: int = MAX_IDS
) -> list[RunGroup]:
    """The groups of ``records`` by ``field`` (see the module docstring), in first-seen
    order. A record is a filter-language record with at least ``id`` and the field."""
    counts: dict[tuple[str, Any], int] = {}
    shown: dict[tuple[str, Any], Any] = {}
    ids: dict[tuple[str, Any], list[str]] = {}
    for record in records:
        if field.root == "tags":
            values: list[Any] = list(record.get("tags") or ()) or [None]
        else:
            values = [field_value(field, record)]
        for value in values:
            key = _canonical(value)
            counts[key] = counts.get(key, 0) + 1
            shown.setdefault(key, None if key[0] == "null" else value)
            if key[0] == "json":
                members = ids.setdefault(key, [])
                if len(members) < max_ids:
                    members.append(str(record["id"]))
    return [RunGroup(shown[k], n, tuple(ids.get(k, ()))) for k, n in counts.items()]


def merge_groups(groups: Iterable[RunGroup], max_ids: int = MAX_IDS) -> list[RunGroup]:
    """``groups`` with equal values merged (counts added, ids joined up to ``max_ids``): for
    stores whose query may answer one value twice (``[1, 2]`` stored with different
    spacing, ``{"a": 1, "b": 2}`` with another key order)."""
    merged: dict[tuple[str, Any], RunGroup] = {}
    for group in groups:
        key = _canonical(group.value)
        seen = merged.get(key)
        if seen is None:
            merged[key] = group
        else:
            joined = (seen.ids + group.ids)[:max_ids]
            merged[key] = RunGroup(seen.value, seen.count + group.count, joined)
    return list(merged.values())

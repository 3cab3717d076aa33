"""Evaluate filter expressions on plain run records, and sort records.

A record is a dict shaped like a catalog row::

    {"id": str, "name": str, "project": str, "owner": str, "status": str, "group": str | None,
     "description": str | None, "tags": [str, ...], "created": float, "updated": float,
     "framework": ..., "backend": ..., "external_id": ..., "folder": ...,
     "params": {flat dotted key: value}, "metrics": {key: last value}, "meta": {key: value}}

Semantics, shared with the SQL compilers (:mod:`runlane.query.sql`) so that both select the
same runs:

* A missing key, ``None`` and a non-finite float are null. Comparisons with null are false.
* Values compare only with literals of the same kind (numbers with numbers, strings with
  strings, bools with bools); anything else is false, ``!=`` included. Lists and dicts compare
  with nothing, but ``contains`` looks inside lists.
* Strings compare by code point (SQLite ``BINARY``, PostgreSQL ``COLLATE "C"``).
* ``like`` is case-sensitive; ``ilike`` folds ASCII letters only.
* ``created``/``updated`` compare numerically with epoch seconds or ISO 8601 strings (UTC when
  no zone is given).
* The logic is two-valued: ``not`` simply negates.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from runlane.errors import InvalidArgumentError
from runlane.query._values import ascii_lower, kind_of, like_regex
from runlane.query.ast import (
    And,
    Compare,
    Contains,
    Expr,
    Field,
    In,
    IsNull,
    Literal,
    Not,
    Or,
    SortKey,
    TrueExpr,
    time_value,
)

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def field_value(field: Field, record: Mapping[str, object]) -> object:
    """Return the value ``field`` names in ``record``; ``None`` when it is missing."""
    if field.key is None:
        return record.get(field.root)
    values = record.get(field.root)
    if not isinstance(values, Mapping):
        return None
    return values.get(field.key)


def _literal_value(field: Field, literal: Literal) -> object:
    return time_value(literal) if field.kind == "time" else literal.value


def _literal_kind(field: Field, literal: Literal) -> str:
    return "num" if field.kind == "time" else literal.kind


def _equal(value: object, field: Field, literal: Literal) -> bool:
    kind = kind_of(value)
    return kind == _literal_kind(field, literal) and value == _literal_value(field, literal)


def _compare(expr: Compare, value: object) -> bool:
    if expr.op in ("like", "ilike"):
        if not isinstance(value, str) or not isinstance(expr.value.value, str):
            return False
        fold = expr.op == "ilike"
        return (
            like_regex(expr.value.value, fold).fullmatch(ascii_lower(value) if fold else value)
            is not None
        )
    kind = kind_of(value)
    if kind != _literal_kind(expr.field, expr.value) or kind in ("null", "other"):
        return False
    return _ORDER[expr.op](value, _literal_value(expr.field, expr.value))


def _contains(expr: Contains, value: object) -> bool:
    if isinstance(value, list | tuple):
        return any(_equal(item, expr.field, expr.value) for item in value)
    if expr.field.kind == "tags":
        return False
    if isinstance(value, str) and isinstance(expr.value.value, str):
        return expr.value.value in value
    return False


def _is_null(expr: IsNull, value: object) -> bool:
    if expr.field.kind == "tags":  # "no tags": anything but a non-empty list
        return not (isinstance(value, list | tuple) and len(value) > 0)
    return kind_of(value) == "null"


def evaluate(expr: Expr, record: Mapping[str, object]) -> bool:
    """Return whether ``record`` matches ``expr``; never raises for odd record values."""
    if isinstance(expr, TrueExpr):
        return True
    if isinstance(expr, And):
        return all(evaluate(item, record) for item in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(item, record) for item in expr.items)
    if isinstance(expr, Not):
        return not evaluate(expr.item, record)
    if isinstance(expr, Compare):
        return _compare(expr, field_value(expr.field, record))
    if isinstance(expr, In):
        value = field_value(expr.field, record)
        found = any(_equal(value, expr.field, literal) for literal in expr.values)
        if expr.negated:
            return kind_of(value) != "null" and not found
        return found
    if isinstance(expr, Contains):
        return _contains(expr, field_value(expr.field, record))
    if isinstance(expr, IsNull):
        null = _is_null(expr, field_value(expr.field, record))
        return not null if expr.negated else null
    raise InvalidArgumentError(f"not a filter expression: {expr!r}")


def filter_records(
    expr: Expr, records: Iterable[Mapping[str, object]]
) -> list[Mapping[str, object]]:
    """Return the records that match ``expr``, in their order."""
    return [record for record in records if evaluate(expr, record)]


def _sort_rank(value: object) -> tuple[int, Any]:
    """Mirror SQLite's order of ``json_extract`` results: numbers (bools as 0/1), then text."""
    kind = kind_of(value)
    if kind in ("num", "bool"):
        return 0, value
    if kind == "text":
        return 1, value
    return 2, repr(value)


def sort_records(
    records: Sequence[Mapping[str, object]], sort: Sequence[SortKey]
) -> list[Mapping[str, object]]:
    """Sort records like :func:`runlane.query.sql.compile_order` sorts rows.

    Nulls come last in both directions; numbers sort before strings. Ties keep their input
    order (SQL leaves ties unordered: add a unique field such as ``id`` to be deterministic).
    """

    def compare(a: Mapping[str, object], b: Mapping[str, object]) -> int:
        for field, descending in sort:
            left, right = field_value(field, a), field_value(field, b)
            left_null, right_null = kind_of(left) == "null", kind_of(right) == "null"
            if left_null or right_null:
                if left_null != right_null:
                    return 1 if left_null else -1
                continue
            lkey, rkey = _sort_rank(left), _sort_rank(right)
            if lkey != rkey:
                result = -1 if lkey < rkey else 1
                return -result if descending else result
        return 0

    return sorted(records, key=functools.cmp_to_key(compare))

"""The syntax tree of the run filter language.

Every node is a frozen, slotted dataclass that checks itself on construction and raises
:class:`~runlane.errors.InvalidArgumentError` when it could not mean anything (an unknown field,
``like`` on a time field, ``<`` against ``null``, ...). So a tree built by hand is as safe to
evaluate or compile as one from :func:`runlane.query.parse`. ``str(node)`` writes the node in the
filter language; parsing that text gives an equal node back.

Fields come in four kinds: ``text`` columns (``name``, ``status``, ...), ``time`` columns
(``created``, ``updated``: epoch seconds, compared with numbers or ISO 8601 strings), ``tags``
(a list of strings: ``contains`` and ``is [not] null`` only) and ``json`` values (``params.KEY``,
``metrics.KEY``, ``meta.KEY``: the key after the prefix is one flat key, dots included).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Literal as TypingLiteral
from typing import TypeAlias, get_args

from runlane.errors import InvalidArgumentError
from runlane.query._values import to_epoch

Scalar: TypeAlias = str | int | float | bool | None
CompareOp = TypingLiteral["=", "!=", "<", "<=", ">", ">=", "like", "ilike"]
FieldKind = TypingLiteral["text", "time", "tags", "json"]
LiteralKind = TypingLiteral["null", "bool", "num", "text"]

COMPARE_OPS: frozenset[str] = frozenset(get_args(CompareOp))
ORDER_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
LIKE_OPS: frozenset[str] = frozenset({"like", "ilike"})

TEXT_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "project",
    "owner",
    "status",
    "group",
    "description",
    "framework",
    "backend",
    "external_id",
    "folder",
)
TIME_FIELDS: tuple[str, ...] = ("created", "updated")
TAGS_FIELD = "tags"
PREFIXES: tuple[str, ...] = ("params", "metrics", "meta")
TOP_FIELDS: tuple[str, ...] = (*TEXT_FIELDS, TAGS_FIELD, *TIME_FIELDS)
ALLOWED_FIELDS = ", ".join((*TOP_FIELDS, *(f"{p}.<key>" for p in PREFIXES)))

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")


@dataclass(frozen=True, slots=True)
class Field:
    """A field reference: ``root`` is a top-level name; ``key`` the flat key of a prefix.

    ``Field("params", "optimizer.lr")`` is ``params.optimizer.lr``; ``Field("status")`` is
    ``status``. Prefixed roots need a non-empty key, other roots take none.
    """

    root: str
    key: str | None = None

    def __post_init__(self) -> None:
        if self.root in PREFIXES:
            if not isinstance(self.key, str) or not self.key:
                raise InvalidArgumentError(
                    f"field {self.root!r} needs a key, e.g. {self.root}.lr or {self.root}.`my key`"
                )
        elif self.root in TOP_FIELDS:
            if self.key is not None:
                raise InvalidArgumentError(f"field {self.root!r} has no sub-fields")
        else:
            raise InvalidArgumentError(f"unknown field {self.root!r}; allowed: {ALLOWED_FIELDS}")

    @property
    def kind(self) -> FieldKind:
        """``text``, ``time``, ``tags`` or ``json``."""
        if self.key is not None:
            return "json"
        if self.root in TIME_FIELDS:
            return "time"
        return "tags" if self.root == TAGS_FIELD else "text"

    def __str__(self) -> str:
        if self.key is None:
            return self.root
        if all(_BARE_KEY.fullmatch(part) for part in self.key.split(".")):
            return f"{self.root}.{self.key}"
        return f"{self.root}.`{self.key.replace('`', '``')}`"


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal value: a string, a finite number within int64 for ints, a bool, or null.

    ``kind`` is derived (``null``, ``bool``, ``num``, ``text``) and part of equality, so
    ``Literal(True) != Literal(1)``.
    """

    value: Scalar
    kind: LiteralKind = dc_field(init=False, repr=False)

    def __post_init__(self) -> None:
        value = self.value
        kind: LiteralKind
        if value is None:
            kind = "null"
        elif isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise InvalidArgumentError(f"integer {value} is out of the 64-bit range")
            kind = "num"
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidArgumentError(f"number {value!r} must be finite")
            kind = "num"
        elif isinstance(value, str):
            kind = "text"
        else:
            raise InvalidArgumentError(
                f"literal {value!r} must be str, int, float, bool or None, "
                f"not {type(value).__name__}"
            )
        object.__setattr__(self, "kind", kind)

    def __str__(self) -> str:
        value = self.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            escaped = (
                value.replace("\\", "\\\\")
                .replace("'", "\\'")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
                .replace("\t", "\\t")
            )
            return f"'{escaped}'"
        return repr(value)


def time_value(literal: Literal) -> float:
    """Epoch seconds of a literal compared with a time field (number or ISO 8601 string)."""
    if isinstance(literal.value, bool) or literal.value is None:
        raise InvalidArgumentError(f"{literal} is not a time")
    try:
        return to_epoch(literal.value)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None


def _check_time_literal(field: Field, literal: Literal) -> None:
    if literal.kind not in ("num", "text"):
        raise InvalidArgumentError(
            f"{field} compares with a number (epoch seconds) or an ISO date string, not {literal}"
        )
    time_value(literal)


@dataclass(frozen=True, slots=True)
class Expr:
    """Base class of every filter expression node."""

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class TrueExpr(Expr):
    """Matches every run: what an empty filter parses to. Not allowed inside other nodes."""


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    """``field op value``; ``op`` is one of ``= != < <= > >= like ilike``.

    Values of different kinds never compare (the result is false); ``null`` is refused, use
    :class:`IsNull`. ``like``/``ilike`` take a string pattern and a text or json field.
    """

    field: Field
    op: CompareOp
    value: Literal

    def __post_init__(self) -> None:
        if self.op not in COMPARE_OPS:
            raise InvalidArgumentError(f"unknown operator {self.op!r}")
        if self.value.kind == "null":
            raise InvalidArgumentError(
                f"cannot compare {self.field} with null using {self.op!r}; "
                "use 'is null' or 'is not null'"
            )
        kind = self.field.kind
        if kind == "tags":
            raise InvalidArgumentError("tags supports only 'contains' and 'is [not] null'")
        if self.op in LIKE_OPS:
            if kind == "time":
                raise InvalidArgumentError(f"{self.op!r} does not apply to {self.field}")
            if self.value.kind != "text":
                raise InvalidArgumentError(f"{self.op!r} needs a string pattern")
        elif kind == "time":
            _check_time_literal(self.field, self.value)


@dataclass(frozen=True, slots=True)
class In(Expr):
    """``field in (v1, v2, ...)``; with ``negated``, ``field not in (...)``.

    ``in`` is true when the value equals one of the literals. ``not in`` is true when the value
    is present (not null) and equals none of them. The list is non-empty and has no null.
    """

    field: Field
    values: tuple[Literal, ...]
    negated: bool = False

    def __post_init__(self) -> None:
        if not self.values:
            raise InvalidArgumentError("'in' needs at least one value")
        if any(v.kind == "null" for v in self.values):
            raise InvalidArgumentError("'in' lists may not contain null; use 'is null'")
        if self.field.kind == "tags":
            raise InvalidArgumentError("tags supports only 'contains' and 'is [not] null'")
        if self.field.kind == "time":
            for value in self.values:
                _check_time_literal(self.field, value)


@dataclass(frozen=True, slots=True)
class Contains(Expr):
    """``field contains value``: list membership, or substring when the value is a string."""

    field: Field
    value: Literal

    def __post_init__(self) -> None:
        if self.value.kind == "null":
            raise InvalidArgumentError("'contains' needs a value, not null")
        if self.field.kind == "time":
            raise InvalidArgumentError(f"'contains' does not apply to {self.field}")


@dataclass(frozen=True, slots=True)
class IsNull(Expr):
    """``field is null`` (missing, null or, for tags, empty); ``negated``: ``is not null``."""

    field: Field
    negated: bool = False


def _check_items(items: tuple[Expr, ...], what: str, least: int = 2) -> None:
    if len(items) < least:
        raise InvalidArgumentError(f"{what} needs at least {least} operands (see conjoin())")
    for item in items:
        if not isinstance(item, Expr) or isinstance(item, TrueExpr):
            raise InvalidArgumentError(f"{what} operands must be expressions other than TrueExpr")


@dataclass(frozen=True, slots=True)
class And(Expr):
    """True when every item is true; at least two items (:func:`conjoin` takes any number)."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        _check_items(self.items, "'and'")


@dataclass(frozen=True, slots=True)
class Or(Expr):
    """True when any item is true; at least two items."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        _check_items(self.items, "'or'")


@dataclass(frozen=True, slots=True)
class Not(Expr):
    """True when ``item`` is false. The language is two-valued: no expression is unknown."""

    item: Expr

    def __post_init__(self) -> None:
        _check_items((self.item,), "'not'", least=1)


def conjoin(*exprs: Expr) -> Expr:
    """AND the expressions together, dropping :class:`TrueExpr`; no operand gives TrueExpr."""
    items = tuple(e for e in exprs if not isinstance(e, TrueExpr))
    if not items:
        return TrueExpr()
    return items[0] if len(items) == 1 else And(items)


SortKey = tuple[Field, bool]
"""A sort item: the field and ``True`` for descending order."""


_PRECEDENCE_OR, _PRECEDENCE_AND, _PRECEDENCE_NOT, _PRECEDENCE_LEAF = 1, 2, 3, 4


def _precedence(expr: Expr) -> int:
    if isinstance(expr, Or):
        return _PRECEDENCE_OR
    if isinstance(expr, And):
        return _PRECEDENCE_AND
    return _PRECEDENCE_NOT if isinstance(expr, Not) else _PRECEDENCE_LEAF


def _operand(expr: Expr, above: int) -> str:
    text = to_text(expr)
    return text if _precedence(expr) > above else f"({text})"


def to_text(expr: Expr) -> str:
    """Write ``expr`` in the filter language, with only the parentheses it needs.

    ``parse(to_text(e)) == e`` for every valid tree (``TrueExpr`` writes as ``''``).
    """
    if isinstance(expr, TrueExpr):
        return ""
    if isinstance(expr, Or):
        return " or ".join(_operand(item, _PRECEDENCE_OR) for item in expr.items)
    if isinstance(expr, And):
        return " and ".join(_operand(item, _PRECEDENCE_AND) for item in expr.items)
    if isinstance(expr, Not):
        return "not " + _operand(expr.item, _PRECEDENCE_NOT - 1)
    if isinstance(expr, Compare):
        return f"{expr.field} {expr.op} {expr.value}"
    if isinstance(expr, In):
        values = ", ".join(str(v) for v in expr.values)
        return f"{expr.field} {'not in' if expr.negated else 'in'} ({values})"
    if isinstance(expr, Contains):
        return f"{expr.field} contains {expr.value}"
    if isinstance(expr, IsNull):
        return f"{expr.field} is {'not null' if expr.negated else 'null'}"
    raise InvalidArgumentError(f"not a filter expression: {expr!r}")

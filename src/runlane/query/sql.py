"""Compile filter expressions and sort keys to parameterized SQL.

:func:`compile_sql` returns a condition for a ``WHERE`` clause (without the keyword) and its
parameters; :func:`compile_order` returns the items of an ``ORDER BY`` clause (without the
keyword) and theirs. No user value and no field name is ever written into the SQL text: values,
JSON keys and JSON paths are bound parameters; column names and operators come from fixed
tables. The condition is two-valued (true or false, never NULL), so it may be negated or
combined freely, and selects exactly the records :func:`runlane.query.evaluate` accepts.

Expected table (both dialects)::

    id, name, project, owner, status, grp, description, framework, backend, external_id,
    folder  TEXT (binary collation);  created, updated  REAL epoch seconds;
    tags  JSON array of strings;  params, metrics, meta  JSON objects with flat keys

``sqlite`` stores the JSON columns as text and uses ``?`` placeholders; ``postgres`` stores them
as JSONB and uses ``%s`` placeholders (psycopg style; the SQL text holds no other ``%``).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal as TypingLiteral
from typing import get_args

from runlane.errors import InvalidArgumentError
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

SqlDialect = TypingLiteral["sqlite", "postgres"]
DIALECTS: tuple[str, ...] = get_args(SqlDialect)

COLUMNS: dict[str, str] = {
    "id": "id",
    "name": "name",
    "project": "project",
    "owner": "owner",
    "status": "status",
    "group": "grp",
    "description": "description",
    "framework": "framework",
    "backend": "backend",
    "external_id": "external_id",
    "folder": "folder",
    "created": "created",
    "updated": "updated",
    "tags": "tags",
    "params": "params",
    "metrics": "metrics",
    "meta": "meta",
}
_MARKER = re.compile("\x00([0-9]+)\x00")
SQL_OPS: dict[str, str] = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class Compiler(ABC):
    """Shared compilation; a dialect supplies placeholders and the JSON/tags leaves.

    Every leaf method returns SQL that is never NULL. :meth:`param` returns a marker, not the
    placeholder; :meth:`finish` swaps markers for placeholders and lists the parameters in the
    order the markers appear in the text, so fragments may be built in any order.
    """

    placeholder: str = "?"
    true_sql: str = "1"
    false_sql: str = "0"

    def __init__(self) -> None:
        self.values: list[object] = []

    def param(self, value: object) -> str:
        """Bind ``value`` and return a marker that :meth:`finish` turns into a placeholder."""
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"

    def finish(self, sql: str) -> tuple[str, list[object]]:
        """Return ``sql`` with placeholders and its parameters in text order."""
        params: list[object] = []

        def swap(match: re.Match[str]) -> str:
            params.append(self.values[int(match.group(1))])
            return self.placeholder

        return _MARKER.sub(swap, sql), params

    def text_param(self, value: str) -> str:
        """Placeholder of a string compared with text."""
        return self.param(value)

    def time_param(self, value: float) -> str:
        """Placeholder of epoch seconds compared with a time column."""
        return self.param(value)

    def text_column(self, column: str) -> str:
        """The column as an operand of a text comparison (adds a collation where needed)."""
        return column

    @abstractmethod
    def like(self, operand: str, pattern: str, fold: bool) -> str:
        """``operand`` (non-NULL text) matches the like pattern; ``fold``: ASCII-insensitive."""

    @abstractmethod
    def substring(self, operand: str, needle: str) -> str:
        """``operand`` (non-NULL text) contains ``needle``."""

    @abstractmethod
    def json_compare(self, column: str, key: str, op: str, literal: Literal) -> str: ...

    @abstractmethod
    def json_in(self, column: str, key: str, values: Sequence[Literal], negated: bool) -> str: ...

    @abstractmethod
    def json_contains(self, column: str, key: str, literal: Literal) -> str: ...

    @abstractmethod
    def json_is_null(self, column: str, key: str, negated: bool) -> str: ...

    @abstractmethod
    def json_order(self, column: str, key: str) -> str: ...

    @abstractmethod
    def tags_contains(self, column: str, literal: Literal) -> str: ...

    @abstractmethod
    def tags_is_null(self, column: str, negated: bool) -> str: ...

    def expr(self, expr: Expr) -> str:
        """Compile ``expr`` to a never-NULL SQL condition."""
        if isinstance(expr, TrueExpr):
            return self.true_sql
        if isinstance(expr, And):
            return "(" + " AND ".join(self.expr(item) for item in expr.items) + ")"
        if isinstance(expr, Or):
            return "(" + " OR ".join(self.expr(item) for item in expr.items) + ")"
        if isinstance(expr, Not):
            return f"(NOT {self.expr(expr.item)})"
        if isinstance(expr, Compare | In | Contains | IsNull):
            return self.leaf(expr)
        raise InvalidArgumentError(f"not a filter expression: {expr!r}")

    def leaf(self, expr: Compare | In | Contains | IsNull) -> str:
        field = expr.field
        column = COLUMNS[field.root]
        kind = field.kind
        if kind == "json":
            assert field.key is not None
            if isinstance(expr, Compare):
                return self.json_compare(column, field.key, expr.op, expr.value)
            if isinstance(expr, In):
                return self.json_in(column, field.key, expr.values, expr.negated)
            if isinstance(expr, Contains):
                return self.json_contains(column, field.key, expr.value)
            return self.json_is_null(column, field.key, expr.negated)
        if kind == "tags":
            if isinstance(expr, Contains):
                return self.tags_contains(column, expr.value)
            if isinstance(expr, IsNull):
                return self.tags_is_null(column, expr.negated)
            raise InvalidArgumentError("tags supports only 'contains' and 'is [not] null'")
        if isinstance(expr, IsNull):
            return f"({column} IS {'NOT NULL' if expr.negated else 'NULL'})"
        if isinstance(expr, Compare):
            return self.column_compare(field, column, expr)
        if isinstance(expr, In):
            return self.column_in(field, column, expr)
        if field.kind == "text" and isinstance(expr.value.value, str):
            return f"({column} IS NOT NULL AND {self.substring(column, expr.value.value)})"
        return self.false_sql

    def column_compare(self, field: Field, column: str, expr: Compare) -> str:
        value = expr.value.value
        if field.kind == "time":
            return (
                f"({column} IS NOT NULL AND {column} {SQL_OPS[expr.op]} "
                f"{self.time_param(time_value(expr.value))})"
            )
        if not isinstance(value, str):
            return self.false_sql
        if expr.op in ("like", "ilike"):
            return f"({column} IS NOT NULL AND {self.like(column, value, expr.op == 'ilike')})"
        return (
            f"({column} IS NOT NULL AND {self.text_column(column)} {SQL_OPS[expr.op]} "
            f"{self.text_param(value)})"
        )

    def column_in(self, field: Field, column: str, expr: In) -> str:
        placeholders: list[str] = []
        for literal in expr.values:
            if field.kind == "time":
                placeholders.append(self.time_param(time_value(literal)))
            elif isinstance(literal.value, str):
                placeholders.append(self.text_param(literal.value))
        if not placeholders:
            return f"({column} IS NOT NULL)" if expr.negated else self.false_sql
        operand = column if field.kind == "time" else self.text_column(column)
        word = "NOT IN" if expr.negated else "IN"
        return f"({column} IS NOT NULL AND {operand} {word} ({', '.join(placeholders)}))"

    def order(self, sort: Sequence[SortKey]) -> str:
        items: list[str] = []
        for field, descending in sort:
            column = COLUMNS[field.root]
            if field.kind == "tags":
                raise InvalidArgumentError("tags cannot be sorted on")
            if field.kind == "json":
                assert field.key is not None
                operand = self.json_order(column, field.key)
            elif field.kind == "text":
                operand = self.text_column(column)
            else:
                operand = column
            items.append(f"{operand} {'DESC' if descending else 'ASC'} NULLS LAST")
        return ", ".join(items)


def _compiler(dialect: str) -> Compiler:
    if dialect == "sqlite":
        from runlane.query._sqlite import SqliteCompiler

        return SqliteCompiler()
    if dialect == "postgres":
        from runlane.query._postgres import PostgresCompiler

        return PostgresCompiler()
    raise InvalidArgumentError(f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}")


def compile_sql(expr: Expr, dialect: SqlDialect) -> tuple[str, list[object]]:
    """Compile ``expr`` to ``(condition, params)`` for ``WHERE condition``.

    The condition is never NULL; a :class:`TrueExpr` gives ``1`` (sqlite) or ``TRUE``.
    """
    compiler = _compiler(dialect)
    return compiler.finish(compiler.expr(expr))


def compile_order(sort: Sequence[SortKey], dialect: SqlDialect) -> tuple[str, list[object]]:
    """Compile sort keys to ``(items, params)`` for ``ORDER BY items``; ``("", [])`` if none.

    Every item sorts nulls last; strings sort by code point. Within one JSON key numbers sort
    before strings in sqlite (JSONB order in postgres): keep one type per key to be portable.
    """
    compiler = _compiler(dialect)
    return compiler.finish(compiler.order(sort))

"""SQLite dialect: ``?`` placeholders, JSON stored as text, read with the JSON1 functions.

A JSON key is addressed with ``json_extract(col, ?)``/``json_type(col, ?)`` and the bound path
``$."key"`` when the key is printable ASCII without ``"`` or ``\\`` (SQLite paths have no
escapes). Any other key is looked up with ``(SELECT ... FROM json_each(col) WHERE key = ?)``,
which compares the decoded key. ``json_extract`` yields integers, reals, text, 1/0 for JSON
booleans and JSON text for arrays and objects; ``json_type`` tells them apart, so every
comparison is guarded by the literal's type.

``like`` is compiled to ``GLOB`` (case-sensitive); ``ilike`` to ``LIKE ... ESCAPE '\\'``, which
folds ASCII letters only (do not set ``PRAGMA case_sensitive_like``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from runlane.query._values import like_escaped, like_glob
from runlane.query.ast import Literal
from runlane.query.sql import SQL_OPS, Compiler

_SAFE_KEY = re.compile(r"[ !#-\[\]-~]+")
_GUARDS = {"num": "IN ('integer', 'real')", "text": "= 'text'", "bool": "IN ('true', 'false')"}


class SqliteCompiler(Compiler):
    """Compiler for SQLite (3.30+, with JSON1)."""

    placeholder = "?"
    true_sql = "1"
    false_sql = "0"

    def type_of(self, column: str, key: str) -> str:
        """SQL giving the ``json_type`` of the key: NULL when missing, 'null' for JSON null."""
        if _SAFE_KEY.fullmatch(key):
            return f"json_type({column}, {self.param(_path(key))})"
        return f"(SELECT type FROM json_each({column}) WHERE key = {self.param(key)})"

    def value_of(self, column: str, key: str) -> str:
        """SQL giving the ``json_extract`` value of the key."""
        if _SAFE_KEY.fullmatch(key):
            return f"json_extract({column}, {self.param(_path(key))})"
        return f"(SELECT value FROM json_each({column}) WHERE key = {self.param(key)})"

    def like(self, operand: str, pattern: str, fold: bool) -> str:
        if fold:
            return f"{operand} LIKE {self.param(like_escaped(pattern, False))} ESCAPE '\\'"
        return f"{operand} GLOB {self.param(like_glob(pattern))}"

    def substring(self, operand: str, needle: str) -> str:
        return f"instr({operand}, {self.param(needle)}) > 0"

    def json_compare(self, column: str, key: str, op: str, literal: Literal) -> str:
        if op in ("like", "ilike"):
            assert isinstance(literal.value, str)
            return (
                f"COALESCE({self.type_of(column, key)} = 'text' AND "
                f"{self.like(self.value_of(column, key), literal.value, op == 'ilike')}, 0)"
            )
        return (
            f"COALESCE({self.type_of(column, key)} {_GUARDS[literal.kind]} AND "
            f"{self.value_of(column, key)} {SQL_OPS[op]} {self.param(literal.value)}, 0)"
        )

    def _member(self, column: str, key: str, values: Sequence[Literal]) -> str:
        parts: list[str] = []
        for kind in ("num", "text", "bool"):
            group = [v for v in values if v.kind == kind]
            if group:
                placeholders = ", ".join(self.param(v.value) for v in group)
                parts.append(
                    f"({self.type_of(column, key)} {_GUARDS[kind]} AND "
                    f"{self.value_of(column, key)} IN ({placeholders}))"
                )
        return "(" + " OR ".join(parts) + ")"

    def json_in(self, column: str, key: str, values: Sequence[Literal], negated: bool) -> str:
        if negated:
            return (
                f"COALESCE({self.type_of(column, key)} <> 'null' AND "
                f"NOT {self._member(column, key, values)}, 0)"
            )
        return f"COALESCE({self._member(column, key, values)}, 0)"

    def _has_element(self, array: str, literal: Literal) -> str:
        return (
            f"EXISTS (SELECT 1 FROM json_each({array}) WHERE type {_GUARDS[literal.kind]} "
            f"AND value = {self.param(literal.value)})"
        )

    def json_contains(self, column: str, key: str, literal: Literal) -> str:
        sql = (
            f"CASE {self.type_of(column, key)} WHEN 'array' THEN "
            f"{self._has_element(self.value_of(column, key), literal)}"
        )
        if isinstance(literal.value, str):
            sql += f" WHEN 'text' THEN {self.substring(self.value_of(column, key), literal.value)}"
        return sql + " ELSE 0 END"

    def json_is_null(self, column: str, key: str, negated: bool) -> str:
        return f"(COALESCE({self.type_of(column, key)}, 'null') {'<>' if negated else '='} 'null')"

    def json_order(self, column: str, key: str) -> str:
        return self.value_of(column, key)

    def tags_contains(self, column: str, literal: Literal) -> str:
        element = self._has_element(column, literal)
        return f"(COALESCE(json_type({column}), '') = 'array' AND {element})"

    def tags_is_null(self, column: str, negated: bool) -> str:
        return f"(COALESCE(json_array_length({column}), 0) {'>' if negated else '='} 0)"


def _path(key: str) -> str:
    return f'$."{key}"'

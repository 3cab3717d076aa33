"""PostgreSQL dialect: ``%s`` placeholders (psycopg), JSONB columns.

A JSON key is read with ``col -> %s::text`` / ``col ->> %s::text`` (the key is a bound text, no
path syntax). Every typed comparison sits in ``CASE WHEN jsonb_typeof(...) = '<type>' THEN ...
ELSE FALSE END`` so casts only run on values of the right type: numbers compare as ``numeric``
(the literal is bound as its shortest decimal text), strings with ``COLLATE "C"`` (code point
order), booleans as ``boolean``. ``ilike`` folds ASCII letters only, with ``translate``, to match
SQLite and the evaluator exactly. The SQL text holds no ``%`` except the placeholders.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from runlane.query._values import ASCII_LOWER_LETTERS, ASCII_UPPER_LETTERS, like_escaped
from runlane.query.ast import Literal
from runlane.query.sql import SQL_OPS, Compiler

_TYPES = {"num": "number", "text": "string", "bool": "boolean"}


class PostgresCompiler(Compiler):
    """Compiler for PostgreSQL (12+) with JSONB ``tags``/``params``/``metrics``/``meta``."""

    placeholder = "%s"
    true_sql = "TRUE"
    false_sql = "FALSE"

    def text_param(self, value: str) -> str:
        return f"CAST({self.param(value)} AS text)"

    def time_param(self, value: float) -> str:
        return f"CAST({self.param(value)} AS double precision)"

    def text_column(self, column: str) -> str:
        return f'{column} COLLATE "C"'

    def typed_param(self, literal: Literal) -> str:
        """Placeholder of a literal cast to the SQL type it compares as."""
        value = literal.value
        if literal.kind == "num":
            assert isinstance(value, int | float)
            return f"CAST({self.param(repr(value))} AS numeric)"
        if literal.kind == "bool":
            return f"CAST({self.param(value)} AS boolean)"
        assert isinstance(value, str)
        return self.text_param(value)

    def type_of(self, column: str, key: str) -> str:
        """``jsonb_typeof`` of the key: NULL when missing, 'null' for JSON null."""
        return f"jsonb_typeof({column} -> CAST({self.param(key)} AS text))"

    def json_of(self, column: str, key: str) -> str:
        """The key's JSONB value."""
        return f"({column} -> CAST({self.param(key)} AS text))"

    def typed_value(self, column: str, key: str, kind: str) -> str:
        """The key's value as SQL ``numeric``, ``text`` (collation C) or ``boolean``."""
        text = f"({column} ->> CAST({self.param(key)} AS text))"
        if kind == "num":
            return f"CAST({text} AS numeric)"
        if kind == "bool":
            return f"CAST({text} AS boolean)"
        return f'{text} COLLATE "C"'

    def like(self, operand: str, pattern: str, fold: bool) -> str:
        if fold:
            operand = f"translate({operand}, '{ASCII_UPPER_LETTERS}', '{ASCII_LOWER_LETTERS}')"
        return f"{operand} LIKE {self.text_param(like_escaped(pattern, fold))}"

    def substring(self, operand: str, needle: str) -> str:
        return f"strpos({operand}, {self.text_param(needle)}) > 0"

    def json_compare(self, column: str, key: str, op: str, literal: Literal) -> str:
        if op in ("like", "ilike"):
            assert isinstance(literal.value, str)
            return (
                f"CASE WHEN {self.type_of(column, key)} = 'string' THEN "
                f"{self.like(self.typed_value(column, key, 'text'), literal.value, op == 'ilike')}"
                " ELSE FALSE END"
            )
        return (
            f"CASE WHEN {self.type_of(column, key)} = '{_TYPES[literal.kind]}' THEN "
            f"{self.typed_value(column, key, literal.kind)} {SQL_OPS[op]} "
            f"{self.typed_param(literal)} ELSE FALSE END"
        )

    def json_in(self, column: str, key: str, values: Sequence[Literal], negated: bool) -> str:
        if negated:
            sql = f"CASE COALESCE({self.type_of(column, key)}, 'null') WHEN 'null' THEN FALSE"
        else:
            sql = f"CASE {self.type_of(column, key)}"
        for kind in ("num", "text", "bool"):
            group = [v for v in values if v.kind == kind]
            if group:
                operand = self.typed_value(column, key, kind)
                placeholders = ", ".join(self.typed_param(v) for v in group)
                word = "NOT IN" if negated else "IN"
                sql += f" WHEN '{_TYPES[kind]}' THEN {operand} {word} ({placeholders})"
        return sql + (" ELSE TRUE END" if negated else " ELSE FALSE END")

    def json_contains(self, column: str, key: str, literal: Literal) -> str:
        sql = (
            f"CASE {self.type_of(column, key)} WHEN 'array' THEN "
            f"{self.json_of(column, key)} @> {self.element_param(literal)}"
        )
        if isinstance(literal.value, str):
            operand = f"({column} ->> CAST({self.param(key)} AS text))"
            sql += f" WHEN 'string' THEN {self.substring(operand, literal.value)}"
        return sql + " ELSE FALSE END"

    def element_param(self, literal: Literal) -> str:
        """A one-element JSONB array holding the literal, for ``@>``."""
        return f"CAST({self.param(orjson.dumps([literal.value]).decode())} AS jsonb)"

    def json_is_null(self, column: str, key: str, negated: bool) -> str:
        return f"(COALESCE({self.type_of(column, key)}, 'null') {'<>' if negated else '='} 'null')"

    def json_order(self, column: str, key: str) -> str:
        return f"NULLIF({self.json_of(column, key)}, 'null'::jsonb)"

    def tags_contains(self, column: str, literal: Literal) -> str:
        return f"COALESCE({column} @> {self.element_param(literal)}, FALSE)"

    def tags_is_null(self, column: str, negated: bool) -> str:
        empty = (
            f"CASE WHEN jsonb_typeof({column}) = 'array' "
            f"THEN jsonb_array_length({column}) = 0 ELSE TRUE END"
        )
        return f"(NOT ({empty}))" if negated else f"({empty})"

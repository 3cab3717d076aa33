"""Tests of runlane.query: parser, evaluator, and SQL that selects what the evaluator selects.

The SQL checks run the compiled fragments on a real in-memory SQLite table and compare the ids
with :func:`evaluate`. PostgreSQL is checked for placeholders and for keeping values out of the
SQL text; with ``RUNLANE_TEST_POSTGRES_DSN`` set (and psycopg installed) the same cross-checks
run on a real server.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlane.errors import InvalidArgumentError, QuerySyntaxError
from runlane.query import (
    TOP_FIELDS,
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
    TrueExpr,
    compile_order,
    compile_sql,
    conjoin,
    evaluate,
    field_value,
    parse,
    parse_sort,
    sort_records,
)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


INJECT_KEY = "a'); DROP TABLE runs; --"
INJECT_NAME = "x' OR 1=1 --"
BASE: dict[str, Any] = {"project": "nlp", "owner": "ann", "framework": "torch", "backend": "local"}
ROWS: list[dict[str, Any]] = [
    {"id": "r01", "name": "bert-base", "status": "finished", "group": "g1",
     "description": "Base model", "tags": ["baseline", "nlp"], "created": epoch("2025-12-31"),
     "params": {"lr": 0.001, "optimizer.type": "adam", "batch": 32, "use_amp": True,
                "layers": [1, 2, 3]},
     "metrics": {"loss": 0.25, "train.loss": 0.3, "acc": 0.9}, "meta": {"gpu": "A100"}},
    {"id": "r02", "name": "bert-large", "status": "failed", "group": None, "description": None,
     "tags": [], "created": epoch("2026-01-01"),
     "params": {"lr": 0.01, "optimizer.type": "sgd", "batch": 64, "use_amp": False},
     "metrics": {"loss": 1.5}, "meta": {}},
    {"id": "r03", "name": "GPT-2", "status": "running", "group": "g1", "tags": ["Baseline"],
     "created": epoch("2026-01-02T12:00:00"),
     "params": {"lr": "0.01", "batch": 32.0, "optimizer.type": "AdamW", "my key": "x y",
                'we"ird': "q", "ü": 1, "list": ["adam", 1, True, None, 2.5]},
     "metrics": {"loss": None}, "meta": {"note": "50% done_1"}},
    {"id": "r04", "name": "50%_off", "status": "finished", "group": "g2", "tags": ["nlp"],
     "created": epoch("2026-02-01"),
     "params": {"lr": None, "batch": "32", "nested": {"a": 1}, "list": "adam,sgd"},
     "metrics": {"loss": math.nan, "acc": 0.5}, "meta": {"note": "n/a"}},
    {"id": "r05", "name": "Ünïcode résumé", "status": "finished", "group": "g2",
     "tags": ["ü", "nlp"], "created": epoch("2026-02-15"),
     "params": {"lr": 1e-4, "optimizer.type": "adam", "batch": 16, "use_amp": 1},
     "metrics": {"loss": 0.125, "train.loss": 0.2}, "meta": {"gpu": "H100"}},
    {"id": "r06", "name": "it's \"quoted\"", "status": "finished", "tags": ["vision"],
     "created": epoch("2026-03-01"), "params": {"lr": 0, "optimizer.type": "ADAM"},
     "metrics": {"loss": 2}, "meta": {"gpu": "a100"}},
    {"id": "r07", "name": "empty", "status": "queued", "tags": None, "created": None,
     "params": None, "metrics": None, "meta": None},
    {"id": "r08", "name": INJECT_NAME, "status": "crashed", "tags": ["x' OR 1=1 --"],
     "created": epoch("2026-03-02"), "params": {INJECT_KEY: 5, "lr": 0.5},
     "metrics": {"loss": 0.75}, "meta": {}},
    {"id": "r09", "name": "a*b?c[d]", "status": "finished", "tags": ["a", "b"],
     "created": epoch("2026-03-03"), "params": {"lr": 0.001, "batch": 9007199254740993},
     "metrics": {"loss": 0.0}, "meta": {"gpu": "A100 "}},
    {"id": "r10", "name": "neg", "status": "failed", "group": "g1", "tags": ["nlp"],
     "created": 1767225600, "params": {"lr": -0.5, "batch": 8}, "metrics": {"loss": -1},
     "meta": {"note": "ADAM"}},
]  # fmt: skip
RECORDS: list[dict[str, Any]] = [{**BASE, **row} for row in ROWS]
TEXT_COLS = ("id", "name", "project", "owner", "status", "grp", "description", "framework",
             "backend", "external_id", "folder")  # fmt: skip
JSON_COLS = ("tags", "params", "metrics", "meta")


def to_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    texts = [record.get("group" if c == "grp" else c) for c in TEXT_COLS]
    jsons = [None if record.get(c) is None else orjson.dumps(record[c]).decode() for c in JSON_COLS]
    return (*texts, record.get("created"), record.get("updated"), *jsons)


def make_db(records: list[dict[str, Any]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    cols = [f"{c} TEXT" for c in TEXT_COLS] + ["created REAL", "updated REAL"]
    conn.execute(f"CREATE TABLE runs ({', '.join(cols + [f'{c} TEXT' for c in JSON_COLS])})")
    conn.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * 17)})", map(to_row, records))
    return conn


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = make_db(RECORDS)
    yield conn
    conn.close()


def sql_ids(conn: sqlite3.Connection, expr: Expr) -> list[str]:
    where, params = compile_sql(expr, "sqlite")
    return [r[0] for r in conn.execute(f"SELECT id FROM runs WHERE {where} ORDER BY id", params)]


def eval_ids(expr: Expr, records: list[dict[str, Any]] = RECORDS) -> list[str]:
    return sorted(r["id"] for r in records if evaluate(expr, r))


def ids(text: str) -> list[str]:
    return eval_ids(parse(text))


# ---------------------------------------------------------------- parser

LR, NAME, STATUS = Field("params", "lr"), Field("name"), Field("status")


def cmp(field: Field, op: Any, value: Any) -> Compare:
    return Compare(field, op, Literal(value))


def test_precedence_or_and_not() -> None:
    a, b, c = cmp(NAME, "=", "a"), cmp(NAME, "=", "b"), cmp(NAME, "=", "c")
    assert parse("name = 'a' or name = 'b' and name = 'c'") == Or((a, And((b, c))))
    assert parse("not name = 'a' and name = 'b'") == And((Not(a), b))
    assert parse("(name = 'a' or name = 'b') and name = 'c'") == And((Or((a, b)), c))
    assert parse("not (name = 'a' or name = 'b')") == Not(Or((a, b)))
    assert parse("name='a' AND name='b' Or NOT NOT name='c'") == Or((And((a, b)), Not(Not(c))))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = 1", cmp(LR, "=", 1)),
        ("params.lr == 1", cmp(LR, "=", 1)),
        ("params.lr != 1.5", cmp(LR, "!=", 1.5)),
        ("params.lr <> -2", cmp(LR, "!=", -2)),
        ("params.lr < 1e-3", cmp(LR, "<", 0.001)),
        ("params.lr <= .5", cmp(LR, "<=", 0.5)),
        ("params.lr > +3", cmp(LR, ">", 3)),
        ("params.lr >= true", cmp(LR, ">=", True)),
        ("name like 'a%'", cmp(NAME, "like", "a%")),
        ('name ILIKE "A_"', cmp(NAME, "ilike", "A_")),
        ("status in ('a', \"b\",)", In(STATUS, (Literal("a"), Literal("b")))),
        ("status NOT IN (1, false)", In(STATUS, (Literal(1), Literal(False)), negated=True)),
        ("tags contains 'x'", Contains(Field("tags"), Literal("x"))),
        ("params.lr is null", IsNull(LR)),
        ("params.lr IS NOT NULL", IsNull(LR, negated=True)),
        ("params.lr = null", IsNull(LR)),
        ("params.lr != NULL", IsNull(LR, negated=True)),
        ("Params.optimizer.type = 'adam'", cmp(Field("params", "optimizer.type"), "=", "adam")),
        ("metrics.train.loss < 0.1", cmp(Field("metrics", "train.loss"), "<", 0.1)),
        ("params.`my key`.x = 'y'", cmp(Field("params", "my key.x"), "=", "y")),
        ("params.`a``b` = 'y'", cmp(Field("params", "a`b"), "=", "y")),
        ("params.layer.0.size-x = 1", cmp(Field("params", "layer.0.size-x"), "=", 1)),
        ("meta.gpu = 'it''s'", cmp(Field("meta", "gpu"), "=", "it's")),
        (r"meta.gpu = 'a\'b\\c\n\%'", cmp(Field("meta", "gpu"), "=", "a'b\\c\n\\%")),
        ('meta.gpu = "say ""hi"" \\"x\\""', cmp(Field("meta", "gpu"), "=", 'say "hi" "x"')),
        ("group = 'ü'", cmp(Field("group"), "=", "ü")),
        ("created > '2026-01-01'", cmp(Field("created"), ">", "2026-01-01")),
        ("   ", TrueExpr()),
        ("", TrueExpr()),
    ],
)
def test_parse(text: str, expected: Expr) -> None:
    assert parse(text) == expected
    assert parse(str(expected)) == expected


def test_every_top_level_field_parses() -> None:
    for name in TOP_FIELDS:
        op = "contains" if name == "tags" else "="
        value = "'2026-01-01'" if name in ("created", "updated") else "'x'"
        assert parse(f"{name.upper()} {op} {value}").field == Field(name)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("foo = 1", 1, "unknown field 'foo'; allowed: id, name, project"),
        ("name = 1 and bogus.x = 2", 14, "unknown field 'bogus'"),
        ("name = ", 8, "expected a value"),
        ("name = 'abc", 8, "unterminated string"),
        ("name 'a'", 6, "expected an operator after name"),
        ("(name = 'a'", 12, "expected ')' to close '(' at column 1"),
        ("name = 'a')", 11, "expected 'and', 'or' or the end"),
        ("name = 'a' or", 14, "expected a field name, 'not' or '('"),
        ("params = 1", 1, "needs a key"),
        ("name.x = 1", 1, "has no sub-fields"),
        ("params. = 1", 8, "expected a key after '.'"),
        ("params.`` = 1", 8, "empty field name"),
        ("name ! 'a'", 6, "unknown operator"),
        ("name = 12abc", 10, "malformed number"),
        ("name = 1e999", 8, "number out of range"),
        ("name = 99999999999999999999", 8, "64-bit range"),
        ("name < null", 6, "use 'is null'"),
        ("name like 5", 6, "needs a string pattern"),
        ("created like 'a'", 9, "does not apply to created"),
        ("created > 'yesterday'", 9, "not an ISO 8601 date"),
        ("created = true", 9, "compares with a number"),
        ("tags = 'x'", 6, "tags supports only"),
        ("status in ()", 12, "expected a value"),
        ("status in (null)", 8, "may not contain null"),
        ("status in 'a'", 11, "expected '(' to start"),
        ("name is 'a'", 9, "expected 'null'"),
        ("name not like 'a'", 10, "expected 'in'"),
        ("name = 'a' § 1", 12, "unexpected character"),
    ],
)
def test_parse_errors_show_position(text: str, column: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    message = str(info.value)
    assert fragment in message
    assert f"at column {column}," in message
    assert message.splitlines()[-1] == "  " + " " * (column - 1) + "^"
    assert isinstance(info.value, InvalidArgumentError)


def test_parse_limits_and_types() -> None:
    parse("(" * 30 + "name = 'a'" + ")" * 30)
    with pytest.raises(QuerySyntaxError, match="nested deeper"):
        parse("(" * 100 + "name = 'a'" + ")" * 100)
    with pytest.raises(QuerySyntaxError, match="nested deeper"):
        parse("not " * 100 + "name = 'a'")
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        parse(5)  # type: ignore[arg-type]


def test_ast_nodes_validate() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown field"):
        Field("nope")
    with pytest.raises(InvalidArgumentError, match="finite"):
        Literal(math.inf)
    with pytest.raises(InvalidArgumentError):
        Literal([1])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="unknown operator"):
        Compare(NAME, "~", Literal("a"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        And((cmp(NAME, "=", "a"),))
    with pytest.raises(InvalidArgumentError):
        Not(TrueExpr())
    assert Literal(True) != Literal(1)
    a = cmp(NAME, "=", "a")
    assert conjoin() == TrueExpr() and conjoin(TrueExpr(), a) == a
    assert conjoin(a, TrueExpr(), a) == And((a, a))


def test_parse_sort() -> None:
    assert parse_sort("-created, params.lr,+name") == [
        (Field("created"), True),
        (LR, False),
        (NAME, False),
    ]
    assert parse_sort("  ") == []
    assert parse_sort("-params.`a,b`") == [(Field("params", "a,b"), True)]
    for bad, fragment in [("tags", "cannot be sorted"), ("name name", "expected ','"),
                          ("-", "expected a field"), ("nope", "unknown field")]:  # fmt: skip
        with pytest.raises(QuerySyntaxError, match=fragment):
            parse_sort(bad)


# ---------------------------------------------------------------- evaluate


CASES: list[tuple[str, list[str]]] = [
    ("params.lr < 0.005", ["r01", "r05", "r06", "r09", "r10"]),
    ("params.lr = '0.01'", ["r03"]),
    ("params.lr != 0.01", ["r01", "r05", "r06", "r08", "r09", "r10"]),
    ("params.lr is null", ["r04", "r07"]),
    ("not params.lr is not null", ["r04", "r07"]),
    ("params.batch = 32", ["r01", "r03"]),
    ("params.use_amp = true", ["r01"]),
    ("params.use_amp in (1)", ["r05"]),
    ("params.optimizer.type ilike 'ADAM%'", ["r01", "r03", "r05", "r06"]),
    ("params.optimizer.type like 'adam'", ["r01", "r05"]),
    ("params.list contains 'adam'", ["r03", "r04"]),
    ("params.list contains 2.5 or params.layers contains 2", ["r01", "r03"]),
    ("params.`we\"ird` = 'q' and params.`ü` = 1", ["r03"]),
    ("metrics.loss is null", ["r03", "r04", "r07"]),
    ("metrics.train.loss <= 0.2", ["r05"]),
    ("tags contains 'nlp' and not tags contains 'baseline'", ["r04", "r05", "r10"]),
    ("tags is null", ["r02", "r07"]),
    ("group is null", ["r02", "r06", "r07", "r08", "r09"]),
    ("group != 'g1'", ["r04", "r05"]),
    ("group not in ('g1', 5)", ["r04", "r05"]),
    ("name like '50\\%\\_%'", ["r04"]),
    ("name like '%\\%%'", ["r04"]),
    ("name like 'a*b?c[d]'", ["r09"]),
    ("name ilike 'ünïcode%'", []),
    ("name ilike 'Ünïcode RÉSUMÉ'", []),
    ("name ilike 'ÜNïCODE RéSUMé'", ["r05"]),
    ("name contains 'bert'", ["r01", "r02"]),
    ("name > 'a' and name < 'c'", ["r01", "r02", "r09"]),
    ("created >= '2026-01-01' and created < '2026-01-02T12:00:00Z'", ["r02", "r10"]),
    ("created < 1767225600.5", ["r01", "r02", "r10"]),
    ("created is null", ["r07"]),
    ("meta.gpu = 'A100'", ["r01"]),
    ("status = 5 or name = true", []),
    (
        "params.nested = 1 or params.nested is null",
        ["r01", "r02", "r03", "r05", "r06", "r07", "r08", "r09", "r10"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_evaluate_and_sqlite_agree(db: sqlite3.Connection, text: str, expected: list[str]) -> None:
    expr = parse(text)
    assert eval_ids(expr) == expected
    assert sql_ids(db, expr) == expected


def test_evaluate_odd_records() -> None:
    expr = parse("params.lr > 0 or tags contains 'a' or created > 0 or meta.x is null")
    odd: list[dict[str, Any]] = [
        {},
        {"params": "x", "tags": "a", "created": "2026"},
        {"meta": None},
    ]
    for record in odd:
        evaluate(expr, record)  # never raises
    assert evaluate(TrueExpr(), {})
    assert not evaluate(parse("tags contains 'a'"), {"tags": "abc"})


def test_sort_matches_sqlite(db: sqlite3.Connection) -> None:
    for text in ["-created,id", "name", "-name", "params.batch,-id", "-metrics.loss,id",
                 "params.optimizer.type,id", "-group,-id"]:  # fmt: skip
        sort = parse_sort(text)
        order, params = compile_order(sort, "sqlite")
        rows = db.execute(f"SELECT id FROM runs ORDER BY {order}", params).fetchall()
        assert [r[0] for r in rows] == [r["id"] for r in sort_records(RECORDS, sort)], text
    assert compile_order([], "sqlite") == ("", [])


# ---------------------------------------------------------------- injection and dialects


@pytest.mark.parametrize(
    "text",
    [
        "name = 'x'' OR 1=1 --'",
        'name = "x\' OR 1=1 --"',
        "params.`a'); DROP TABLE runs; --` = 5",
        "params.`a'); DROP TABLE runs; --` is not null or name = '''; DROP TABLE runs; --'",
        "params.`x\" OR 1=1 --` is null and name like '%'' OR ''1''=''1'",
        "tags contains 'x'' OR 1=1 --' or meta.`'` = ')'",
    ],
)
def test_injection_attempts_are_inert(db: sqlite3.Connection, text: str) -> None:
    expr = parse(text)
    assert sql_ids(db, expr) == eval_ids(expr)
    for dialect in ("sqlite", "postgres"):
        sql, _ = compile_sql(expr, dialect)
        assert "DROP" not in sql and "OR 1=1" not in sql and "--" not in sql
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (len(RECORDS),)
    assert eval_ids(parse("name = 'x'' OR 1=1 --'")) == ["r08"]


def test_postgres_placeholders_and_no_values_in_text() -> None:
    text = (
        "name = 'SENT_a' and params.SENT_k > 123456789 and metrics.`SENT k2` in (987654, 'SENT_b')"
        " and tags contains 'SENT_c' and meta.`SENT\"q` like 'SENT_%' and created > '2031-05-06'"
        " and not params.SENT_j contains 'SENT_d' and group not in ('SENT_e') or id ilike 'SENT'"
    )
    for dialect in ("postgres", "sqlite"):
        sql, params = compile_sql(parse(text), dialect)
        order, oparams = compile_order(parse_sort("-params.SENT_o,name"), dialect)
        for fragment in (sql, order):
            assert "SENT" not in fragment and "123456789" not in fragment
            assert "987654" not in fragment and "2031" not in fragment
        if dialect == "postgres":
            assert re.findall(r"%.", sql) == ["%s"] * len(params) and "?" not in sql
            assert re.findall(r"%.", order) == ["%s"] * len(oparams)
        else:
            assert sql.count("?") == len(params) and "%" not in sql


def test_unknown_dialect() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown SQL dialect"):
        compile_sql(TrueExpr(), "mysql")  # type: ignore[arg-type]
    assert compile_sql(TrueExpr(), "postgres") == ("TRUE", [])


# ---------------------------------------------------------------- property tests

PARAM_KEYS = ["lr", "batch", "optimizer.type", "use_amp", "list", "layers", "my key", 'we"ird',
              "ü", "nested", INJECT_KEY, "missing"]  # fmt: skip
FIELDS = [Field(n) for n in TOP_FIELDS] + [
    *(Field("params", k) for k in PARAM_KEYS),
    *(Field("metrics", k) for k in ["loss", "train.loss", "acc"]),
    *(Field("meta", k) for k in ["gpu", "note"]),
]
ALPHABET = "aAbB_%\\*?[]'\" üÜ,.-0123"
SCALARS = st.one_of(
    st.sampled_from([0.001, 0.01, "0.01", 32, 32.0, "32", "adam", "ADAM", "A100", "g1", "nlp",
                     "bert-base", 1e-4, True, False, 1, 0, -0.5, 2.5, "2026-01-01", 1767225600]),
    st.text(ALPHABET, max_size=4),
    st.integers(-40, 40),
    st.integers(-400, 400).map(lambda i: i / 8),
    st.booleans(),
)  # fmt: skip
NON_NULL = st.builds(Literal, SCALARS)


def _node(make: Any, *args: Any) -> Expr | None:
    try:
        node: Expr = make(*args)
    except InvalidArgumentError:
        return None
    return node


OPS = ["=", "!=", "<", "<=", ">", ">=", "like", "ilike"]


def seen_values(field: Field) -> list[Any]:
    """Scalars that ``field`` (or its list elements) holds in RECORDS, to draw likely hits."""
    found: dict[str, Any] = {}
    for record in RECORDS:
        value = field_value(field, record)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | int | float) and item == item:  # no NaN
                found[repr(item)] = item
    return list(found.values())


def _some(node: Expr | None) -> Expr:
    assert node is not None
    return node


def leaf_strategy(field: Field) -> st.SearchStrategy[Expr]:
    seen = seen_values(field)
    near = st.sampled_from(seen) if seen else SCALARS
    texts = [v for v in seen if isinstance(v, str)] or ["a"]
    pattern = st.builds(
        lambda text, cut, wild: text[:cut] + wild,
        st.sampled_from(texts), st.integers(0, 6), st.sampled_from(["%", "_", "", "_%"]),
    )  # fmt: skip
    literal = st.builds(Literal, st.one_of(near, near, SCALARS, pattern))
    return st.one_of(
        st.builds(_node, st.just(Compare), st.just(field), st.sampled_from(OPS), literal),
        st.builds(_node, st.just(In), st.just(field),
                  st.lists(literal, min_size=1, max_size=3).map(tuple), st.booleans()),
        st.builds(_node, st.just(Contains), st.just(field), literal),
        st.builds(_node, st.just(IsNull), st.just(field), st.booleans()),
    ).filter(lambda node: node is not None).map(_some)  # fmt: skip


LEAVES = st.one_of([leaf_strategy(field) for field in FIELDS])
EXPRS: st.SearchStrategy[Expr] = st.recursive(
    LEAVES,
    lambda kids: st.one_of(
        st.lists(kids, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(kids, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        kids.map(Not),
    ),
    max_leaves=6,
)
JSON_VALUES = st.one_of(st.none(), SCALARS, st.lists(SCALARS, max_size=3))
RANDOM_RECORDS = st.lists(
    st.fixed_dictionaries(
        {"name": st.one_of(st.none(), st.text(ALPHABET, max_size=5)),
         "status": st.sampled_from(["finished", "failed", "running"]),
         "group": st.one_of(st.none(), st.sampled_from(["g1", "g2"])),
         "tags": st.one_of(st.none(), st.lists(st.text(ALPHABET, max_size=3), max_size=3)),
         "created": st.one_of(st.none(), st.floats(1.7e9, 1.8e9)),
         "params": st.one_of(st.none(), st.dictionaries(st.sampled_from(PARAM_KEYS), JSON_VALUES)),
         "metrics": st.dictionaries(st.sampled_from(["loss", "acc"]), JSON_VALUES)}
    ),
    max_size=8,
).map(lambda rows: [{**row, "id": f"x{i:02d}"} for i, row in enumerate(rows)])  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(EXPRS)
def test_random_expressions_sqlite_equals_evaluate(db: sqlite3.Connection, expr: Expr) -> None:
    assert sql_ids(db, expr) == eval_ids(expr), str(expr)
    assert parse(str(expr)) == expr


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(EXPRS, RANDOM_RECORDS)
def test_random_records_sqlite_equals_evaluate(expr: Expr, records: list[dict[str, Any]]) -> None:
    conn = make_db(records)
    try:
        assert sql_ids(conn, expr) == eval_ids(expr, records), str(expr)
    finally:
        conn.close()


def _shift(literal: Literal, field: Field) -> Literal:
    """Another value of the same kind (time strings keep a valid date)."""
    value = literal.value
    if isinstance(value, bool):
        return Literal(not value)
    if isinstance(value, int | float):
        return Literal(value + 7)
    if isinstance(value, str) and field.kind != "time":
        return Literal(value + "Zq")
    return literal


def _mutate(expr: Expr) -> Expr:
    if isinstance(expr, And | Or):
        return type(expr)(tuple(_mutate(item) for item in expr.items))
    if isinstance(expr, Not):
        return Not(_mutate(expr.item))
    if isinstance(expr, Compare):
        return Compare(expr.field, expr.op, _shift(expr.value, expr.field))
    if isinstance(expr, In):
        return In(expr.field, tuple(_shift(v, expr.field) for v in expr.values), expr.negated)
    if isinstance(expr, Contains):
        return Contains(expr.field, _shift(expr.value, expr.field))
    return expr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(EXPRS)
def test_sql_text_does_not_depend_on_values(expr: Expr) -> None:
    for dialect in ("sqlite", "postgres"):
        sql, params = compile_sql(expr, dialect)
        other_sql, other_params = compile_sql(_mutate(expr), dialect)
        assert sql == other_sql
        assert len(params) == len(other_params) == sql.count("%s" if dialect == "postgres" else "?")


# ---------------------------------------------------------------- optional: real PostgreSQL

PG_DSN = os.environ.get("RUNLANE_TEST_POSTGRES_DSN")


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    """A connection to RUNLANE_TEST_POSTGRES_DSN, else to the PostgreSQL that
    ``scripts/services`` starts for the server tests (skipped, or failed under
    RUNLANE_REQUIRE_SERVICES=1, when it cannot start)."""
    dsn = PG_DSN
    if not dsn:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from support.services import services

        dsn = services().dsn
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def pg_load(conn: Any, records: list[dict[str, Any]]) -> None:
    cols = [f"{c} text" for c in TEXT_COLS] + ["created float8", "updated float8"]
    conn.execute("DROP TABLE IF EXISTS pg_temp.runs")
    conn.execute(f"CREATE TEMP TABLE runs ({', '.join(cols + [f'{c} jsonb' for c in JSON_COLS])})")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO runs VALUES ({', '.join(['%s'] * 17)})", map(to_row, records))


def pg_ids(conn: Any, expr: Expr, records: list[dict[str, Any]]) -> list[str]:
    pg_load(conn, records)
    where, params = compile_sql(expr, "postgres")
    rows = conn.execute(f'SELECT id FROM runs WHERE {where} ORDER BY id COLLATE "C"', params)
    return [r[0] for r in rows]


def test_sort_on_postgres(pg: Any) -> None:
    pg_load(pg, RECORDS)
    for text in ["-created,id", "name", "-name", "-metrics.loss,id", "-group,-id"]:
        sort = parse_sort(text)
        order, params = compile_order(sort, "postgres")
        rows = pg.execute(f"SELECT id FROM runs ORDER BY {order}", params).fetchall()
        assert [r[0] for r in rows] == [r["id"] for r in sort_records(RECORDS, sort)], text
    order, params = compile_order(parse_sort('params.batch,-params.`we"ird`'), "postgres")
    assert len(pg.execute(f"SELECT id FROM runs ORDER BY {order}", params).fetchall()) == 10


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(EXPRS)
def test_random_expressions_postgres_equals_evaluate(pg: Any, expr: Expr) -> None:
    assert pg_ids(pg, expr, RECORDS) == eval_ids(expr), str(expr)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_cases_on_postgres(pg: Any, text: str, expected: list[str]) -> None:
    assert pg_ids(pg, parse(text), RECORDS) == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(EXPRS, RANDOM_RECORDS)
def test_random_records_postgres_equals_evaluate(
    pg: Any, expr: Expr, records: list[dict[str, Any]]
) -> None:
    assert pg_ids(pg, expr, records) == eval_ids(expr, records), str(expr)

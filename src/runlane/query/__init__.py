"""The run filter language: ``runlane ls --where "status = 'finished' and params.lr < 0.01"``.

* :func:`parse` turns filter text into an :class:`Expr` tree (empty text: :class:`TrueExpr`);
  :func:`parse_sort` turns ``"-created,params.lr"`` into sort keys.
* :func:`evaluate` tests a tree on a plain run record (local folders, tests).
* :func:`compile_sql` / :func:`compile_order` turn trees and sort keys into parameterized SQL
  for the ``sqlite`` catalog and the ``postgres`` server; both select the same runs as
  :func:`evaluate`.

Errors: :class:`~runlane.errors.QuerySyntaxError` for bad filter text (with the column),
:class:`~runlane.errors.InvalidArgumentError` for bad trees, sort keys or dialects.
"""

from __future__ import annotations

from runlane.query.ast import (
    ALLOWED_FIELDS,
    PREFIXES,
    TOP_FIELDS,
    And,
    Compare,
    CompareOp,
    Contains,
    Expr,
    Field,
    In,
    IsNull,
    Literal,
    Not,
    Or,
    Scalar,
    SortKey,
    TrueExpr,
    conjoin,
    to_text,
)
from runlane.query.evaluate import evaluate, field_value, filter_records, sort_records
from runlane.query.parser import parse, parse_sort
from runlane.query.sql import DIALECTS, SqlDialect, compile_order, compile_sql

__all__ = [
    "ALLOWED_FIELDS",
    "DIALECTS",
    "PREFIXES",
    "TOP_FIELDS",
    "And",
    "Compare",
    "CompareOp",
    "Contains",
    "Expr",
    "Field",
    "In",
    "IsNull",
    "Literal",
    "Not",
    "Or",
    "Scalar",
    "SortKey",
    "SqlDialect",
    "TrueExpr",
    "compile_order",
    "compile_sql",
    "conjoin",
    "evaluate",
    "field_value",
    "filter_records",
    "parse",
    "parse_sort",
    "sort_records",
    "to_text",
]

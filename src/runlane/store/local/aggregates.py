"""Counting and grouping runs and listing projects in the local catalog: one SQL query each.

The filter language compiles to bound parameters (:func:`runlane.store.local.listing.where_clause`);
JSON keys are read with the SQLite dialect's own accessors (:class:`SqliteCompiler`), so a
group's value is exactly what a filter on that value compares with. See
:meth:`runlane.store.base.Store.group_runs` for the contract and :mod:`runlane.store.grouping`
for the shared semantics.
"""

from __future__ import annotations

from typing import Any

import orjson

from runlane.entities import ProjectSummary, RunGroup
from runlane.query import Field
from runlane.query._sqlite import SqliteCompiler
from runlane.query.sql import COLUMNS as FIELD_COLUMNS
from runlane.store.grouping import merge_groups
from runlane.store.local.catalog import Catalog
from runlane.store.local.listing import where_clause

#: ``json_type`` → the kind a group value has (JSON null and a missing key are both null).
_KIND = (
    "CASE t WHEN 'integer' THEN 'num' WHEN 'real' THEN 'num' WHEN 'true' THEN 'bool' "
    "WHEN 'false' THEN 'bool' WHEN 'text' THEN 'text' WHEN 'array' THEN 'json' "
    "WHEN 'object' THEN 'json' ELSE 'null' END"
)
_VALUE = (
    "CASE WHEN t IN ('true', 'false') THEN t "
    "WHEN t IN ('integer', 'real', 'text', 'array', 'object') THEN v END"
)


def count_runs(catalog: Catalog, project: str | None, where: str | None) -> int:
    condition, params = where_clause(project, where)
    rows = catalog.execute(f"SELECT count(*) FROM runs WHERE {condition}", params)
    return int(rows[0][0])


def list_projects(catalog: Catalog) -> list[ProjectSummary]:
    rows = catalog.execute(
        "SELECT owner, project, count(*), max(created) FROM runs "
        "GROUP BY owner, project ORDER BY owner, project"
    )
    return [ProjectSummary(str(o), str(p), int(n), float(last)) for o, p, n, last in rows]


def group_runs(
    catalog: Catalog, field: Field, project: str | None, where: str | None, max_ids: int
) -> list[RunGroup]:
    """The groups of the runs ``where`` selects by ``field`` (already checked by
    :func:`runlane.store.grouping.group_field`)."""
    condition, params = where_clause(project, where)
    if field.root == "tags":
        rows = catalog.execute(
            "SELECT je.value, count(*) FROM (SELECT tags FROM runs WHERE "
            f"{condition}) AS r LEFT JOIN json_each(r.tags) AS je GROUP BY je.value",
            params,
        )
        return [RunGroup(None if v is None else str(v), int(n)) for v, n in rows]
    column = FIELD_COLUMNS[field.root]
    if field.key is None:
        rows = catalog.execute(
            f"SELECT {column}, count(*) FROM runs WHERE {condition} GROUP BY {column}", params
        )
        return [RunGroup(v, int(n)) for v, n in rows]
    compiler = SqliteCompiler()
    accessors, key_params = compiler.finish(
        f"{compiler.type_of(column, field.key)} AS t, {compiler.value_of(column, field.key)} AS v"
    )
    rows = catalog.execute(
        f"SELECT k, x, count(*), json_group_array(id) FILTER (WHERE k = 'json') FROM "
        f"(SELECT id, {_KIND} AS k, {_VALUE} AS x FROM "
        f"(SELECT id, {accessors} FROM runs WHERE {condition})) GROUP BY k, x",
        [*key_params, *params],
    )
    groups = []
    for kind, value, count, ids in rows:
        members: list[str] = orjson.loads(ids) if kind == "json" else []
        groups.append(RunGroup(_decode(kind, value), int(count), tuple(members[:max_ids])))
    return merge_groups(groups, max_ids)


def _decode(kind: str, value: Any) -> Any:
    if kind == "null":
        return None
    if kind == "bool":
        return value == "true"
    if kind == "json":
        return orjson.loads(value)
    return value

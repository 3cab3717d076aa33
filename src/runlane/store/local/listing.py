"""Listing and searching runs in the local catalog with the filter language."""

from __future__ import annotations

from typing import Any

from runlane.store.local.catalog import COLUMNS, Catalog, decode_row

#: What a listed run is made of: params and metrics stay in the catalog (decoding them for
#: 10,000 rows would cost more than the query itself).
INFO_COLUMNS = tuple(c for c in COLUMNS if c not in ("params", "metrics", "pid", "host"))


def split_project(project: str) -> tuple[str | None, str]:
    """``"owner/project"`` → (owner, project); ``"project"`` → (None, project)."""
    if "/" in project:
        owner, name = project.split("/", 1)
        return owner, name
    return None, project


def where_clause(project: str | None, where: str | None) -> tuple[str, list[Any]]:
    """The condition (for ``WHERE``, on table ``runs``) selecting the runs of ``project``
    that ``where`` selects, and its bound parameters."""
    from runlane.query import compile_sql, parse

    clauses: list[str] = []
    params: list[Any] = []
    if project:
        owner, name = split_project(project)
        clauses.append("project = ?")
        params.append(name)
        if owner is not None:
            clauses.append("owner = ?")
            params.append(owner)
    sql, bound = compile_sql(parse(where or ""), "sqlite")
    clauses.append(f"({sql})")
    params.extend(bound)
    return " AND ".join(clauses), params


def list_runs(
    catalog: Catalog,
    *,
    project: str | None,
    where: str | None,
    sort: str | None,
    limit: int | None,
    offset: int,
) -> list[dict[str, Any]]:
    """Catalog rows (:data:`INFO_COLUMNS`) matching ``where`` (compiled to bound
    parameters, never string-built)."""
    from runlane.query import compile_order, parse_sort  # keeps reads light

    condition, params = where_clause(project, where)
    keys = parse_sort(sort or "") or parse_sort("-created")  # blank sort text: the default
    order_sql, order_params = compile_order(keys, "sqlite")
    query = f"SELECT {','.join(INFO_COLUMNS)} FROM runs WHERE {condition}"
    query += f" ORDER BY {order_sql}"
    params.extend(order_params)
    if limit is not None:
        query += " LIMIT ? OFFSET ?"
        params.extend([int(limit), int(offset)])
    elif offset:
        query += " LIMIT -1 OFFSET ?"
        params.append(int(offset))
    return [decode_row(row, INFO_COLUMNS) for row in catalog.execute(query, params)]

"""Listing and searching runs in the local catalog with the filter language."""

from __future__ import annotations

from typing import Any

from runlane.store.local.catalog import COLUMNS, Catalog, decode_row


def split_project(project: str) -> tuple[str | None, str]:
    """``"owner/project"`` → (owner, project); ``"project"`` → (None, project)."""
    if "/" in project:
        owner, name = project.split("/", 1)
        return owner, name
    return None, project


def list_runs(
    catalog: Catalog,
    *,
    project: str | None,
    where: str | None,
    sort: str | None,
    limit: int | None,
    offset: int,
) -> list[dict[str, Any]]:
    """Catalog rows matching ``where`` (compiled to bound parameters, never string-built)."""
    from runlane.query import compile_order, compile_sql, parse, parse_sort  # keeps reads light

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
    order_sql, order_params = compile_order(parse_sort(sort or "-created"), "sqlite")
    query = f"SELECT {','.join(COLUMNS)} FROM runs"
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    query += f" ORDER BY {order_sql}"
    params.extend(order_params)
    if limit is not None:
        query += " LIMIT ? OFFSET ?"
        params.extend([int(limit), int(offset)])
    elif offset:
        query += " LIMIT -1 OFFSET ?"
        params.append(int(offset))
    return [decode_row(row) for row in catalog.execute(query, params)]

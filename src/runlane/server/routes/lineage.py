"""A run's lineage as a graph to draw: ``GET /runs/{id}/lineage/graph``.

``/runs/{id}/lineage`` answers the run's own lineage records; this route walks the lineage
graph of the run's whole project (:class:`runlane.artifacts.lineage.LineageGraph`, built from
every run's records through the Store protocol) both ways from the run, ``depth`` edges
each way, and lays the nodes out in columns: ``column`` is the signed distance from the run
(``-1`` its inputs, ``-2`` the runs that produced them, ``+1`` its outputs, ``+2`` the runs
that consumed them, ...). Answer::

    {"run": "run:<id>", "depth": 2,
     "nodes": [{"id", "kind", "label", "name", "run_id", "column", "attrs",
                "producers": [run id], "consumers": [run id]}],
     "edges": [{"source": node id, "target": node id}],
     "hidden": {"<column>": count}}

Edges point the way data flows (input → run → output). ``producers``/``consumers`` list the
runs (of the whole project graph, shown or not) with an edge into / out of a non-run node.
A column keeps its first ``limit`` nodes (breadth-first order); ``hidden`` counts the rest.
The graph is read when asked (no cache), in two queries (the project's runs, then their
lineage at once: :meth:`~runlane.store.base.Store.read_lineage_many`); the cost grows with
the project's lineage records. ``POST /runs/lineage`` answers that bulk read to remote
clients.
Unknown run: 404; ``depth`` outside 1..10 or ``limit`` outside 1..1000: 422
(``invalid_request``); a token without read access to the run's project: 403.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.requests import Request

from runlane.artifacts.lineage import LineageGraph, Node
from runlane.errors import InvalidArgumentError
from runlane.server.context import MAX_PAGE
from runlane.server.responses import JSON
from runlane.server.routes.runs import JsonBody, ctx_of
from runlane.store.wire import jsonable, lineage_to_wire

router = APIRouter(tags=["lineage"])
MAX_DEPTH = 10
MAX_LIMIT = 1000


def _name(node: Node) -> str:
    """A short display name: the run's name, ``name:v3`` of a version, a record's name."""
    if node.kind == "run":
        return str(node.attrs.get("name") or node.label)
    suffix = f" ({node.id})"
    return node.label[: -len(suffix)] if node.label.endswith(suffix) else node.label


def _runs(graph: LineageGraph, node: Node, edges: dict[str, list[str]]) -> list[str]:
    """The runs linked to a non-run ``node`` along ``edges`` (none for a run node)."""
    out: list[str] = []
    if node.kind == "run":
        return out
    for node_id in edges.get(node.id, []):
        run_id = graph.nodes[node_id].run_id
        if graph.nodes[node_id].kind == "run" and run_id and run_id not in out:
            out.append(run_id)
    return out


def neighbourhood(graph: LineageGraph, run_id: str, depth: int, limit: int) -> dict[str, Any]:
    """The nodes within ``depth`` edges of run ``run_id`` (upstream and downstream), by
    column, at most ``limit`` per column; see the module docstring for the shape."""
    start = f"run:{run_id}"
    columns: dict[str, int] = {start: 0}
    order = [start]
    hidden: dict[int, int] = {}
    for sign, edges in ((-1, graph.backward), (1, graph.forward)):
        frontier = [start]
        for level in range(1, depth + 1):
            column = sign * level
            reached: list[str] = []
            for current in frontier:
                for other in edges.get(current, []):
                    if other in columns or other in reached:
                        continue
                    if len(reached) >= limit:
                        hidden[column] = hidden.get(column, 0) + 1
                        continue
                    reached.append(other)
            for other in reached:
                columns[other] = column
            order.extend(reached)
            frontier = reached
    nodes = []
    for node_id in order:
        node = graph.nodes[node_id]
        nodes.append(
            {
                "id": node.id,
                "kind": node.kind,
                "label": node.label,
                "name": _name(node),
                "run_id": node.run_id,
                "column": columns[node_id],
                "attrs": jsonable(node.attrs),
                "producers": _runs(graph, node, graph.backward),
                "consumers": _runs(graph, node, graph.forward),
            }
        )
    links = [
        {"source": source, "target": target}
        for source in order
        for target in graph.forward.get(source, [])
        if target in columns
    ]
    return {
        "run": start,
        "depth": depth,
        "nodes": nodes,
        "edges": links,
        "hidden": {str(c): n for c, n in sorted(hidden.items())},
    }


@router.post("/runs/lineage")
def lineage_of_runs(request: Request, body: JsonBody) -> JSON:
    """A read of many runs' lineage at once (:meth:`~runlane.store.base.Store.read_lineage_many`,
    what ``RemoteStore.read_lineage_many`` sends): ``{"ids": [run id, ...]}`` (at most
    10,000) → ``{"lineage": {run id: [record, ...]}}``. Unknown ids are left out; a run of a
    project the token may not read: 403."""
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidArgumentError("body must hold 'ids' as a list of run id strings")
    if len(ids) > MAX_PAGE:
        raise InvalidArgumentError(f"'ids' holds {len(ids)} run ids; at most {MAX_PAGE} a request")
    ctx = ctx_of(request)
    grant = ctx.grant(request)
    found = ctx.store.read_lineage_many(ids)
    for run_id in found if grant is not None else ():
        ctx.allow_run(grant, run_id, "read")
    return JSON(
        {"lineage": {rid: [lineage_to_wire(r) for r in recs] for rid, recs in found.items()}}
    )


@router.get("/runs/{run_id}/lineage/graph")
def lineage_graph(
    request: Request,
    run_id: str,
    depth: int = Query(2, ge=1, le=MAX_DEPTH),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> JSON:
    """The run's lineage neighbourhood across the runs of its project, in columns."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    owner, project = ctx.run_project(run_id)
    graph = LineageGraph.build(ctx.store, f"{owner}/{project}")
    if f"run:{run_id}" not in graph.nodes:  # a run created after the listing began
        graph.add_run(ctx.store.get_run(run_id), ctx.store.read_lineage(run_id), None)
    return JSON(neighbourhood(graph, run_id, depth, limit))

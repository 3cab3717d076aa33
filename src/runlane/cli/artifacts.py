"""``runlane artifacts RUN`` (list), ``runlane get RUN NAME`` (download, verified),
``runlane models [NAME]`` (the registry) and ``runlane lineage NODE`` (walk the graph)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.cli.common import (
    common_options,
    emit_json,
    fmt_time,
    non_negative_int,
    open_store,
    positive_int,
    print_table,
    resolve,
    root_of,
    short_id,
)

if TYPE_CHECKING:
    from runlane.artifacts.lineage import LineageGraph
    from runlane.artifacts.registry import ModelRegistry


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = sub.add_parser(
        "artifacts",
        parents=[common_options()],
        help="list a run's artifacts and assets",
        description="List what a run logged: outputs, versioned assets (name@step), artifact "
        "and model versions (name:vN), with kind, size and sha256.",
    )
    listing.add_argument("run", help="run id, id prefix, owner/project/name or folder")
    listing.add_argument("--kind", metavar="KIND", help="only this kind (image, model, ...)")
    listing.set_defaults(func=cmd_artifacts)

    get = sub.add_parser(
        "get",
        parents=[common_options()],
        help="download an artifact of a run (verified)",
        description="Write a run's artifact into a folder, checking every file's sha256. "
        "Without --version/--step the last one logged under NAME is fetched.",
    )
    get.add_argument("run", help="run id, id prefix, owner/project/name or folder")
    get.add_argument("name", help="artifact name (see `runlane artifacts RUN`)")
    which = get.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="V", help="version (v3, 3) or alias (latest, ...)")
    which.add_argument("--step", metavar="S", type=non_negative_int, help="asset step")
    get.add_argument("-o", "--output", metavar="DIR", default=".", help="folder (default .)")
    get.set_defaults(func=cmd_get)

    models = sub.add_parser(
        "models",
        parents=[common_options()],
        help="list registered models or one's versions",
        description="Without NAME: every model (of --project, else of every project). "
        "With NAME: its versions, runs, aliases.",
    )
    models.add_argument("name", nargs="?", help="a model name")
    models.add_argument("--project", metavar="P", help="owner/project or project")
    models.set_defaults(func=cmd_models)

    lineage = sub.add_parser(
        "lineage",
        parents=[common_options()],
        help="what a run, artifact or model came from and what came of it",
        description="NODE: a run (id, prefix, owner/project/name), a model or artifact "
        "version (name:v2, name@production, model:name:v2), a URI or a local path. Prints "
        "its upstream (inputs, recursively) and downstream (outputs) trees.",
    )
    lineage.add_argument("node", help="run, name:version, URI or path")
    lineage.add_argument("--project", metavar="P", help="only this project's runs")
    lineage.add_argument("--depth", metavar="N", type=positive_int, help="levels to follow")
    side = lineage.add_mutually_exclusive_group()
    side.add_argument("--up", action="store_true", help="only upstream")
    side.add_argument("--down", action="store_true", help="only downstream")
    lineage.set_defaults(func=cmd_lineage)


add_parser = register


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def cmd_artifacts(args: argparse.Namespace) -> int:
    from runlane.sdk.view import RunView

    store = open_store(args)
    view = RunView(store, resolve(store, args.run))
    records = [r for r in view.artifacts if args.kind is None or r.kind == args.kind]
    if args.json:
        emit_json([r.to_dict() for r in records])
        return 0
    rows = [
        [
            r.label,
            r.kind,
            r.mode,
            _size(r.size) if r.files else "-",
            (r.sha256 or "-")[:12],
            r.path or "-",
            fmt_time(r.at),
        ]
        for r in records
    ]
    print_table(["NAME", "KIND", "MODE", "SIZE", "SHA256", "PATH", "LOGGED"], rows)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from runlane.sdk.view import RunView

    store = open_store(args)
    view = RunView(store, resolve(store, args.run))
    path = view.artifacts.download(
        args.name, version=args.version, step=args.step, dest=Path(args.output)
    )
    if args.json:
        emit_json({"path": str(path)})
    else:
        print(path)
    return 0


def _registries(args: argparse.Namespace) -> list[tuple[str, ModelRegistry]]:
    from runlane.artifacts.api import split_project
    from runlane.artifacts.registry import ModelRegistry
    from runlane.artifacts.remote import artifact_client

    client = artifact_client(open_store(args))  # a missing root is reported, not created
    if client is not None:  # a runlane server (--dir http://...)
        wanted = [split_project(args.project)] if args.project else client.projects()
        return [(f"{o}/{p}", client.models(o, p)) for o, p in wanted]
    root = root_of(args)
    if args.project:
        owner, name = split_project(args.project)
        return [(f"{owner}/{name}", ModelRegistry(root / owner / name, f"{owner}/{name}"))]
    found = []
    for models_dir in sorted(root.glob("*/*/.models")):
        project = models_dir.parent
        namespace = f"{project.parent.name}/{project.name}"
        found.append((namespace, ModelRegistry(project, namespace)))
    return found


def cmd_models(args: argparse.Namespace) -> int:
    from runlane.artifacts.errors import ArtifactNotFoundError

    registries = _registries(args)
    if args.name is None:
        items = [(ns, m) for ns, reg in registries for m in reg.all()]
        if args.json:
            emit_json([{"project": ns, **m.to_dict()} for ns, m in items])
            return 0
        rows = [
            [
                ns,
                m.name,
                str(m.version_count),
                m.aliases.get("latest", "-"),
                ", ".join(f"{a}={v}" for a, v in sorted(m.aliases.items()) if a != "latest") or "-",
                ", ".join(m.tags) or "-",
                fmt_time(m.updated_at),
            ]
            for ns, m in items
        ]
        print_table(["PROJECT", "MODEL", "VERSIONS", "LATEST", "ALIASES", "TAGS", "UPDATED"], rows)
        return 0
    for _, registry in registries:
        if args.name in registry.names():
            versions = registry.versions(args.name)
            if args.json:
                emit_json([v.to_dict() for v in versions])
                return 0
            rows = [
                [
                    v.version,
                    v.run or "-",
                    short_id(v.run_id or "-"),
                    v.framework or "-",
                    "-" if v.step is None else str(v.step),
                    _size(v.size),
                    ", ".join(v.aliases) or "-",
                    ", ".join(v.tags) or "-",
                    fmt_time(v.created_at),
                ]
                for v in versions
            ]
            print_table(
                ["VERSION", "RUN", "ID", "FRAMEWORK", "STEP", "SIZE", "ALIASES", "TAGS", "CREATED"],
                rows,
                title=f"model {args.name}",
            )
            return 0
    known = sorted({n for _, reg in registries for n in reg.names()})
    raise ArtifactNotFoundError(f"no model {args.name!r}; known: {', '.join(known) or 'none'}")


def _print_tree(tree: dict[str, Any], arrow: str, indent: int = 1) -> None:
    for child in tree["children"]:
        node = child["node"]
        kind = node["kind"]
        print(
            f"{'  ' * indent}{arrow} {kind} {node['label']}"
            + (f" ({short_id(node['run_id'])})" if node.get("run_id") else "")
        )
        _print_tree(child, arrow, indent + 1)


def cmd_lineage(args: argparse.Namespace) -> int:
    from runlane.artifacts.lineage import LineageGraph

    store = open_store(args)
    graph: LineageGraph = LineageGraph.build(store, args.project)
    node = graph.resolve(args.node)
    up = None if args.down else graph.tree(node, "upstream", args.depth)
    down = None if args.up else graph.tree(node, "downstream", args.depth)
    if args.json:
        emit_json({"node": graph.nodes[node].to_dict(), "upstream": up, "downstream": down})
        return 0
    info = graph.nodes[node]
    print(f"{info.kind} {info.label}")
    if up is not None:
        print("upstream:" if up["children"] else "upstream: (nothing recorded)")
        _print_tree(up, "<-")
    if down is not None:
        print("downstream:" if down["children"] else "downstream: (nothing recorded)")
        _print_tree(down, "->")
    return 0

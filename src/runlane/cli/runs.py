"""``runlane ls`` (list and search runs) and ``runlane show`` (one run in detail)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from runlane.cli.common import (
    common_options,
    emit_json,
    fmt_duration,
    fmt_time,
    fmt_value,
    open_store,
    positive_int,
    print_table,
    resolve,
    run_duration,
    short_id,
)

if TYPE_CHECKING:
    from runlane.entities import RunInfo, StreamInfo
    from runlane.store.base import Store

COLUMN_PREFIXES = ("params.", "metrics.", "meta.")
DEFAULT_STREAM = "default"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ls = sub.add_parser(
        "ls",
        parents=[common_options()],
        help="list and search runs",
        description="List runs, newest first. --where takes the filter language, e.g. "
        "\"params.lr > 0.01 and status = 'succeeded'\"; --sort takes keys like "
        "'-created,params.lr'.",
    )
    ls.add_argument("project", nargs="?", help="owner/project or project")
    ls.add_argument("--where", metavar="EXPR", help="filter expression")
    ls.add_argument("--sort", metavar="KEYS", help="sort keys (default: -created)")
    ls.add_argument("--limit", metavar="N", type=positive_int, help="show at most N runs")
    ls.add_argument(
        "--columns",
        metavar="COLS",
        type=parse_columns,
        default=[],
        help="extra columns, comma-separated: params.KEY, metrics.KEY (last value; "
        "metrics.STREAM.FIELD for other streams), meta.KEY",
    )
    ls.set_defaults(func=cmd_ls)

    show = sub.add_parser(
        "show", parents=[common_options()], help="show one run: status, params, streams, ..."
    )
    show.add_argument("run", help="run id, id prefix (≥ 6 chars), owner/project/name or folder")
    show.set_defaults(func=cmd_show)


def parse_columns(text: str) -> list[str]:
    """argparse type: ``"params.lr, metrics.loss"`` → ``["params.lr", "metrics.loss"]``."""
    columns = [part.strip() for part in text.split(",") if part.strip()]
    for column in columns:
        prefix = next((p for p in COLUMN_PREFIXES if column.startswith(p)), None)
        if prefix is None or len(column) == len(prefix):
            raise argparse.ArgumentTypeError(
                f"column {column!r} must be params.KEY, metrics.KEY or meta.KEY"
            )
    return columns


# --- ls ---------------------------------------------------------------------------------------
def cmd_ls(args: argparse.Namespace) -> int:
    from runlane.errors import NotFoundError, QuerySyntaxError
    from runlane.query import parse, parse_sort

    for option, text, parser in (("--where", args.where, parse), ("--sort", args.sort, parse_sort)):
        if text:
            try:
                parser(text)
            except QuerySyntaxError as exc:
                first = str(exc).splitlines()[0]
                raise QuerySyntaxError(f"bad {option} {text!r}: {first}") from exc
    store = open_store(args)
    listed = store.list_runs(
        project=args.project, where=args.where, sort=args.sort, limit=args.limit
    )
    infos: list[RunInfo] = []
    values: list[dict[str, Any]] = []
    for info in listed:
        try:  # the catalog row lacks the status history; the run document has it
            infos.append(store.get_run(info.id))
            values.append(ColumnReader(store, info).values(args.columns))
        except NotFoundError:  # the folder went away since the catalog was written
            infos.append(info)
            values.append(dict.fromkeys(args.columns))
    now = time.time()
    if args.json:
        emit_json(
            [
                {**info.to_dict(), "duration": run_duration(info, now), "columns": cols}
                for info, cols in zip(infos, values, strict=True)
            ]
        )
        return 0
    headers = ["id", "project", "name", "status", "tags", "created", "duration", *args.columns]
    rows = [
        [
            short_id(info.id),
            f"{info.owner}/{info.project}",
            info.prefix.split("/", 2)[2],
            info.status,
            ",".join(info.tags),
            fmt_time(info.created_at),
            fmt_duration(run_duration(info, now)),
            *(fmt_value(cols[c]) for c in args.columns),
        ]
        for info, cols in zip(infos, values, strict=True)
    ]
    if not rows:
        where = f" matching {args.where!r}" if args.where else ""
        project = f" in {args.project}" if args.project else ""
        print(f"no runs{project}{where}")
        return 0
    print_table(headers, rows)
    return 0


class ColumnReader:
    """Values of ``params.*``, ``metrics.*`` and ``meta.*`` columns for one run, reading each
    source at most once: params through ``read_params``, metrics as the last value of a field
    from the stream's stats (``metrics.loss`` is the default stream's ``loss``,
    ``metrics.val.loss`` the ``val`` stream's), meta from the run's ``extra`` document."""

    def __init__(self, store: Store, info: RunInfo) -> None:
        self.store = store
        self.info = info
        self._params: dict[str, Any] | None = None
        self._streams: dict[str, StreamInfo] | None = None
        self._stats: dict[str, dict[str, Any]] = {}

    def values(self, columns: list[str]) -> dict[str, Any]:
        return {column: self.value(column) for column in columns}

    def value(self, column: str) -> Any:
        prefix, key = column.split(".", 1)
        if prefix == "params":
            if self._params is None:
                self._params = self.store.read_params(self.info.id).data
            return self._params.get(key)
        if prefix == "meta":
            return _dig(self.info.extra, key)
        return self._metric(key)

    def _metric(self, key: str) -> Any:
        if self._streams is None:
            self._streams = {s.name: s for s in self.store.list_streams(self.info.id)}
        candidates = [(DEFAULT_STREAM, key)]
        candidates += [(key[:i], key[i + 1 :]) for i, c in enumerate(key) if c == "."]
        for stream, field in candidates:
            info = self._streams.get(stream)
            if info is not None and field in info.fields:
                return self._field_stats(stream).get(field, {}).get("last")
        return None

    def _field_stats(self, stream: str) -> dict[str, Any]:
        if stream not in self._stats:
            from runlane.sdk.view import RunView

            self._stats[stream] = (
                RunView(self.store, self.info.id).metrics(stream).stats()["fields"]
            )
        return self._stats[stream]


def _dig(doc: dict[str, Any], key: str) -> Any:
    """``doc[key]``, else follow the dots of ``key`` into nested dicts; None when absent."""
    if key in doc:
        return doc[key]
    node: Any = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# --- show -------------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    store = open_store(args)
    run_id = resolve(store, args.run)
    info = store.get_run(run_id)
    params = store.read_params(run_id)
    streams = store.list_streams(run_id)
    metadata = store.read_metadata(run_id)
    topics = store.list_tracks(run_id)
    lineage = store.read_lineage(run_id)
    logs = store.read_logs(run_id)
    events = store.read_events(run_id)
    now = time.time()
    if args.json:
        emit_json(
            {
                "run": info.to_dict(),
                "duration": run_duration(info, now),
                "params": params.data,
                "paramsVersion": params.version,
                "streams": [
                    {
                        "name": s.name,
                        "count": s.count,
                        "fields": list(s.fields),
                        "updatedAt": s.updated_at,
                    }
                    for s in streams
                ],
                "tracks": topics,
                "metadata": sorted(metadata),
                "lineage": len(lineage),
                "logs": len(logs),
                "events": len(events),
            }
        )
        return 0
    lines = [
        ("id", info.id),
        ("project", f"{info.owner}/{info.project}"),
        ("name", info.prefix.split("/", 2)[2]),
        ("status", info.status),
        ("history", "  →  ".join(_change(c.status, c.at, c.message) for c in info.status_history)),
        ("created", fmt_time(info.created_at)),
        ("duration", fmt_duration(run_duration(info, now))),
        ("tags", ", ".join(info.tags) or "-"),
        ("description", info.description or "-"),
    ]
    for label, value in (
        ("group", info.group),
        ("framework", info.framework),
        ("backend", info.backend),
        ("external id", info.external_id),
    ):
        if value:
            lines.append((label, value))
    git = info.extra.get("git")
    lines.append(("git", _git_line(git) if isinstance(git, dict) else "-"))
    lines.append(("folder", info.path or "-"))
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label:<{width}}  {value}")
    print()
    if params.data:
        print_table(
            ["param", "value"],
            [[k, fmt_value(v)] for k, v in sorted(params.data.items())],
            title=f"params (version {params.version})",
        )
    else:
        print("params: none")
    if streams:
        print_table(
            ["stream", "rows", "fields"],
            [
                [s.name, str(s.count), ", ".join(f for f in s.fields if not f.startswith("_"))]
                for s in streams
            ],
            title="metric streams",
        )
    else:
        print("metric streams: none")
    print(f"tracks: {', '.join(topics) if topics else 'none'}")
    print(f"metadata: {', '.join(sorted(metadata)) if metadata else 'none'}")
    print(f"lineage: {len(lineage)} reference{'' if len(lineage) == 1 else 's'}")
    print(f"logs: {len(logs)}   events: {len(events)}")
    return 0


def _change(status: str, at: float, message: str | None) -> str:
    text = f"{status} {fmt_time(at)}"
    return f"{text} ({message})" if message else text


def _git_line(git: dict[str, Any]) -> str:
    commit = str(git.get("commit") or "?")[:12]
    parts = [commit]
    if git.get("branch"):
        parts.append(f"on {git['branch']}")
    if git.get("is_dirty"):
        parts.append("(dirty)")
    if git.get("remote_url"):
        parts.append(str(git["remote_url"]))
    return " ".join(parts)

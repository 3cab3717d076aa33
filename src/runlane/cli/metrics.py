"""``runlane metrics RUN [STREAM]``: a run's metric streams, or one stream's rows."""

from __future__ import annotations

import argparse
import sys

from runlane.cli.common import (
    UsageError,
    common_options,
    emit_json,
    fmt_time,
    fmt_value,
    non_negative_int,
    open_store,
    positive_int,
    print_table,
    resolve,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "metrics",
        parents=[common_options()],
        help="list a run's metric streams, or print one stream's rows",
        description="Without STREAM: the run's streams with row counts and fields. With "
        "STREAM: its rows (index, step, fields) as a table, CSV (--csv) or JSON (--json).",
    )
    parser.add_argument("run", help="run id, id prefix, owner/project/name or folder")
    parser.add_argument("stream", nargs="?", help="stream name (the one run.log writes: default)")
    parser.add_argument("--csv", action="store_true", help="print the rows as CSV")
    parser.add_argument("--limit", metavar="N", type=positive_int, help="at most N rows")
    parser.add_argument(
        "--start", metavar="I", type=non_negative_int, default=0, help="first row index (default 0)"
    )
    parser.set_defaults(func=cmd_metrics)


def cmd_metrics(args: argparse.Namespace) -> int:
    from runlane.errors import NotFoundError

    if args.csv and args.json:
        raise UsageError("--csv and --json are two output formats; choose one")
    if args.csv and args.stream is None:
        raise UsageError("--csv prints one stream's rows: name the STREAM")
    store = open_store(args)
    run_id = resolve(store, args.run)
    streams = store.list_streams(run_id)
    if args.stream is None:
        if args.json:
            emit_json(
                [
                    {
                        "name": s.name,
                        "count": s.count,
                        "fields": list(s.fields),
                        "createdAt": s.created_at,
                        "updatedAt": s.updated_at,
                        "description": s.description,
                        "tags": list(s.tags),
                        "metadata": s.metadata,
                    }
                    for s in streams
                ]
            )
        elif not streams:
            print(f"run {run_id} has no metric streams")
        else:
            print_table(
                ["stream", "rows", "fields", "updated"],
                [
                    [
                        s.name,
                        str(s.count),
                        ", ".join(f for f in s.fields if not f.startswith("_")),
                        fmt_time(s.updated_at),
                    ]
                    for s in streams
                ],
            )
        return 0
    names = [s.name for s in streams]
    if args.stream not in names:
        raise NotFoundError(
            f"run {run_id} has no metric stream {args.stream!r}; its streams are: "
            + (", ".join(names) or "none")
        )
    from runlane.cli.tabular import field_union, read_stream, write_csv

    rows = read_stream(store, run_id, args.stream, args.start, args.limit)
    if args.csv:
        write_csv(rows, sys.stdout)
        return 0
    if args.json:
        emit_json([{"index": index, "data": data} for index, data in rows])
        return 0
    fields = [f for f in field_union(rows) if not f.startswith("_")]
    with_step = any("_step" in data for _, data in rows)
    headers = ["index", *(["step"] if with_step else []), *fields]
    print_table(
        headers,
        [
            [
                str(index),
                *([fmt_value(data.get("_step"))] if with_step else []),
                *(fmt_value(data.get(f)) for f in fields),
            ]
            for index, data in rows
        ],
        title=f"{args.stream}: rows {rows[0][0]}..{rows[-1][0]}"
        if rows
        else f"{args.stream}: no rows",
    )
    return 0

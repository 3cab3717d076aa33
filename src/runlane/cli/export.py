"""``runlane export RUN --format json|csv|parquet [-o PATH]``.

* ``json``: one document ``{run, params, metadata, streams: {name: rows}, logs, events,
  tracks, lineage}`` to ``-o FILE`` or stdout; a row is ``{"index": i, "data": {...}}``.
  NaN and ±inf become ``null``.
* ``csv``: one ``<stream>.csv`` per metric stream in the folder ``-o`` (created if needed).
* ``parquet``: one ``<stream>.parquet`` per metric stream in the folder ``-o`` (needs pyarrow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.cli.common import UsageError, common_options, emit_json, json_text, open_store, resolve

if TYPE_CHECKING:
    from runlane.store.base import Store

FORMATS = ("json", "csv", "parquet")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "export",
        parents=[common_options()],
        help="export a run as JSON, or its metric streams as CSV or Parquet files",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", help="run id, id prefix, owner/project/name or folder")
    parser.add_argument("--format", choices=FORMATS, default="json", help="default: json")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file (json; default stdout) or folder (csv, parquet)",
    )
    parser.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    if args.format != "json" and not args.output:
        raise UsageError(f"--format {args.format} writes one file per stream: give -o FOLDER")
    store = open_store(args)
    run_id = resolve(store, args.run)
    if args.format == "json":
        document = export_document(store, run_id)
        if not args.output:
            emit_json(document)
            return 0
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json_text(document, indent=True) + "\n", encoding="utf-8")
        files = [path]
    else:
        files = export_streams(store, run_id, Path(args.output), args.format)
    if args.json:
        emit_json({"run": run_id, "format": args.format, "files": [str(f) for f in files]})
    else:
        for file in files:
            print(f"wrote {file}")
        if not files:
            print(f"run {run_id} has no metric streams; nothing written", file=sys.stderr)
    return 0


def export_document(store: Store, run_id: str) -> dict[str, Any]:
    """Everything stored for the run, as one JSON-ready document."""
    from runlane.cli.logs import record_dict
    from runlane.cli.tabular import read_stream
    from runlane.timeutil import iso

    info = store.get_run(run_id)
    return {
        "run": info.to_dict(),
        "params": store.read_params(run_id).data,
        "metadata": {
            key: {"value": value, "updatedAt": at}
            for key, (value, at) in store.read_metadata(run_id).items()
        },
        "streams": {
            s.name: [{"index": i, "data": data} for i, data in read_stream(store, run_id, s.name)]
            for s in store.list_streams(run_id)
        },
        "logs": [{**record_dict(r), "time": iso(r.timestamp)} for r in store.read_logs(run_id)],
        "events": [
            {"name": e.name, "wallclock": e.wallclock, "source": e.source, "metadata": e.metadata}
            for e in store.read_events(run_id)
        ],
        "tracks": {topic: store.read_track(run_id, topic) for topic in store.list_tracks(run_id)},
        "lineage": [
            {
                "name": r.name,
                "kind": r.kind,
                "path": r.path,
                "isInput": r.is_input,
                "hash": r.hash,
                "size": r.size,
                "summary": r.summary,
                "at": r.at,
            }
            for r in store.read_lineage(run_id)
        ],
    }


def export_streams(store: Store, run_id: str, folder: Path, fmt: str) -> list[Path]:
    """Write one file per metric stream into ``folder``; returns the paths written."""
    from runlane.cli.tabular import read_stream, write_csv, write_parquet

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stream in store.list_streams(run_id):
        rows = read_stream(store, run_id, stream.name)
        path = folder / f"{stream.name}.{fmt}"
        if fmt == "csv":
            with path.open("w", encoding="utf-8", newline="") as fh:
                write_csv(rows, fh)
        else:
            write_parquet(rows, path)
        written.append(path)
    return written

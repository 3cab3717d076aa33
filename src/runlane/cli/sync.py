"""``runlane sync PATH --server URL``: upload runs logged offline (a local folder) to a server.

Re-running it is harmless: only what the server lacks is sent (see
:mod:`runlane.store.upload`). ``runlane sync --server URL`` without PATH replays the spool of
requests the SDK kept while that server was unreachable.
"""

from __future__ import annotations

import argparse
import os

from runlane.cli.common import emit_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sync",
        help="upload offline runs (a local folder) or the SDK's spool to a server",
        description="Upload every run of the local folder PATH to the server (create-or-get "
        "by run id, then only what the server lacks). Without PATH, replay the spool.",
    )
    parser.add_argument("path", nargs="?", help="local runlane data folder")
    parser.add_argument(
        "--server",
        metavar="URL",
        help="runlane server, e.g. http://127.0.0.1:8080 ($RUNLANE_SERVER)",
    )
    parser.add_argument("--token", help="API token ($RUNLANE_TOKEN)")
    parser.add_argument("--project", help="only runs of this owner/project or project")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from runlane.errors import InvalidArgumentError
    from runlane.store.remote import RemoteStore

    url = args.server or os.environ.get("RUNLANE_SERVER")
    if not url:
        raise InvalidArgumentError("give the server: --server URL (or set RUNLANE_SERVER)")
    remote = RemoteStore(url, token=args.token)
    try:
        if args.path is None:
            return _replay(remote, args)
        return _upload(remote, args)
    finally:
        remote.close()


def _replay(remote: object, args: argparse.Namespace) -> int:
    from runlane.errors import StoreError
    from runlane.store.remote import RemoteStore

    assert isinstance(remote, RemoteStore)
    before = len(remote.spool.entries())
    done = remote.replay()
    left = len(remote.spool.entries())
    if args.json:
        emit_json({"spool": str(remote.spool.folder), "sent": before - left, "left": left})
    else:
        print(
            f"replayed {before - left} spooled request(s) from {remote.spool.folder}; {left} left"
        )
    if not done:
        raise StoreError(f"the server {remote.uri} is unreachable; {left} request(s) kept")
    return 0


def _upload(remote: object, args: argparse.Namespace) -> int:
    from pathlib import Path

    from runlane.errors import NotFoundError
    from runlane.store.base import Store
    from runlane.store.local import LocalStore
    from runlane.store.upload import upload_runs

    assert isinstance(remote, Store)
    root = Path(args.path).expanduser()
    if not root.is_dir():
        raise NotFoundError(f"no runlane data folder at {root}")
    local = LocalStore(root)
    try:
        results = list(upload_runs(local, remote, project=args.project))
    finally:
        local.close()
    if args.json:
        emit_json(
            [
                {
                    "run": r.run_id,
                    "prefix": r.prefix,
                    "existed": r.existed,
                    "rows": r.rows,
                    "logs": r.logs,
                    "events": r.events,
                    "tracks": r.tracks,
                    "lineage": r.lineage,
                    "other": r.other,
                }
                for r in results
            ]
        )
        return 0
    for r in results:
        what = (
            f"{r.rows} rows, {r.logs} logs, {r.events} events, {r.tracks} track entries, "
            f"{r.lineage} lineage" + (f", {'/'.join(r.other)}" if r.other else "")
        )
        print(f"{r.run_id[:8]}  {r.prefix}  {'up to date' if not r.changed else what}")
    print(f"synced {len(results)} run(s) to {remote.uri}")
    return 0

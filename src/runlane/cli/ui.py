"""``runlane ui``: serve the local folder's runs in the web UI (and the REST API under /api/v1)."""

from __future__ import annotations

import argparse

from runlane.cli.common import root_of
from runlane.errors import NotFoundError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ui``."""
    ui = sub.add_parser(
        "ui",
        help="browse the local folder's runs in a web UI",
        description="Serve the web UI and the REST API (/api/v1) over the local data folder "
        "($RUNLANE_DIR or ./runlane-data, or --dir). Listens on loopback unless --host says "
        "otherwise; a non-loopback address needs API tokens (see `runlane token`).",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    ui.add_argument("--port", type=int, default=8080, help="port (8080)")
    ui.add_argument(
        "--dir", metavar="PATH", help="local data root (default: $RUNLANE_DIR or ./runlane-data)"
    )
    ui.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve until interrupted. Raises NotFoundError when the data folder does not exist."""
    from runlane.server.serve import ServeOptions, is_loopback, serve

    root = root_of(args)
    if not root.is_dir():
        raise NotFoundError(f"no runlane data folder at {root}: pass --dir PATH or set RUNLANE_DIR")
    if is_loopback(args.host):  # elsewhere serve() may refuse; its own line names the address
        print(f"runlane: UI on http://{args.host}:{args.port}/", flush=True)
    return serve(ServeOptions(store=str(root), host=args.host, port=args.port))

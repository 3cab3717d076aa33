"""``runlane server`` (serve REST + gRPC over a store), ``runlane server gc`` (one garbage
collection pass over a ServerStore) and ``runlane token`` (API tokens)."""

from __future__ import annotations

import argparse
import os

from runlane.cli.common import emit_json, positive_int


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``server`` and ``token``."""
    server = sub.add_parser(
        "server",
        help="serve runs over REST (/api/v1) and gRPC (ModelBox's ModelStore)",
        description="Serve a store: a postgresql:// URI (PostgreSQL + an S3 object store) or "
        "a folder (default: $RUNLANE_DIR, the local store the SDK writes). Without API tokens "
        "it listens on loopback only, unless --insecure.",
    )
    server.add_argument("--store", metavar="URI", help="postgresql://… or a folder")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    server.add_argument("--port", type=int, default=8080, help="REST port (8080)")
    server.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        metavar="PORT",
        help="also serve gRPC on this port (ModelBox clients use 8085)",
    )
    server.add_argument(
        "--artifacts",
        metavar="s3://BUCKET/PREFIX",
        help="object store for cold metric chunks ($RUNLANE_ARTIFACTS)",
    )
    server.add_argument(
        "--files",
        metavar="DIR",
        help="with a postgresql:// store: this process's cache of the artifact records kept "
        "in PostgreSQL; never shared by replicas ($RUNLANE_SERVER_FILES, else "
        "$RUNLANE_DIR/.server-files)",
    )
    server.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="S3 service URL ($RUNLANE_S3_ENDPOINT; keys from AWS_* variables)",
    )
    server.add_argument(
        "--auth",
        choices=("auto", "on", "off"),
        default="auto",
        help="require API tokens: auto = when any token exists (default)",
    )
    server.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address without authentication",
    )
    server.add_argument(
        "--max-body",
        type=positive_int,
        default=64 * 1024 * 1024,
        metavar="BYTES",
        help="largest request body accepted (64 MiB)",
    )
    server.set_defaults(func=cmd_server)
    actions = server.add_subparsers(dest="server_action", metavar="[ACTION]")
    gc = actions.add_parser(
        "gc",
        help="remove expired uploads and commit ids and unreferenced parts, once",
        description="One garbage collection pass over a postgresql:// store (every `runlane "
        "server` also runs one each $RUNLANE_GC_INTERVAL, default 1h): uploads untouched and "
        "commit ids older than --older-than, and objects nothing names any more once found so "
        "for that long. Safe while servers run. Give the --artifacts the servers use.",
    )
    # own dests: `runlane server --store URI gc` keeps the server's options as defaults
    gc.add_argument(
        "--store",
        dest="gc_store",
        metavar="URI",
        help="postgresql://… (default: $RUNLANE_STORE)",
    )
    gc.add_argument(
        "--artifacts",
        dest="gc_artifacts",
        metavar="s3://BUCKET/PREFIX",
        help="the servers' object store ($RUNLANE_ARTIFACTS; none: the database's own)",
    )
    gc.add_argument(
        "--s3-endpoint",
        dest="gc_s3_endpoint",
        metavar="URL",
        help="S3 service URL ($RUNLANE_S3_ENDPOINT; keys from AWS_* variables)",
    )
    gc.add_argument(
        "--older-than",
        type=_duration,
        default=24 * 3600.0,
        metavar="DURATION",
        help="age past which things go: 3600, 30m, 24h, 7d (24h; commit ids retried later "
        "than this are applied again)",
    )
    gc.add_argument("--dry-run", action="store_true", help="report what would go; delete nothing")
    gc.add_argument("--json", action="store_true", help="print the report as JSON")
    gc.set_defaults(func=cmd_gc, parser=gc)

    token = sub.add_parser("token", help="create, list or revoke API tokens of a store")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token (printed once)")
    create.add_argument(
        "--project", required=True, help="owner/project, project (any owner) or '*' (every project)"
    )
    create.add_argument("--role", required=True, choices=("read", "write", "admin"))
    create.add_argument("--name", help="a label for the token")
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", help="the token id (the part after rl_, before the next _)")
    for parser in (create, listing, revoke):
        parser.add_argument(
            "--store",
            metavar="URI",
            help="postgresql://… or a folder (default: $RUNLANE_STORE or $RUNLANE_DIR)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")
    token.set_defaults(func=cmd_token)


register = add_parser


def cmd_server(args: argparse.Namespace) -> int:
    from runlane.server.serve import ServeOptions, serve

    return serve(
        ServeOptions(
            store=args.store,
            host=args.host,
            port=args.port,
            grpc_port=args.grpc_port,
            artifacts=args.artifacts,
            files=args.files,
            s3_endpoint=args.s3_endpoint,
            insecure=args.insecure,
            auth=args.auth,
            max_body=args.max_body,
        )
    )


def _duration(text: str) -> float:
    from runlane.errors import InvalidArgumentError
    from runlane.server.gc_schedule import parse_duration

    try:
        return parse_duration(text, "--older-than")
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_gc(args: argparse.Namespace) -> int:
    from runlane import settings
    from runlane.cli.common import UsageError
    from runlane.server.gc_schedule import summary
    from runlane.store.server import ServerStore
    from runlane.store.server.gc import collect_garbage
    from runlane.store.server.open import object_store_from

    uri = args.gc_store or args.store or settings.default_store_uri()
    if not uri.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            f"--store {uri!r} is not a postgresql:// URI: only a server's PostgreSQL store "
            "needs collecting (a folder store removes its expired uploads itself)"
        )
    objects = object_store_from(
        args.gc_artifacts or args.artifacts or os.environ.get("RUNLANE_ARTIFACTS"),
        args.gc_s3_endpoint or args.s3_endpoint,
    )
    store = ServerStore(uri, objects=objects, pool_size=4)  # a private cache folder
    try:
        report = collect_garbage(store, older_than=args.older_than, dry_run=args.dry_run)
    finally:
        store.close()
    if args.json:
        emit_json(report.to_dict())
        return 0
    print(f"{'dry run: ' if report.dry_run else ''}{summary(report)}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from runlane.server.auth import tokens_for
    from runlane.server.serve import open_server_store

    store = open_server_store(args.store, None, None)
    try:
        tokens = tokens_for(store)
        if args.action == "create":
            text, info = tokens.create(args.project, args.role, args.name)
            if args.json:
                emit_json(
                    {"token": text, "id": info.id, "project": info.project, "role": info.role}
                )
            else:
                print(text)
                print(
                    f"(token {info.id}: role {info.role} on {info.project}; shown only once)",
                    flush=True,
                )
        elif args.action == "list":
            items = tokens.list()
            if args.json:
                emit_json(
                    [
                        {
                            "id": t.id,
                            "project": t.project,
                            "role": t.role,
                            "name": t.name,
                            "created": t.created,
                            "revoked": t.revoked,
                        }
                        for t in items
                    ]
                )
            else:
                for t in items:
                    state = "revoked" if t.revoked else "active"
                    print(f"{t.id}  {t.role:<5}  {t.project}  {state}  {t.name or ''}".rstrip())
        else:
            tokens.revoke(args.id)
            if args.json:
                emit_json({"revoked": args.id})
            else:
                print(f"revoked token {args.id}")
    finally:
        store.close()
    return 0

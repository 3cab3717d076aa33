"""``runlane server`` (serve REST + gRPC over a store) and ``runlane token`` (API tokens)."""

from __future__ import annotations

import argparse

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

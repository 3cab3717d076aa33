"""``runlane rm RUN`` (delete a run) and ``runlane reindex`` (rebuild the local catalog)."""

from __future__ import annotations

import argparse
import sys

from runlane.cli.common import common_options, emit_json, open_store, resolve, root_of


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rm = sub.add_parser(
        "rm",
        parents=[common_options()],
        help="delete a run and everything in it",
        description="Delete a run's folder and catalog row. Asks for confirmation on a "
        "terminal; without a terminal (scripts, pipes) --yes is required.",
    )
    rm.add_argument("run", help="run id, id prefix, owner/project/name or folder")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(func=cmd_rm)

    reindex = sub.add_parser(
        "reindex",
        parents=[common_options()],
        help="rebuild the catalog of runs from the run folders",
    )
    reindex.set_defaults(func=cmd_reindex)


def cmd_rm(args: argparse.Namespace) -> int:
    from runlane.errors import InvalidArgumentError

    store = open_store(args)
    run_id = resolve(store, args.run)
    info = store.get_run(run_id)
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidArgumentError(
                f"refusing to delete run {run_id} ({info.prefix}) without --yes: standard "
                "input is not a terminal, so there is no one to confirm"
            )
        sys.stderr.write(
            f"delete run {run_id} ({info.prefix}, {info.status}) and all its data? [y/N] "
        )
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            if args.json:
                emit_json({"deleted": None, "run": run_id})
            else:
                print("not deleted")
            return 0
    store.delete_run(run_id)
    if args.json:
        emit_json({"deleted": run_id, "run": run_id, "path": info.path})
    else:
        print(f"deleted run {run_id} ({info.prefix})")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from runlane.errors import InvalidArgumentError

    store = open_store(args)
    reindex = getattr(store, "reindex", None)
    if not callable(reindex):
        raise InvalidArgumentError(f"the store {store.uri} has no catalog to rebuild")
    count = int(reindex())
    if args.json:
        emit_json({"runs": count, "root": str(root_of(args))})
    else:
        print(f"indexed {count} run{'' if count == 1 else 's'} in {root_of(args)}")
    return 0

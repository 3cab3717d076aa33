"""``runlane demo``: run the small training loop of :mod:`runlane.demo` and say where it went."""

from __future__ import annotations

import argparse

from runlane.cli.common import common_options, emit_json, positive_int, root_of


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        parents=[common_options()],
        help="log a small real training run (needs scikit-learn: runlane[demo])",
        description="Train a numpy logistic regression on scikit-learn's breast-cancer data "
        "set and log params, metrics, logs, events, a track and a data reference.",
    )
    parser.add_argument(
        "--project",
        default=None,
        metavar="P",
        help="owner/project or project (default: runlane-demo)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        metavar="N",
        help="training epochs (default: 30)",
    )
    parser.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from runlane.demo import DEFAULT_EPOCHS, DEFAULT_PROJECT, run_demo

    run = run_demo(
        args.project or DEFAULT_PROJECT, args.epochs or DEFAULT_EPOCHS, dir=root_of(args)
    )
    info = run.info
    hint = f"runlane show {run.id}" + (f" --dir {args.dir}" if args.dir else "")
    if args.json:
        emit_json(
            {
                "id": run.id,
                "status": info.status,
                "path": info.path,
                "project": f"{info.owner}/{info.project}",
                "name": info.name,
                "hint": hint,
            }
        )
        return 0
    print(f"demo run {run.id} {info.status} in {info.owner}/{info.project}")
    print(f"folder: {info.path}")
    print(f"next:   {hint}")
    return 0

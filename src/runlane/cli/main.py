"""``runlane``: the entry point. Builds the parser, runs one command, maps errors to exit codes.

Exit codes: 0 success; 1 a runlane error (unknown run, bad filter, storage failure, missing
optional dependency) or an OS error, reported as one line ``runlane: error: <message>`` on
stderr without a traceback; 2 a usage error (argparse's message); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from runlane import __version__
from runlane.cli import artifacts, demo, export, logs, manage, metrics, runs, server, sync, ui
from runlane.cli.common import UsageError
from runlane.errors import RunlaneError

COMMAND_GROUPS = (runs, metrics, logs, export, manage, artifacts, server, sync, demo, ui)
DASH_VALUE_OPTIONS = frozenset({"--sort", "--where"})


def build_parser() -> argparse.ArgumentParser:
    """The full ``runlane`` parser; each sub-command stores its handler as ``func``."""
    parser = argparse.ArgumentParser(
        prog="runlane",
        description="runlane: a fast experiment tracker. Runs live in a local folder "
        "($RUNLANE_DIR or ./runlane-data; --dir PATH on every command).",
    )
    parser.add_argument("--version", action="version", version=f"runlane {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    for name, command in sub.choices.items():
        command.set_defaults(parser=command, prog_name=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(_join_dash_values(sys.argv[1:] if argv is None else list(argv)))
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    try:
        return int(args.func(args))
    except UsageError as exc:
        command: argparse.ArgumentParser = args.parser
        command.print_usage(sys.stderr)
        print(f"{command.prog}: error: {exc}", file=sys.stderr)
        return 2
    except RunlaneError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}")
    except KeyboardInterrupt:
        return 130


def _join_dash_values(argv: list[str]) -> list[str]:
    """``--sort -created`` → ``--sort=-created``: argparse would take a value starting with
    '-' for an option, and descending sort keys always start with one."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in DASH_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _fail(message: str) -> int:
    lines = message.strip().splitlines() or ["failed"]
    print(f"runlane: error: {lines[0]}", file=sys.stderr)
    return 1


def _silence_stdout() -> None:
    """After the reader of a pipe went away (``runlane ls | head``), point stdout at
    /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())

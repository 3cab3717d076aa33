"""``runlane logs RUN``: a run's log messages, optionally followed while the run is live."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from runlane.cli.common import (
    TERMINAL_STATUSES,
    common_options,
    emit_json,
    json_text,
    open_store,
    positive_int,
    resolve,
)

if TYPE_CHECKING:
    from runlane.entities import LogRecord
    from runlane.store.base import Store

POLL_SECONDS = 0.5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "logs",
        parents=[common_options()],
        help="print a run's log messages",
        description="Print '[time] LEVEL message {metadata}' lines. --follow keeps polling "
        f"every {POLL_SECONDS} s for new messages until the run ends (succeeded, failed, "
        "stopped or crashed) or Ctrl-C; with --json it prints one JSON object per line.",
    )
    parser.add_argument("run", help="run id, id prefix, owner/project/name or folder")
    parser.add_argument(
        "--level", metavar="LEVEL", help="minimum level: debug, info, warn, error, fatal"
    )
    parser.add_argument("--follow", "-f", action="store_true", help="wait for new messages")
    parser.add_argument(
        "--limit", metavar="N", type=positive_int, help="print at most N messages (the first N)"
    )
    parser.set_defaults(func=cmd_logs)


def cmd_logs(args: argparse.Namespace) -> int:
    level = None
    if args.level is not None:
        from runlane.sdk.run import normalize_level

        level = normalize_level(args.level)
    store = open_store(args)
    run_id = resolve(store, args.run)
    records = store.read_logs(run_id, 0, args.limit, level)
    if not args.follow:
        if args.json:
            emit_json([record_dict(r) for r in records])
        else:
            for record in records:
                print(format_record(record))
        return 0
    return _follow(store, run_id, records, level, args.limit, args.json)


def _follow(
    store: Store,
    run_id: str,
    records: list[LogRecord],
    level: str | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Print records as they arrive (by sequence number) until the run is terminal; a run
    that ended is read once more after its status changed, so its last messages show."""
    printed = 0
    next_seq = 0
    try:
        while True:
            for record in records:
                print(json_text(record_dict(record)) if as_json else format_record(record))
                printed += 1
                next_seq = max(next_seq, record.seq + 1)
            sys.stdout.flush()
            if limit is not None and printed >= limit:
                return 0
            if store.get_run(run_id).status in TERMINAL_STATUSES:
                remaining = None if limit is None else limit - printed
                for record in store.read_logs(run_id, next_seq, remaining, level):
                    print(json_text(record_dict(record)) if as_json else format_record(record))
                return 0
            time.sleep(POLL_SECONDS)
            remaining = None if limit is None else limit - printed
            records = store.read_logs(run_id, next_seq, remaining, level)
    except KeyboardInterrupt:
        return 0


def format_record(record: LogRecord) -> str:
    """``[YYYY-MM-DD HH:MM:SS.mmm] LEVEL message {metadata}`` in local time."""
    from datetime import datetime

    moment = datetime.fromtimestamp(record.timestamp).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    text = f"[{moment}] {record.level.upper():<5} {record.message}"
    if record.metadata:
        text += " " + json_text(record.metadata)
    return text


def record_dict(record: LogRecord) -> dict[str, object]:
    return {
        "seq": record.seq,
        "timestamp": record.timestamp,
        "level": record.level,
        "message": record.message,
        "metadata": record.metadata,
        "source": record.source,
    }

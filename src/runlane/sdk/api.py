"""``runlane.init``, ``runlane.open`` and the module-level current run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runlane import settings
from runlane.entities import RunSpec, Status
from runlane.errors import InvalidArgumentError, RunStateError
from runlane.names import check_key, check_name, check_path
from runlane.sdk import lifecycle
from runlane.sdk.run import Run, split_tags
from runlane.sdk.view import RunView
from runlane.store.base import Store
from runlane.store.registry import open_store

_current: Run | None = None


def _resolve_store(dir: str | os.PathLike[str] | None, store: str | Store | None) -> Store:
    if store is not None and not isinstance(store, str | os.PathLike):
        return store
    if store is not None:
        return open_store(store)
    if dir is not None:
        return open_store(dir)
    return open_store(settings.default_store_uri())


def _split_project(project: str | None, owner: str | None) -> tuple[str, str]:
    text = project or settings.default_project()
    if "/" in text:
        owner_part, text = text.split("/", 1)
        owner = owner or owner_part
    return (
        check_name(owner or settings.default_owner(), "owner"),
        check_name(text, "project"),
    )


def init(
    project: str | None = None,
    name: str | None = None,
    *,
    owner: str | None = None,
    folder: str | None = None,
    group: str | None = None,
    description: str | None = None,
    tags: str | Iterable[str] | None = None,
    framework: str | None = None,
    backend: str | None = None,
    external_id: str | None = None,
    id: str | None = None,
    resume: bool = False,
    config: object = None,
    metadata: Mapping[str, Any] | None = None,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
    server: str | None = None,
    source: str | None = None,
    echo_logs: bool = False,
    capture_git: bool | None = None,
    capture_env: bool | None = None,
    capture_stdio: bool | None = None,
    system_metrics: bool | None = None,
    system_interval: float | None = None,
) -> Run:
    """Start (or, with ``external_id``/``id``/``resume``, rejoin) a run and make it current.

    ``project`` may be ``"owner/project"``. ``name`` defaults to the run id; a name already
    taken in the folder gets a ``-2``... suffix unless ``resume=True``. ``config`` is logged
    as params (dict, Namespace, dataclass or JSON/YAML path). The run is durable on return
    and marked running. Captures (git, environment, stdout/stderr, system metrics) default to
    on, or to ``RUNLANE_CAPTURE``; each flag turns one off. ``run.existed`` says whether an
    existing run was returned. With ``RUNLANE_MODE=disabled`` the run lives in memory only.
    ``server="http://host:port"`` (or ``RUNLANE_SERVER``) logs to a runlane server, like
    ``store=`` with that URL.
    """
    global _current
    owner_name, project_name = _split_project(project, owner)
    capture = settings.Capture.from_env()
    if settings.disabled():
        store, capture = "memory://disabled", settings.Capture(False, False, False, False)
    target = _resolve_store(dir, store if store is not None or server is None else server)
    spec = RunSpec(
        owner=owner_name,
        project=project_name,
        name=check_name(name, "run name") if name is not None else None,
        folder=check_path(folder, "folder") if folder is not None else None,
        group=check_path(group, "group") if group is not None else None,
        description=description,
        tags=split_tags(tags) if tags is not None else (),
        framework=framework,
        backend=backend,
        external_id=check_key(external_id, "external_id") if external_id is not None else None,
        run_id=check_name(id, "run id") if id is not None else None,
        resume=resume,
        status=Status.RUNNING.value,  # never visible as `created`: a kill right after reads crashed
    )
    _check_interval(system_interval)  # before the run exists: a bad value leaves no run behind
    info, existed = target.create_run(spec)
    joined = existed and info.status == Status.RUNNING.value
    run = Run(target, info.id, existed=existed, source=source, echo_logs=echo_logs, joined=joined)
    if not Status(info.status).terminal:
        if existed:  # a resumed run (crashed, or joined by another process) is alive again
            target.heartbeat(info.id, time.time())
        run.start()
        # readers (and processes joining the run) see it running on return; a store that
        # fails here is retried in the background like any other write
        run._writer.drain()
    if config is not None:
        run.params.set(config)
    if metadata:
        for key, value in metadata.items():
            run.update_metadata(key, value)
    lifecycle.track(run)
    if not existed:
        _start_captures(
            run, capture, capture_git, capture_env, capture_stdio, system_metrics, system_interval
        )
    elif _pick(capture_stdio, capture.stdio):
        from runlane.sdk import capture_hub

        capture_hub.attach(run)
    _current = run
    return run


def _check_interval(interval: object) -> None:
    if interval is None:
        return
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 0 < interval < float("inf")
    ):
        raise InvalidArgumentError(
            f"system_interval={interval!r} must be a finite number of seconds > 0"
        )


def _pick(flag: bool | None, default: bool) -> bool:
    return default if flag is None else bool(flag)


def _start_captures(
    run: Run,
    capture: settings.Capture,
    git: bool | None,
    env: bool | None,
    stdio: bool | None,
    system: bool | None,
    interval: float | None,
) -> None:
    if _pick(git, capture.git):
        from runlane.sdk.capture.git import capture_git

        info = capture_git()
        if info is not None:
            run.set_extra(git=info.to_dict())
            folder = run.path
            if info.diff and folder:
                code = Path(folder) / "code"
                code.mkdir(exist_ok=True)
                (code / "git.diff").write_text(info.diff, encoding="utf-8")
    if _pick(env, capture.env):
        from runlane.sdk.capture.env import capture_env

        run.update_metadata("env", capture_env())
    if _pick(stdio, capture.stdio):
        from runlane.sdk import capture_hub

        capture_hub.attach(run)
    if _pick(system, capture.system):
        from runlane.sdk.capture.system import SystemSampler

        def emit(fields: dict[str, float | int]) -> None:
            if not run.finished:
                run._log_row("system", fields, None, None)

        sampler = SystemSampler(emit, interval=interval or capture.system_interval)
        sampler.start()
        run.add_closer(sampler.stop)


def current_run() -> Run | None:
    """The run started last by ``init`` in this process, until it finishes."""
    if _current is not None and _current.finished:
        return None
    return _current


def _require_current() -> Run:
    run = current_run()
    if run is None:
        raise RunStateError("no current run: call runlane.init() first")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool = True, **kw: Any) -> None:
    """``log`` on the current run."""
    _require_current().log(data, step, commit, **kw)


def log_message(message: object, level: str = "info", **kw: Any) -> None:
    _require_current().log_message(message, level, **kw)


def finish(status: str = "succeeded", message: str | None = None) -> None:
    """Finish the current run (no-op when there is none)."""
    run = current_run()
    if run is not None:
        run.finish(status, message)


def open(
    ref: str | os.PathLike[str],
    *,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
) -> RunView:
    """Open a past (or running) run read-only by id, id prefix, ``owner/project/name`` or
    run folder path."""
    text = os.fspath(ref)
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~user" of no known user: not a folder, maybe a run name
        path = Path(text)
    if dir is None and store is None and _is_run_folder(path):
        target = open_store(_root_of(path.resolve()))
    else:
        target = _resolve_store(dir, store)
    return RunView(target, target.resolve_run(text))


def _is_run_folder(path: Path) -> bool:
    try:
        return (path / "experiment.json").is_file()
    except (OSError, ValueError):  # a name the OS refuses (too long, NUL) is no folder
        return False


def _root_of(run_dir: Path) -> Path:
    for parent in run_dir.parents:
        if (parent / ".runlane").is_dir():
            return parent
    return run_dir.parents[2] if len(run_dir.parents) > 2 else run_dir.parent


def runs(
    project: str | None = None,
    where: str | None = None,
    *,
    sort: str | None = None,
    limit: int | None = None,
    dir: str | os.PathLike[str] | None = None,
    store: str | Store | None = None,
) -> list[RunView]:
    """Runs matching the filter language, newest first, as read-only views."""
    target = _resolve_store(dir, store)
    return [
        RunView(target, info.id)
        for info in target.list_runs(project=project, where=where, sort=sort, limit=limit)
    ]


def logging_handler(run: Run | None = None) -> Any:
    """A ``logging.Handler`` that routes Python logging records into ``run`` (default:
    the current run)."""
    from runlane.sdk.capture.logging_handler import RunlaneHandler

    target = run or _require_current()

    def emit(message: str, level: str, metadata: dict[str, object]) -> None:
        if not target.finished:
            target.log_message(message, level, metadata)

    return RunlaneHandler(emit)

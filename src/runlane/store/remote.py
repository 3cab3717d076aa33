"""RemoteStore: the Store protocol over HTTP to ``runlane server``, with an offline spool.

``runlane.init(..., store="http://host:8080")`` (or ``RUNLANE_STORE=http://...``) logs
through it; the process's writer already batches, so each ``write`` is one POST. Contracts
beyond :mod:`runlane.store.base`:

* **Retries.** Connection failures, timeouts and 502/503/504 are retried with exponential
  backoff; 4xx answers raise the runlane error of their code at once (:mod:`runlane.server.wire`).
* **Spool.** When the server stays unreachable, ``write`` (and ``create_run``, which then picks
  the run id itself, and artifact commits: :mod:`runlane.artifacts.remote.spool`) stores the
  request in a local spool folder and returns: the data is
  durable on this disk, not yet visible on the server. A background thread replays the spool
  in order as soon as the server answers; while anything is spooled, new writes queue behind
  it, so each run's order is kept. Every batch carries a fresh ``batch_id`` and the server
  applies each id once, so replays never duplicate. Spools left by a process that exited are
  replayed by the next RemoteStore for the same server, or by ``runlane sync``.
* **Reads** need the server: they raise :class:`~runlane.errors.StoreError` when it is down.
* **Heartbeats** are best effort: an unreachable server is ignored.

Spool folder: ``RUNLANE_SPOOL_DIR``, else ``$RUNLANE_DIR/.spool``, else ``~/.runlane/spool``,
then one sub-folder per server URL. Token: ``token=`` or ``RUNLANE_TOKEN``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from runlane.entities import (
    Batch,
    Event,
    FieldAggregate,
    LineageRecord,
    LogRecord,
    ParamsDoc,
    ProjectSummary,
    RowsPage,
    RunGroup,
    RunInfo,
    RunSpec,
    StreamInfo,
)
from runlane.errors import NotFoundError, RunlaneError, StoreError
from runlane.store import documents as docs
from runlane.store.columns import check_field_pairs, check_start
from runlane.store.grouping import MAX_IDS
from runlane.store.spool import Spool
from runlane.store.tags import untag
from runlane.store.wire import (
    decode_columns,
    encode_batch,
    event_from_wire,
    group_from_wire,
    info_from_wire,
    lineage_from_wire,
    log_from_wire,
    project_from_wire,
    spec_to_wire,
    stream_from_wire,
)
from runlane.timeutil import now
from runlane.values import decode_value

PAGE = 1000
MAX_BODY = 16 * 1024 * 1024
RETRY_STATUSES = frozenset({502, 503, 504})


class ServerUnreachable(StoreError):
    """The server did not answer (or answered 502/503/504) after every retry. ``code`` is
    the runlane error code of its last answer when a runlane server gave one (a 503
    ``store_unavailable``: the server is up, a service behind it is down), else None."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def default_spool_dir(url: str) -> Path:
    base = os.environ.get("RUNLANE_SPOOL_DIR")
    if base:
        root = Path(base)
    elif os.environ.get("RUNLANE_DIR"):
        root = Path(os.environ["RUNLANE_DIR"]) / ".spool"
    else:
        root = Path.home() / ".runlane" / "spool"
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:12]
    return root.expanduser() / digest


class RemoteStore:
    """See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.05,
        max_body: int = MAX_BODY,
    ) -> None:
        import httpx

        from runlane import __version__

        self._url = url.rstrip("/")
        headers = {"user-agent": f"runlane/{__version__}"}
        token = token or os.environ.get("RUNLANE_TOKEN")
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._httpx = httpx
        self._http = httpx.Client(base_url=f"{self._url}/api/v1", headers=headers, timeout=timeout)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_body = max_body
        self.spool = Spool(spool_dir if spool_dir is not None else default_spool_dir(self._url))
        self._order = threading.RLock()
        self._aliases = self.spool.aliases()
        self._offline: dict[str, RunInfo] = {}
        self._known: dict[str, RunInfo] = {}  # runs created online, for get_run offline
        self._replayer: threading.Thread | None = None
        self._stopping = threading.Event()
        self._warned: set[str] = set()
        self._artifacts: Any = None
        if self.spool.pending():
            self._start_replayer()

    @property
    def uri(self) -> str:
        return self._url

    # --- HTTP ---------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        attempts: int | None = None,
        headers: dict[str, str] | None = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        timeout: Any = None,
    ) -> Any:
        """The response of a request; retried while the server is unreachable; raises the
        runlane error of a 4xx/5xx answer, ServerUnreachable after the last attempt.
        ``content`` is sent as JSON unless ``headers`` name another type; ``files`` and
        ``data`` make a multipart form; ``timeout`` (an ``httpx.Timeout``) replaces the
        client's for this request."""
        tries = attempts or self.attempts
        if content is not None:
            headers = {"content-type": "application/json", **(headers or {})}
        extra = {} if timeout is None else {"timeout": timeout}
        last: str = ""
        code: str | None = None
        for attempt in range(tries):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                response = self._http.request(
                    method,
                    path,
                    content=content,
                    params=params,
                    headers=headers,
                    files=files,
                    data=data,
                    **extra,
                )
            except self._httpx.TransportError as exc:
                last, code = f"{type(exc).__name__}: {exc}", None
                continue
            if response.status_code in RETRY_STATUSES:
                last, code = f"HTTP {response.status_code}: {response.text[:200]}", _code(response)
                continue
            if response.status_code >= 400:
                raise self._error(response)
            return response
        raise ServerUnreachable(f"runlane server {self._url} is unreachable ({last})", code)

    def _error(self, response: Any) -> RunlaneError:
        from runlane.server.wire import exception_for

        try:
            body = response.json()["error"]
            return exception_for(str(body["code"]), str(body["message"]))
        except (ValueError, KeyError, TypeError):
            return StoreError(
                f"runlane server {self._url} answered HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )

    # --- for modules with their own endpoints (artifacts) ----------------------------------
    request = _send

    @property
    def http(self) -> Any:
        """The ``httpx.Client`` (base URL ``<server>/api/v1``, auth header) for streaming."""
        return self._http

    def error(self, response: Any) -> RunlaneError:
        """The runlane error of a 4xx/5xx response."""
        return self._error(response)

    def server_id(self, run_id: str) -> str:
        """The server's id of a run (a run created offline gets one when replayed)."""
        return self._id(run_id)

    def artifact_client(self) -> Any:
        """The client of the server's artifact API (:mod:`runlane.artifacts.remote`)."""
        if self._artifacts is None:
            from runlane.artifacts.remote.client import ArtifactsClient

            self._artifacts = ArtifactsClient(self)
        return self._artifacts

    def _get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._send("GET", path, params=clean).json()

    def _post(self, path: str, doc: Any, attempts: int | None = None) -> Any:
        return self._send("POST", path, content=orjson.dumps(doc), attempts=attempts).json()

    def _id(self, run_id: str) -> str:
        return self._aliases.get(run_id, run_id)

    # --- runs ---------------------------------------------------------------------------
    def create_run(self, spec: RunSpec) -> tuple[RunInfo, bool]:
        with self._order:
            if not self.spool.pending("records"):
                try:
                    answer = self._post("/runs", spec_to_wire(spec))
                    info = info_from_wire(answer["run"])
                    self._known[info.id] = info
                    return info, bool(answer["existed"])
                except ServerUnreachable as exc:
                    self._warn("create", exc)
            run_id = spec.run_id or docs.new_run_id()
            offline = replace(spec, run_id=run_id)
            self.spool.append("create", run_id, orjson.dumps(spec_to_wire(offline)))
        self._start_replayer()
        doc = docs.new_document(offline, spec.name or run_id, run_id, now())
        info = docs.info_from_document(doc, heartbeat_at=None, path=None, now=now())
        self._offline[run_id] = info
        return info, False

    def get_run(self, run_id: str) -> RunInfo:
        try:
            return info_from_wire(self._get(f"/runs/{self._id(run_id)}"))
        except (ServerUnreachable, NotFoundError) as exc:
            if run_id in self._offline:
                return self._offline[run_id]
            if isinstance(exc, ServerUnreachable) and run_id in self._known:
                return self._known[run_id]  # as created: artifact calls spool meanwhile
            raise

    def resolve_run(self, ref: str) -> str:
        return str(self._get("/runs/resolve", ref=ref)["id"])

    def list_runs(
        self,
        *,
        project: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunInfo]:
        out: list[RunInfo] = []
        while limit is None or len(out) < limit:
            size = PAGE if limit is None else min(PAGE, limit - len(out))
            page = self._get(
                "/runs",
                project=project,
                where=where,
                sort=sort,
                limit=size,
                offset=offset + len(out),
            )
            out.extend(info_from_wire(d) for d in page["runs"])
            if page["nextOffset"] is None or not page["runs"]:
                break
        return out

    def count_runs(self, *, project: str | None = None, where: str | None = None) -> int:
        """``GET /runs?total=1&limit=0``: the server counts, nothing is listed."""
        page = self._get("/runs", project=project, where=where, limit=0, total=1)
        return int(page["total"])

    def group_runs(
        self,
        by: str,
        *,
        project: str | None = None,
        where: str | None = None,
        max_ids: int = MAX_IDS,
    ) -> list[RunGroup]:
        """``GET /runs/group-counts``; values arrive as the server's store keeps them."""
        d = self._get("/runs/group-counts", by=by, project=project, where=where, max_ids=max_ids)
        return [group_from_wire(g) for g in d["groups"]]

    def list_projects(self) -> list[ProjectSummary]:
        """``GET /projects`` (only the token's project when it is scoped to one)."""
        return [project_from_wire(p) for p in self._get("/projects")["projects"]]

    def delete_run(self, run_id: str) -> None:
        self._send("DELETE", f"/runs/{self._id(run_id)}")

    def heartbeat(self, run_id: str, at: float) -> None:
        try:
            self._post(f"/runs/{self._id(run_id)}/heartbeat", {"at": at}, attempts=1)
        except ServerUnreachable:
            return

    # --- writes -------------------------------------------------------------------------
    def write(self, run_id: str, batch: Batch) -> None:
        for part in self._parts(batch):
            self._write_one(run_id, encode_batch(part, uuid.uuid4().hex))

    def _parts(self, batch: Batch) -> list[Batch]:
        """``batch`` split so each part's body stays under ``max_body`` (rows halved)."""
        body = encode_batch(batch)
        if len(body) <= self.max_body or sum(len(r) for r in batch.rows.values()) < 2:
            return [batch]
        first = replace(batch, rows={}, nonfinite=set(batch.nonfinite))
        second = Batch(nonfinite=set(batch.nonfinite))
        rows = [(s, r) for s, items in batch.rows.items() for r in items]
        half = len(rows) // 2
        for target, chunk in ((first, rows[:half]), (second, rows[half:])):
            for stream, row in chunk:
                target.rows.setdefault(stream, []).append(row)
        # other records travel with the first part; patches last, with the second
        second.patches, first.patches = first.patches, []
        return self._parts(first) + self._parts(second)

    def _write_one(self, run_id: str, body: bytes) -> None:
        with self._order:
            if not self.spool.pending("records"):  # artifact commits waiting do not hold it
                try:
                    self._send("POST", f"/runs/{self._id(run_id)}/batches", content=body)
                    return
                except ServerUnreachable as exc:
                    self._warn("write", exc)
            self.spool.append("batch", run_id, body)
        self._start_replayer()

    def note_spooled(self, what: str, exc: Exception | None) -> None:
        """Another module spooled an entry (artifact commits): warn once about ``exc``
        (the failure that made it spool, if any) and replay in the background."""
        if exc is not None:
            self._warn(what, exc)
        self._start_replayer()

    def _warn(self, what: str, exc: Exception) -> None:
        if what not in self._warned:
            self._warned.add(what)
            lane = "artifact commits" if what == "artifact" else "runs and records"
            print(
                f"runlane: {exc}; spooling {lane} to {self.spool.folder} and replaying when it "
                "is back",
                file=sys.stderr,
            )

    def sync(self, run_id: str) -> None:
        """Replay the spool if the server is back; then ask the server to sync the run. With
        the server down, spooled data is already fsynced to this disk."""
        if self.spool.pending() and not self.replay():
            return
        try:
            self._post(f"/runs/{self._id(run_id)}/sync", {})
        except ServerUnreachable:
            return

    # --- spool replay -------------------------------------------------------------------
    def replay(self) -> bool:
        """Send every spooled entry, oldest first within its lane (see
        :mod:`runlane.store.spool`); return True when the spool is empty. A failing record
        entry holds back both lanes (artifacts need their run); a failing artifact commit
        only later artifact commits. An entry the server refuses (4xx: a deleted run, ...)
        is moved to ``failed/``."""
        with self.spool.locked():
            if (self.spool.folder / "artifacts").is_dir():
                from runlane.artifacts.remote.spool import sweep

                sweep(self.spool)
            artifacts_held = False
            for path in self.spool.entries():
                if Spool.kind(path) == "artifact":  # uploads: not under the order lock
                    from runlane.artifacts.remote.spool import replay_entry

                    if not artifacts_held and not replay_entry(self, path):
                        artifacts_held = True
                    continue
                with self._order:
                    if not path.exists():
                        continue
                    kind, run_id, body = Spool.read(path)
                    try:
                        if kind == "create":
                            answer = self._send("POST", "/runs", content=body, attempts=1)
                            server_id = str(answer.json()["run"]["id"])
                            if server_id != run_id:
                                self.spool.alias(run_id, server_id)
                                self._aliases[run_id] = server_id
                        else:
                            target = self._id(run_id)
                            self._send("POST", f"/runs/{target}/batches", content=body, attempts=1)
                    except ServerUnreachable:
                        return False
                    except RunlaneError as exc:
                        self._park(path, exc)
                        continue
                    self.spool.remove(path)
        return not self.spool.pending()

    def _park(self, path: Path, exc: RunlaneError) -> None:
        failed = path.parent / "failed"
        failed.mkdir(exist_ok=True)
        os.replace(path, failed / path.name)
        self.spool.remove(path)
        print(
            f"runlane: the server refused spooled {path.name} ({exc}); kept in {failed}",
            file=sys.stderr,
        )

    def _start_replayer(self) -> None:
        with self._order:
            if self._replayer is not None and self._replayer.is_alive():
                return
            self._stopping.clear()
            self._replayer = threading.Thread(
                target=self._replay_loop, name="runlane-spool", daemon=True
            )
            self._replayer.start()

    def _replay_loop(self) -> None:
        delay = 0.2
        while not self._stopping.wait(delay):
            try:
                if self.replay():
                    return
            except Exception as exc:  # never let the thread die silently
                print(f"runlane: replaying the spool failed: {exc!r}", file=sys.stderr)
            delay = min(delay * 2, 5.0)

    # --- reads --------------------------------------------------------------------------
    def read_params(self, run_id: str) -> ParamsDoc:
        d = self._get(f"/runs/{self._id(run_id)}/params")
        return ParamsDoc(int(d["version"]), _plain(d["data"]), d.get("updatedAt"))

    def read_metadata(self, run_id: str) -> dict[str, tuple[dict[str, Any], float]]:
        d = self._get(f"/runs/{self._id(run_id)}/metadata")["metadata"]
        return {k: (_plain(v["value"]), float(v["updatedAt"])) for k, v in d.items()}

    def list_streams(self, run_id: str) -> list[StreamInfo]:
        d = self._get(f"/runs/{self._id(run_id)}/streams")
        return [stream_from_wire(s) for s in d["streams"]]

    def read_rows(self, run_id: str, stream: str, start: int = 0, limit: int = 1000) -> RowsPage:
        d = self._get(
            f"/runs/{self._id(run_id)}/streams/{stream}/rows", start=start, limit=max(limit, 0)
        )
        rows = [
            (int(item["index"]), _row(item["data"]), str(item["createdAt"])) for item in d["data"]
        ]
        return RowsPage(rows=rows, start_index=int(d["startIndex"]), total=int(d["streamTotal"]))

    def read_columns(
        self, run_id: str, stream: str, fields: Sequence[str] | None = None, start: int = 0
    ) -> dict[str, np.ndarray[Any, Any]]:
        start = check_start(start)
        params: dict[str, Any] = {} if fields is None else {"fields": ",".join(fields)}
        if start:
            params["start"] = start
        response = self._send(
            "GET", f"/runs/{self._id(run_id)}/streams/{stream}/columns", params=params
        )
        columns = decode_columns(response.content)
        if fields is not None:  # a requested field that is empty on the server
            for name in fields:
                columns.setdefault(name, np.full(len(columns["_index"]), np.nan))
        return columns

    def read_logs(
        self, run_id: str, start: int = 0, limit: int | None = None, level: str | None = None
    ) -> list[LogRecord]:
        out: list[LogRecord] = []
        while limit is None or len(out) < limit:
            size = PAGE if limit is None else min(PAGE, limit - len(out))
            d = self._get(f"/runs/{self._id(run_id)}/logs", start=start, limit=size, level=level)
            out.extend(log_from_wire(r) for r in d["logs"])
            if len(d["logs"]) < size or not d["logs"]:
                break
            start = int(d["nextStart"])
        return out

    def read_events(self, run_id: str, since: float | None = None) -> list[Event]:
        d = self._get(f"/runs/{self._id(run_id)}/events", since=since)
        return [event_from_wire(e) for e in d["events"]]

    def list_tracks(self, run_id: str) -> list[str]:
        return [str(t) for t in self._get(f"/runs/{self._id(run_id)}/tracks")["topics"]]

    def read_track(
        self, run_id: str, topic: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        d = self._get(f"/runs/{self._id(run_id)}/tracks/{topic}", start=start, end=end)
        return [_row(entry) for entry in d["entries"]]

    def read_lineage(self, run_id: str) -> list[LineageRecord]:
        d = self._get(f"/runs/{self._id(run_id)}/lineage")
        return [lineage_from_wire(r) for r in d["lineage"]]

    def read_lineage_many(self, run_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        """``POST /runs/lineage``, :data:`PAGE` runs per request."""
        return {
            original: [lineage_from_wire(r) for r in records]
            for original, records in self._many("/runs/lineage", "lineage", run_ids)
        }

    def read_params_many(self, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
        """``POST /runs/params``, :data:`PAGE` runs per request."""
        out: dict[str, ParamsDoc] = {}
        for original, d in self._many("/runs/params", "params", run_ids):
            out[original] = ParamsDoc(int(d["version"]), _plain(d["data"]), d.get("updatedAt"))
        return out

    def list_streams_many(self, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
        """``POST /runs/streams``, :data:`PAGE` runs per request."""
        return {
            original: [stream_from_wire(s) for s in streams]
            for original, streams in self._many("/runs/streams", "streams", run_ids)
        }

    def field_aggregates_many(
        self, run_ids: Sequence[str], fields: Sequence[tuple[str, str]]
    ) -> dict[str, dict[tuple[str, str], FieldAggregate]]:
        """``POST /runs/aggregates``, :data:`PAGE` runs and :data:`PAGE` fields per request.
        A pair that is no valid text (a lone surrogate) names nothing stored: it reads as
        empty without being sent."""
        pairs = check_field_pairs(fields)
        sent = [p for p in pairs if _is_text(p[0]) and _is_text(p[1])]
        out: dict[str, dict[tuple[str, str], FieldAggregate]] = {}
        for first in range(0, max(len(sent), 1), PAGE):
            extra = {"fields": [list(p) for p in sent[first : first + PAGE]]}
            for original, entries in self._many("/runs/aggregates", "aggregates", run_ids, extra):
                found = out.setdefault(original, {})
                for stream, name, last, low, high in entries:
                    found[(str(stream), str(name))] = FieldAggregate(last, low, high)
        empty = FieldAggregate()
        return {r: {p: found.get(p, empty) for p in pairs} for r, found in out.items()}

    def _many(
        self, path: str, key: str, run_ids: Sequence[str], extra: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, Any]]:
        """``(run id as the caller named it, answer)`` of each known run, from ``POST path``
        with ``{"ids": [...], **extra}`` (server ids, :data:`PAGE` a request) answering
        ``{key: {server id: answer}}``. An id that is no valid text (a lone surrogate) names
        no run: it is not sent."""
        wanted = {self._id(run_id): run_id for run_id in run_ids if _is_text(run_id)}
        ids = list(wanted)
        for first in range(0, len(ids), PAGE):
            d = self._post(path, {"ids": ids[first : first + PAGE], **(extra or {})})
            for server_id, answer in d[key].items():
                yield wanted.get(server_id, server_id), answer

    def run_path(self, run_id: str) -> str | None:
        return None

    def close(self) -> None:
        """Try once more to replay the spool (what stays is replayed by a later process),
        then close the connections."""
        self._stopping.set()
        thread = self._replayer
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        if self.spool.pending():
            with contextlib.suppress(Exception):
                self.replay()
        self._http.close()


def _is_text(value: str) -> bool:
    """Whether ``value`` can travel as JSON text (no lone surrogate)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _code(response: Any) -> str | None:
    """The runlane error code of an answer (``{"error": {"code": ...}}``), else None."""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _plain(value: Any) -> Any:
    """Tags undone and bytes decoded, at any depth."""
    value = untag(value)
    if type(value) is dict:
        decoded = decode_value(value)
        if decoded is not value:
            return decoded
        return {k: _plain(v) for k, v in value.items()}
    if type(value) is list:
        return [_plain(v) for v in value]
    return value


def _row(data: dict[str, Any]) -> dict[str, Any]:
    return {k: decode_value(v) for k, v in untag(data).items()}


def open_uri(uri: str) -> RemoteStore:
    """Store registry hook for ``http://`` and ``https://``."""
    return RemoteStore(uri)


__all__ = ["RemoteStore", "ServerUnreachable", "default_spool_dir"]

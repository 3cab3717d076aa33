"""What every route shares: the store, the token registry, limits, and the checks.

One :class:`ServerContext` per app, kept in ``app.state.ctx``. It holds no run data: every
answer comes from the store, so replicas over one store agree. Two small process-local caches
only save queries: a run's ``owner/project`` (never changes) and, for stores without
:meth:`~runlane.store.server.ServerStore.write_once`, the ids of recently applied batches.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request

from runlane.entities import Batch
from runlane.server.auth import Grant, Tokens, bearer
from runlane.server.wire import WireError
from runlane.store.base import Store

DEFAULT_MAX_BODY = 64 * 1024 * 1024
MAX_PAGE = 10_000
#: Largest index, offset or sequence number a query may name (the range of a signed 64-bit
#: int: what JSON answers and the stores' integer columns hold).
MAX_INDEX = 2**63 - 1


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> object | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


@dataclass
class ServerContext:
    store: Store
    tokens: Tokens | None = None  # None: no auth (loopback only, or --insecure)
    max_body: int = DEFAULT_MAX_BODY
    _projects: _Lru = field(default_factory=lambda: _Lru(100_000))
    _batches: _Lru = field(default_factory=lambda: _Lru(100_000))
    _batch_lock: threading.Lock = field(default_factory=threading.Lock)

    # --- auth ---------------------------------------------------------------------------
    def grant(self, request: Request) -> Grant | None:
        """The HTTP caller's grant (see :meth:`grant_from`)."""
        return self.grant_from(request.headers.get("authorization"))

    def grant_from(self, authorization: str | None) -> Grant | None:
        """The grant of an ``Authorization`` value; raises ``unauthenticated`` when auth is
        on and the token is missing or invalid. None when auth is off."""
        if self.tokens is None:
            return None
        text = bearer(authorization)
        if text is None:
            raise WireError(
                "unauthenticated",
                "this server requires an API token: send 'Authorization: Bearer <token>' "
                "(create one with `runlane token create`)",
            )
        grant = self.tokens.verify(text)
        if grant is None:
            raise WireError("unauthenticated", "the API token is unknown, malformed or revoked")
        return grant

    def allow_project(
        self, grant: Grant | None, owner: str | None, project: str | None, role: str
    ) -> None:
        if grant is not None and not grant.allows(owner, project, role):
            where = f"{owner}/{project}" if owner else (project or "all projects")
            raise WireError(
                "permission_denied",
                f"the token (project {grant.project!r}, role {grant.role!r}) may not "
                f"{_VERB[role]} {where}",
            )

    def allow_run(self, grant: Grant | None, run_id: str, role: str) -> None:
        """Authorize ``role`` on the run's project (NotFoundError for an unknown run)."""
        if grant is None:
            return
        owner, project = self.run_project(run_id)
        if not grant.allows(owner, project, role):
            raise WireError(
                "permission_denied",
                f"the token (project {grant.project!r}, role {grant.role!r}) may not "
                f"{_VERB[role]} run {run_id} of {owner}/{project}",
            )

    def check_project(
        self, request: Request, owner: str | None, project: str | None, role: str
    ) -> Grant | None:
        grant = self.grant(request)
        self.allow_project(grant, owner, project, role)
        return grant

    def check_run(self, request: Request, run_id: str, role: str) -> None:
        if self.tokens is not None:
            self.allow_run(self.grant(request), run_id, role)

    def run_project(self, run_id: str) -> tuple[str, str]:
        hit = self._projects.get(run_id)
        if isinstance(hit, tuple):
            return hit
        info = self.store.get_run(run_id)
        value = (info.owner, info.project)
        self._projects.put(run_id, value)
        return value

    def forget_run(self, run_id: str) -> None:
        self._projects.pop(run_id)

    # --- ingest -------------------------------------------------------------------------
    def write(self, run_id: str, batch: Batch, batch_id: str | None) -> bool:
        """Apply a batch once per ``batch_id``; return whether it was applied now."""
        write_once = getattr(self.store, "write_once", None)
        if callable(write_once):
            return bool(write_once(run_id, batch, batch_id))
        if batch_id is None:
            self.store.write(run_id, batch)
            return True
        key = f"{run_id}:{batch_id}"
        with self._batch_lock:  # one batch at a time: a retry racing its original waits
            if self._batches.get(key) is not None:
                return False
            self.store.write(run_id, batch)
            self._batches.put(key, True)
            return True


_VERB = {"read": "read", "write": "write to", "admin": "administer"}

"""API tokens: ``rl_<id>_<secret>``, kept hashed, each bound to one project and one role.

Roles are ordered ``read < write < admin``: ``read`` may read, ``write`` may also create runs
and log, ``admin`` may also delete runs. A token's project is ``owner/project`` (that project
only), ``project`` (that project name under any owner) or ``*`` (every project). Clients send
``Authorization: Bearer <token>`` (HTTP) or the same as gRPC metadata ``authorization``.

Only the sha256 of the secret is stored (secrets are 32 random bytes, so a fast hash is
enough); verification compares digests in constant time. Where tokens live:

* a :class:`~runlane.store.server.ServerStore`: its ``api_tokens`` table (shared by replicas);
* any other store: ``tokens.json`` in a folder (a LocalStore's ``<root>/.runlane``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from runlane.errors import InvalidArgumentError, NotFoundError

ROLES = ("read", "write", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
PREFIX = "rl_"


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token allows."""

    token_id: str
    project: str
    role: str

    def allows(self, owner: str | None, project: str | None, role: str) -> bool:
        """Whether the token may act with ``role`` on ``owner/project`` (None: any project)."""
        if RANK[self.role] < RANK[role]:
            return False
        if self.project == "*":
            return True
        if project is None:
            return False
        scope_owner, _, scope_project = self.project.rpartition("/")
        if scope_project != project:
            return False
        return not scope_owner or scope_owner == owner

    def project_filter(self) -> str | None:
        """The ``project`` argument that limits a listing to this token's project."""
        return None if self.project == "*" else self.project


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    project: str
    role: str
    name: str | None
    created: float
    revoked: bool


def check_role(role: str) -> str:
    if role not in RANK:
        raise InvalidArgumentError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_scope(project: str) -> str:
    from runlane.names import check_name

    if project == "*":
        return project
    parts = project.split("/")
    if len(parts) > 2 or not all(parts):
        raise InvalidArgumentError(
            f"token project {project!r} must be 'owner/project', 'project' or '*'"
        )
    for part in parts:
        check_name(part, "project")
    return project


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """``(token text, id, digest)`` of a fresh token."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{token_id}_{secret}", token_id, _digest(secret)


def split_token(text: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token text, else None."""
    if not text.startswith(PREFIX):
        return None
    token_id, sep, secret = text[len(PREFIX) :].partition("_")
    if not sep or not token_id or not secret:
        return None
    return token_id, secret


class TokenStore(Protocol):
    def add(self, info: TokenInfo, digest: str) -> None: ...

    def lookup(self, token_id: str) -> tuple[TokenInfo, str] | None: ...

    def all(self) -> list[TokenInfo]: ...

    def revoke(self, token_id: str) -> None: ...


class Tokens:
    """Create, verify, list and revoke tokens over a :class:`TokenStore`."""

    def __init__(self, backend: TokenStore, cache_seconds: float = 10.0) -> None:
        self.backend = backend
        self._cache: dict[str, tuple[Grant | None, float]] = {}
        self._lock = threading.Lock()
        self._ttl = cache_seconds

    def create(self, project: str, role: str, name: str | None = None) -> tuple[str, TokenInfo]:
        """A new token for ``project`` with ``role``; the text is shown once and not kept."""
        text, token_id, digest = new_token()
        info = TokenInfo(token_id, check_scope(project), check_role(role), name, time.time(), False)
        self.backend.add(info, digest)
        return text, info

    def verify(self, text: str) -> Grant | None:
        """The grant of a valid, unrevoked token; None otherwise. Cached for a few seconds."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None and now - hit[1] < self._ttl:
                return hit[0]
        grant = self._verify(text)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[text] = (grant, now)
        return grant

    def _verify(self, text: str) -> Grant | None:
        parts = split_token(text)
        if parts is None:
            return None
        found = self.backend.lookup(parts[0])
        if found is None:
            return None
        info, digest = found
        if info.revoked or not hmac.compare_digest(digest, _digest(parts[1])):
            return None
        return Grant(info.id, info.project, info.role)

    def any(self) -> bool:
        return any(not t.revoked for t in self.backend.all())

    def list(self) -> list[TokenInfo]:
        return self.backend.all()

    def revoke(self, token_id: str) -> None:
        self.backend.revoke(token_id)
        with self._lock:
            self._cache.clear()


class FileTokens:
    """Tokens in a JSON file, replaced atomically under a lock file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        return dict(data) if isinstance(data, dict) else {}

    def _locked(self) -> AbstractContextManager[None]:
        from runlane.store.local.files import locked

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return locked(self.path.with_suffix(".lock"))

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def add(self, info: TokenInfo, digest: str) -> None:
        with self._locked():
            data = self._read()
            data[info.id] = {**_info_doc(info), "hash": digest}
            self._write(data)

    def lookup(self, token_id: str) -> tuple[TokenInfo, str] | None:
        doc = self._read().get(token_id)
        if doc is None:
            return None
        return _info_from(token_id, doc), str(doc["hash"])

    def all(self) -> list[TokenInfo]:
        return [_info_from(k, v) for k, v in sorted(self._read().items())]

    def revoke(self, token_id: str) -> None:
        with self._locked():
            data = self._read()
            if token_id not in data:
                raise NotFoundError(f"no token {token_id!r} in {self.path}")
            data[token_id]["revoked"] = True
            self._write(data)


class DatabaseTokens:
    """Tokens in the ServerStore's ``api_tokens`` table."""

    def __init__(self, connect: Callable[[], AbstractContextManager[Any]]) -> None:
        self._connect = connect

    def add(self, info: TokenInfo, digest: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, hash, project, role, name, created, revoked) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (info.id, digest, info.project, info.role, info.name, info.created, False),
            )

    def lookup(self, token_id: str) -> tuple[TokenInfo, str] | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT project, role, name, created, revoked, hash FROM api_tokens WHERE id = %s",
                (token_id,),
            ).fetchone()
        if row is None:
            return None
        return TokenInfo(token_id, row[0], row[1], row[2], float(row[3]), bool(row[4])), row[5]

    def all(self) -> list[TokenInfo]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, project, role, name, created, revoked FROM api_tokens ORDER BY id"
            ).fetchall()
        return [TokenInfo(r[0], r[1], r[2], r[3], float(r[4]), bool(r[5])) for r in rows]

    def revoke(self, token_id: str) -> None:
        with self._connect() as conn:
            cur = conn.execute("UPDATE api_tokens SET revoked = true WHERE id = %s", (token_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"no token {token_id!r}")


class MemoryTokens:
    """Tokens in a dict (tests, MemoryStore)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[TokenInfo, str]] = {}

    def add(self, info: TokenInfo, digest: str) -> None:
        self._items[info.id] = (info, digest)

    def lookup(self, token_id: str) -> tuple[TokenInfo, str] | None:
        return self._items.get(token_id)

    def all(self) -> list[TokenInfo]:
        return [info for info, _ in self._items.values()]

    def revoke(self, token_id: str) -> None:
        info, digest = self._items[token_id]
        self._items[token_id] = (
            TokenInfo(info.id, info.project, info.role, info.name, info.created, True),
            digest,
        )


def _info_doc(info: TokenInfo) -> dict[str, Any]:
    return {
        "project": info.project,
        "role": info.role,
        "name": info.name,
        "created": info.created,
        "revoked": info.revoked,
    }


def _info_from(token_id: str, doc: dict[str, Any]) -> TokenInfo:
    return TokenInfo(
        token_id,
        str(doc["project"]),
        str(doc["role"]),
        doc.get("name"),
        float(doc.get("created", 0.0)),
        bool(doc.get("revoked", False)),
    )


def tokens_for(store: object) -> Tokens:
    """The token registry that goes with ``store`` (see the module docstring)."""
    connection = getattr(store, "connection", None)
    if callable(connection):
        return Tokens(DatabaseTokens(connection))
    root = getattr(store, "root", None)
    if isinstance(root, Path):
        return Tokens(FileTokens(root / ".runlane" / "tokens.json"))
    return Tokens(MemoryTokens())


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()

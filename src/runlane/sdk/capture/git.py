"""Capture of the git state of the code a run executes.

:func:`capture_git` asks the ``git`` executable (through :mod:`subprocess`, never GitPython)
for the commit, branch, remote, dirtiness and diff of the repository that contains ``cwd``.
It never raises for environmental reasons: when git is not installed, ``cwd`` is not inside a
work tree, the repository has no commit yet, git refuses the repository or the time budget runs
out before the commit is known, it returns ``None``. Optional parts (remote, diff) degrade to
``None`` / ``""`` on their own.

Remote URLs pass through :func:`strip_credentials` so no password or token is ever recorded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

__all__ = [
    "MAX_DIFF_BYTES",
    "MAX_UNTRACKED_FILES",
    "GitInfo",
    "capture_git",
    "strip_credentials",
]

MAX_DIFF_BYTES = 5 * 1024 * 1024
"""The output of ``git diff HEAD`` is cut at this many bytes and a marker line is appended."""

MAX_UNTRACKED_FILES = 10_000
"""At most this many untracked file names are listed at the end of the diff."""

TRUNCATED_MARKER = "# runlane: diff truncated at {limit} bytes\n"
UNTRACKED_HEADER = "# runlane: untracked files (not part of the diff above):\n"

# Schemes whose user name is kept (it selects an account, it is not a secret): only the
# password is dropped. For every other scheme (https, http, ftp, ...) the whole userinfo goes,
# because tokens are commonly passed as the user name (``https://<token>@github.com/...``).
_KEEP_USER_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git", "sftp"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")


@dataclass(frozen=True, slots=True)
class GitInfo:
    """The git state of a work tree at capture time.

    Attributes:
        commit: full hex object name of ``HEAD``.
        branch: short branch name (``main``), ``None`` when ``HEAD`` is detached.
        remote_url: URL of ``origin`` (else of the first configured remote), with credentials
            removed by :func:`strip_credentials`; ``None`` when there is no remote.
        is_dirty: ``True`` when tracked files differ from ``HEAD`` (staged or not) or untracked,
            non-ignored files exist.
        root: absolute path of the top of the work tree.
        diff: ``git diff HEAD`` (capped at :data:`MAX_DIFF_BYTES`, then a marker line), followed
            by a comment section listing untracked file names; ``""`` when clean.
    """

    commit: str
    branch: str | None
    remote_url: str | None
    is_dirty: bool
    root: str
    diff: str

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-safe summary: every field except ``diff``, plus ``has_diff``."""
        return {
            "commit": self.commit,
            "branch": self.branch,
            "remote_url": self.remote_url,
            "is_dirty": self.is_dirty,
            "root": self.root,
            "has_diff": bool(self.diff),
        }


def strip_credentials(url: str) -> str:
    """Return ``url`` without any password or token in its userinfo part.

    - ``https://user:token@host/x.git`` -> ``https://host/x.git`` (for every scheme but ssh the
      whole userinfo is removed, since tokens often travel as the user name);
    - ``ssh://user:pw@host/x.git`` -> ``ssh://user@host/x.git`` (the user name is kept);
    - scp-style ``git@github.com:org/repo.git`` and local paths carry no password and are
      returned unchanged.

    The authority ends at the first ``/``, ``?`` or ``#`` after ``://`` and the userinfo at its
    last ``@``, as in RFC 3986. Never raises for a string argument.
    """
    sep = url.find("://")
    if sep <= 0 or not _SCHEME.match(url[:sep]):
        return url
    start = sep + 3
    end = len(url)
    for ch in "/?#":
        i = url.find(ch, start)
        if 0 <= i < end:
            end = i
    authority = url[start:end]
    at = authority.rfind("@")
    if at < 0:
        return url
    userinfo, hostport = authority[:at], authority[at + 1 :]
    if url[:sep].lower() in _KEEP_USER_SCHEMES:
        user = userinfo.split(":", 1)[0]
        authority = f"{user}@{hostport}" if user else hostport
    else:
        authority = hostport
    return url[:start] + authority + url[end:]


def capture_git(cwd: str | os.PathLike[str] | None = None, timeout: float = 2.0) -> GitInfo | None:
    """Capture the git state of the work tree containing ``cwd`` (default: the process cwd).

    ``timeout`` is the total time budget in seconds for all git invocations together.
    Returns ``None`` when git is not on ``PATH``, ``cwd`` is not inside a work tree (or does not
    exist), the repository has no commit, or git fails/times out before ``HEAD`` is resolved.
    Never raises for environmental reasons; later failures leave ``remote_url=None`` or an
    empty ``diff``.
    """
    try:
        return _capture(cwd, timeout)
    except Exception:  # environmental surprises (odd encodings, races, ...) must not escape
        return None


def _capture(cwd: str | os.PathLike[str] | None, timeout: float) -> GitInfo | None:
    git = shutil.which("git")
    if git is None:
        return None
    run_dir = os.fspath(cwd) if cwd is not None else None
    deadline = time.monotonic() + max(float(timeout), 0.0)
    env = _git_env()

    def run(*args: str) -> str | None:
        return _run(git, args, run_dir, env, deadline)

    head = run("rev-parse", "--show-toplevel", "--verify", "HEAD^{commit}")
    if head is None:
        return None
    lines = head.splitlines()
    if len(lines) != 2 or not lines[0] or not re.fullmatch(r"[0-9a-f]{40,64}", lines[1]):
        return None
    root, commit = lines[0], lines[1]

    ref = run("symbolic-ref", "-q", "HEAD")
    branch: str | None = None
    if ref is not None and ref.strip():
        ref = ref.strip()
        branch = ref.removeprefix("refs/heads/")

    remote_url = _remote_url(run("config", "-z", "--get-regexp", r"^remote\..*\.url$"))

    status = run(
        "-c", "core.quotePath=false", "status", "--porcelain=v1", "-z", "--untracked-files=all"
    )
    untracked: list[str] = []
    tracked_changes = False
    if status is not None:
        tracked_changes, untracked = _parse_status(status)

    diff_out = _run_capped(
        git,
        ("-c", "core.quotePath=false", "diff", "HEAD", "--no-color", "--no-ext-diff"),
        run_dir,
        env,
        deadline,
        MAX_DIFF_BYTES,
    )
    diff = ""
    if diff_out is not None:
        data, truncated = diff_out
        diff = data.decode("utf-8", "replace")
        if truncated:
            if diff and not diff.endswith("\n"):
                diff += "\n"
            diff += TRUNCATED_MARKER.format(limit=MAX_DIFF_BYTES)
        tracked_changes = tracked_changes or bool(data)
    if untracked:
        diff += _untracked_section(untracked, separate=bool(diff))

    return GitInfo(
        commit=commit,
        branch=branch,
        remote_url=remote_url,
        is_dirty=tracked_changes or bool(untracked),
        root=root,
        diff=diff,
    )


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password
    env["GIT_OPTIONAL_LOCKS"] = "0"  # `git status` must not take the index lock
    env.pop("GIT_EXTERNAL_DIFF", None)
    return env


def _run(
    git: str,
    args: tuple[str, ...],
    cwd: str | None,
    env: dict[str, str],
    deadline: float,
) -> str | None:
    """Run git; return its stdout (UTF-8, errors replaced) on exit 0, else ``None``."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    try:
        proc = subprocess.run(
            [git, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=remaining,
            check=False,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace")


def _run_capped(
    git: str,
    args: tuple[str, ...],
    cwd: str | None,
    env: dict[str, str],
    deadline: float,
    cap: int,
) -> tuple[bytes, bool] | None:
    """Run git reading at most ``cap`` bytes of stdout; return ``(data, truncated)``.

    The process is killed once more than ``cap`` bytes arrived or at the deadline; a process
    killed by the deadline or exiting non-zero yields ``None``.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    try:
        proc = subprocess.Popen(
            [git, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    expired = threading.Event()

    def on_deadline() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(remaining, on_deadline)
    timer.daemon = True
    timer.start()
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        stdout = proc.stdout
        assert stdout is not None
        while True:
            chunk = stdout.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                truncated = True
                proc.kill()
                break
        returncode = proc.wait()
    except OSError:
        return None
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if expired.is_set():
        return None
    if truncated:
        return b"".join(chunks)[:cap], True
    if returncode != 0:
        return None
    return b"".join(chunks), False


def _remote_url(config: str | None) -> str | None:
    """Pick ``origin``'s URL, else the first remote's, from ``git config -z --get-regexp``."""
    if not config:
        return None
    first: str | None = None
    for entry in config.split("\0"):
        if not entry:
            continue
        key, _, value = entry.partition("\n")
        name = key[len("remote.") : -len(".url")]
        if not value:
            continue
        if name == "origin":
            return strip_credentials(value)
        if first is None:
            first = value
    return strip_credentials(first) if first is not None else None


def _parse_status(status: str) -> tuple[bool, list[str]]:
    """Parse ``git status --porcelain=v1 -z``: (tracked files changed?, untracked names)."""
    tracked = False
    untracked: list[str] = []
    tokens = status.split("\0")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if len(token) < 4:
            continue
        xy, path = token[:2], token[3:]
        if xy == "??":
            untracked.append(path)
        elif xy != "!!":
            tracked = True
            if "R" in xy or "C" in xy:
                i += 1  # the next token is the rename/copy source
    return tracked, untracked


def _untracked_section(names: list[str], separate: bool) -> str:
    parts = ["\n" if separate else "", UNTRACKED_HEADER]
    parts.extend(f"#   {name}\n" for name in names[:MAX_UNTRACKED_FILES])
    if len(names) > MAX_UNTRACKED_FILES:
        parts.append(f"#   ... and {len(names) - MAX_UNTRACKED_FILES} more\n")
    return "".join(parts)

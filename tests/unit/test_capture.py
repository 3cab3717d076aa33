"""Tests of runlane.sdk.capture: git, env, StdCapture and RunlaneHandler."""

from __future__ import annotations

import datetime as dt
import getpass
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlane.sdk.capture import git as git_mod
from runlane.sdk.capture.env import capture_env, detect_gpus, installed_packages
from runlane.sdk.capture.git import GitInfo, capture_git, strip_credentials
from runlane.sdk.capture.logging_handler import RunlaneHandler, runlane_level
from runlane.sdk.capture.stdio import MAX_LINE_CHARS, StdCapture

HAVE_GIT = shutil.which("git") is not None
needs_git = pytest.mark.skipif(not HAVE_GIT, reason="git is not installed")


# --------------------------------------------------------------------------------------- git


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Isolate git from the user's config and from repositories above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    )
    return proc.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print('hello')\n")
    (path / ".gitignore").write_text("outputs/\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


@needs_git
@pytest.mark.usefixtures("git_env")
class TestCaptureGit:
    def test_clean_repo(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        info = capture_git(repo)
        assert isinstance(info, GitInfo)
        assert info.commit == git(repo, "rev-parse", "HEAD")
        assert info.branch == "main"
        assert info.remote_url is None
        assert info.is_dirty is False
        assert info.diff == ""
        assert os.path.realpath(info.root) == os.path.realpath(repo)
        assert info.to_dict() == {
            "commit": info.commit,
            "branch": "main",
            "remote_url": None,
            "is_dirty": False,
            "root": info.root,
            "has_diff": False,
        }
        with pytest.raises(AttributeError):
            info.commit = "x"  # type: ignore[misc]

    def test_dirty_staged_and_untracked(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        (repo / "train.py").write_text("print('changed')\n")  # unstaged
        (repo / "model.py").write_text("LAYERS = 3\n")
        git(repo, "add", "model.py")  # staged
        (repo / "notes.txt").write_text("SECRET-UNTRACKED-CONTENT\n")  # untracked
        (repo / "outputs").mkdir()
        (repo / "outputs" / "log.txt").write_text("ignored\n")  # ignored
        info = capture_git(repo)
        assert info is not None
        assert info.is_dirty is True
        assert "print('changed')" in info.diff
        assert "LAYERS = 3" in info.diff
        assert "notes.txt" in info.diff
        assert "SECRET-UNTRACKED-CONTENT" not in info.diff  # names only
        assert "outputs" not in info.diff
        tail = info.diff[info.diff.index(git_mod.UNTRACKED_HEADER) :]
        assert all(line.startswith("#") for line in tail.splitlines())
        assert info.to_dict()["has_diff"] is True
        assert "diff" not in info.to_dict()

    def test_only_untracked_is_dirty(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        (repo / "new module.py").write_text("x = 1\n")
        info = capture_git(repo)
        assert info is not None
        assert info.is_dirty is True
        assert info.diff.startswith(git_mod.UNTRACKED_HEADER)
        assert "#   new module.py\n" in info.diff

    def test_subdirectory_resolves_root(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        sub = repo / "a" / "b"
        sub.mkdir(parents=True)
        info = capture_git(sub)
        assert info is not None
        assert os.path.realpath(info.root) == os.path.realpath(repo)

    def test_default_cwd(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        repo = make_repo(tmp_path / "repo")
        monkeypatch.chdir(repo)
        info = capture_git()
        assert info is not None and info.commit == git(repo, "rev-parse", "HEAD")

    def test_remote_credentials_stripped(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        git(repo, "remote", "add", "origin", "https://user:secret@example.com/r.git")
        info = capture_git(repo)
        assert info is not None
        assert info.remote_url == "https://example.com/r.git"
        assert "secret" not in json.dumps(info.to_dict())

    def test_origin_preferred_else_first_remote(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        git(repo, "remote", "add", "upstream", "git@github.com:org/up.git")
        info = capture_git(repo)
        assert info is not None and info.remote_url == "git@github.com:org/up.git"
        git(repo, "remote", "add", "origin", "ssh://me:pw@host.example/r.git")
        info = capture_git(repo)
        assert info is not None and info.remote_url == "ssh://me@host.example/r.git"

    def test_detached_head(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        commit = git(repo, "rev-parse", "HEAD")
        git(repo, "checkout", "-q", "--detach", commit)
        info = capture_git(repo)
        assert info is not None
        assert info.branch is None
        assert info.commit == commit

    def test_branch_with_slash(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        git(repo, "checkout", "-q", "-b", "feature/x")
        info = capture_git(repo)
        assert info is not None and info.branch == "feature/x"

    def test_not_a_repo(self, tmp_path: Path) -> None:
        plain = tmp_path / "plain"
        plain.mkdir()
        assert capture_git(plain) is None

    def test_missing_directory(self, tmp_path: Path) -> None:
        assert capture_git(tmp_path / "does-not-exist") is None

    def test_no_commits(self, tmp_path: Path) -> None:
        repo = tmp_path / "empty"
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "a.txt").write_text("a\n")
        assert capture_git(repo) is None

    def test_git_not_installed(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        repo = make_repo(tmp_path / "repo")
        empty_bin = tmp_path / "empty-bin"
        empty_bin.mkdir()
        monkeypatch.setenv("PATH", str(empty_bin))
        assert capture_git(repo) is None

    def test_zero_budget(self, tmp_path: Path) -> None:
        repo = make_repo(tmp_path / "repo")
        assert capture_git(repo, timeout=0) is None

    def test_diff_truncated(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        repo = make_repo(tmp_path / "repo")
        (repo / "train.py").write_text("".join(f"line {i}\n" for i in range(20_000)))
        monkeypatch.setattr(git_mod, "MAX_DIFF_BYTES", 1000)
        info = capture_git(repo)
        assert info is not None and info.is_dirty
        marker = git_mod.TRUNCATED_MARKER.format(limit=1000)
        assert info.diff.endswith(marker)
        assert len(info.diff.encode()) <= 1000 + len(marker) + 1


class TestStripCredentials:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://user:token@host/x.git", "https://host/x.git"),
            ("https://ghp_abc123@github.com/org/r.git", "https://github.com/org/r.git"),
            ("http://u:p@host:8080/x?y=1#z", "http://host:8080/x?y=1#z"),
            ("https://u:p@ss@host/x", "https://host/x"),
            ("https://host/x.git", "https://host/x.git"),
            ("https://host/@scope/pkg", "https://host/@scope/pkg"),
            ("ssh://user:pw@host/x.git", "ssh://user@host/x.git"),
            ("ssh://user@host:22/x.git", "ssh://user@host:22/x.git"),
            ("git+ssh://user:pw@host/x", "git+ssh://user@host/x"),
            ("ssh://:pw@host/x", "ssh://host/x"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("/srv/git/repo.git", "/srv/git/repo.git"),
            ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
            ("", ""),
        ],
    )
    def test_examples(self, url: str, expected: str) -> None:
        assert strip_credentials(url) == expected

    @given(
        scheme=st.sampled_from(["https", "http", "ssh", "git+ssh", "ftp"]),
        user=st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~", max_size=12),
        password=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$&'()*+,;=~%:@-_", max_size=20).map(
            lambda s: "X" + s
        ),
        host=st.from_regex(r"[a-z][a-z0-9.]{0,20}(:[0-9]{1,5})?", fullmatch=True),
        path=st.from_regex(r"(/[a-z0-9._@-]{0,10}){0,4}", fullmatch=True),
    )
    def test_never_outputs_password(
        self, scheme: str, user: str, password: str, host: str, path: str
    ) -> None:
        url = f"{scheme}://{user}:{password}@{host}{path}"
        out = strip_credentials(url)
        assert password not in out
        if scheme in {"ssh", "git+ssh"}:
            assert out == f"{scheme}://{user + '@' if user else ''}{host}{path}"
        else:
            assert out == f"{scheme}://{host}{path}"
        assert strip_credentials(out) == out  # idempotent


# --------------------------------------------------------------------------------------- env


class TestCaptureEnv:
    def test_keys_and_types(self) -> None:
        t0 = time.perf_counter()
        info = capture_env()
        elapsed = time.perf_counter() - t0
        t1 = time.perf_counter()
        capture_env()
        again = time.perf_counter() - t1
        print(f"capture_env: first {elapsed * 1000:.1f} ms, second {again * 1000:.1f} ms")
        expected = {
            "python",
            "python_implementation",
            "executable",
            "platform",
            "system",
            "machine",
            "hostname",
            "pid",
            "user",
            "cwd",
            "argv",
            "cpu_count",
            "memory_total",
            "gpus",
            "packages",
            "started_at",
        }
        assert set(info) == expected
        assert info["python"] == ".".join(map(str, sys.version_info[:3]))
        assert isinstance(info["python_implementation"], str)
        assert info["executable"] == sys.executable
        for key in ("platform", "system", "machine", "hostname"):
            assert isinstance(info[key], str) and info[key]
        assert info["pid"] == os.getpid()
        assert info["user"] is None or isinstance(info["user"], str)
        assert info["cwd"] == os.getcwd()
        assert info["argv"] == sys.argv
        assert isinstance(info["cpu_count"], int) and info["cpu_count"] >= 1
        assert isinstance(info["memory_total"], int) and info["memory_total"] > 0
        assert isinstance(info["gpus"], list)
        assert all(isinstance(name, str) for name in info["gpus"])
        packages = info["packages"]
        assert isinstance(packages, dict)
        lowered = {name.lower(): version for name, version in packages.items()}
        assert "pytest" in lowered and "hypothesis" in lowered
        assert list(packages) == sorted(packages, key=str.lower)
        assert all(isinstance(v, str) for v in packages.values())
        started = dt.datetime.fromisoformat(str(info["started_at"]))
        assert started.utcoffset() == dt.timedelta(0)
        assert abs((dt.datetime.now(dt.UTC) - started).total_seconds()) < 60
        json.dumps(info)  # JSON-safe

    def test_without_packages(self) -> None:
        assert "packages" not in capture_env(include_packages=False)

    def test_installed_packages_versions(self) -> None:
        from importlib.metadata import version

        packages = installed_packages()
        assert packages["hypothesis"] == version("hypothesis")

    def test_failing_probes_give_none(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def boom() -> str:
            raise OSError("no user")

        def gone() -> str:
            raise FileNotFoundError("cwd deleted")

        monkeypatch.setattr(getpass, "getuser", boom)
        monkeypatch.setattr(os, "getcwd", gone)
        info = capture_env(include_packages=False)
        assert info["user"] is None
        assert info["cwd"] is None

    def test_gpus_via_fake_nvml(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = types.ModuleType("pynvml")
        calls: list[str] = []
        fake.nvmlInit = lambda: calls.append("init")  # type: ignore[attr-defined]
        fake.nvmlShutdown = lambda: calls.append("shutdown")  # type: ignore[attr-defined]
        fake.nvmlDeviceGetCount = lambda: 2  # type: ignore[attr-defined]
        fake.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
        fake.nvmlDeviceGetName = lambda h: [b"NVIDIA H100", "NVIDIA A100"][h]  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "pynvml", fake)
        assert detect_gpus() == ["NVIDIA H100", "NVIDIA A100"]
        assert calls == ["init", "shutdown"]

    def test_gpus_no_driver_no_smi(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = types.ModuleType("pynvml")

        def no_driver() -> None:
            raise RuntimeError("NVML Shared Library Not Found")

        fake.nvmlInit = no_driver  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "pynvml", fake)
        monkeypatch.setattr(shutil, "which", lambda name: None)
        assert detect_gpus() == []

    def test_gpus_via_nvidia_smi(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
        smi = tmp_path / "nvidia-smi"
        smi.write_text("#!/bin/sh\nprintf 'Tesla T4\\nTesla T4\\n'\n")
        smi.chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert detect_gpus() == ["Tesla T4", "Tesla T4"]


# ------------------------------------------------------------------------------------ stdio


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, line: str) -> None:
        with self.lock:
            self.lines.append((stream, line))

    def of(self, stream: str) -> list[str]:
        return [line for name, line in self.lines if name == stream]


FakeStd = Callable[[], tuple[io.StringIO, io.StringIO]]


@pytest.fixture
def fake_std(monkeypatch: pytest.MonkeyPatch) -> FakeStd:
    """Return a function that puts StringIO objects in place of sys.stdout/sys.stderr.

    It must be called in the test body: pytest re-installs its own capture streams after
    fixture setup, which would undo a replacement made here.
    """

    def install() -> tuple[io.StringIO, io.StringIO]:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        return out, err

    return install


class FakeTerminal(io.StringIO):
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "latin-1"

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 42

    custom_attribute = "forwarded"


class TestStdCapture:
    def test_tee_lines(self, fake_std: FakeStd) -> None:
        out, err = fake_std()
        rec = Recorder()
        cap = StdCapture(rec)
        cap.start()
        assert cap.capturing
        print("hello")
        print("a", "b", sep="-")
        sys.stdout.write("no newline yet")
        print("oops", file=sys.stderr)
        sys.stdout.write(" ... done\nsecond\n")
        cap.stop()
        assert sys.stdout is out and sys.stderr is err
        assert out.getvalue() == "hello\na-b\nno newline yet ... done\nsecond\n"
        assert err.getvalue() == "oops\n"
        assert rec.of("stdout") == ["hello", "a-b", "no newline yet ... done", "second"]
        assert rec.of("stderr") == ["oops"]

    def test_partial_line_flushed_at_stop_and_flush(self, fake_std: FakeStd) -> None:
        fake_std()
        rec = Recorder()
        cap = StdCapture(rec)
        cap.start()
        sys.stdout.write("abc")
        sys.stderr.write("err-partial")
        assert rec.lines == []
        cap.flush()
        assert sorted(rec.lines) == [("stderr", "err-partial"), ("stdout", "abc")]
        sys.stdout.write("def")
        cap.stop()
        assert rec.of("stdout") == ["abc", "def"]
        cap.stop()  # idempotent
        assert rec.of("stdout") == ["abc", "def"]

    def test_carriage_returns(self, fake_std: FakeStd) -> None:
        out, _ = fake_std()
        rec = Recorder()
        with StdCapture(rec):
            for pct in (10, 50, 100):
                sys.stdout.write(f"\rprogress {pct}%")
                sys.stdout.flush()
            sys.stdout.write("\n")
            sys.stdout.write("windows line\r\n")
            sys.stdout.write("a\rb\rc\n")
            sys.stdout.write("bar 1\r")
            sys.stdout.write("bar 2\r")
        assert out.getvalue() == (
            "\rprogress 10%\rprogress 50%\rprogress 100%\nwindows line\r\na\rb\rc\nbar 1\rbar 2\r"
        )
        assert rec.of("stdout") == ["progress 100%", "windows line", "c", "bar 2"]

    def test_empty_lines_kept(self, fake_std: FakeStd) -> None:
        fake_std()
        rec = Recorder()
        with StdCapture(rec):
            sys.stdout.write("\n\nx\n\n")
        assert rec.of("stdout") == ["", "", "x", ""]

    def test_long_lines_split(self, fake_std: FakeStd) -> None:
        fake_std()
        rec = Recorder()
        with StdCapture(rec):
            sys.stdout.write("x" * (MAX_LINE_CHARS * 2 + 5) + "\n")
            for _ in range(MAX_LINE_CHARS // 1000 * 3):  # long line in small pieces
                sys.stdout.write("y" * 1000)
            sys.stdout.write("\n")
        lines = rec.of("stdout")
        assert [len(line) for line in lines[:3]] == [MAX_LINE_CHARS, MAX_LINE_CHARS, 5]
        assert all(len(line) <= MAX_LINE_CHARS for line in lines)
        assert "".join(lines[3:]) == "y" * (MAX_LINE_CHARS // 1000 * 3 * 1000)

    def test_sink_printing_does_not_recurse(self, fake_std: FakeStd) -> None:
        out, _ = fake_std()
        seen: list[str] = []

        def sink(stream: str, line: str) -> None:
            seen.append(line)
            print(f"sink saw {line}")

        with StdCapture(sink):
            print("one")
            print("two")
        assert seen == ["one", "two"]
        assert out.getvalue() == "one\nsink saw one\ntwo\nsink saw two\n"

    def test_sink_exception_swallowed(self, fake_std: FakeStd) -> None:
        out, _ = fake_std()
        seen: list[str] = []

        def sink(stream: str, line: str) -> None:
            seen.append(line)
            raise ValueError("sink broke")

        with StdCapture(sink):
            print("first")
            print("second")
        assert out.getvalue() == "first\nsecond\n"
        assert seen == ["first", "second"]

    def test_stop_leaves_foreign_replacement(self, fake_std: FakeStd) -> None:
        out, err = fake_std()
        rec = Recorder()
        cap = StdCapture(rec)
        cap.start()
        ours = sys.stdout

        class Foreign:
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def write(self, text: str) -> int:
                return int(self.inner.write(text))

            def flush(self) -> None:
                self.inner.flush()

        foreign = Foreign(ours)
        setattr(sys, "stdout", foreign)  # noqa: B010
        print("before stop")
        cap.stop()
        assert sys.stdout is foreign  # theirs stays
        assert sys.stderr is err  # ours was restored
        print("after stop")
        assert out.getvalue() == "before stop\nafter stop\n"  # still forwarded
        assert rec.of("stdout") == ["before stop"]  # but not captured

    def test_restart(self, fake_std: FakeStd) -> None:
        fake_std()
        rec = Recorder()
        cap = StdCapture(rec)
        cap.start()
        cap.start()  # idempotent
        print("a")
        cap.stop()
        print("not captured")
        cap.start()
        print("b")
        cap.stop()
        assert rec.of("stdout") == ["a", "b"]

    def test_none_stream_left_alone(self, monkeypatch: pytest.MonkeyPatch) -> None:
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", None)
        rec = Recorder()
        with StdCapture(rec):
            assert sys.stderr is None
            print("x")
        assert rec.lines == [("stdout", "x")]
        assert sys.stdout is out

    def test_attributes_forwarded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        term = FakeTerminal()
        monkeypatch.setattr(sys, "stdout", term)
        with StdCapture(Recorder()):
            tee: Any = sys.stdout
            assert tee is not term
            assert tee.encoding == "latin-1"
            assert tee.isatty() is True
            assert tee.fileno() == 42
            assert tee.custom_attribute == "forwarded"
            assert tee.closed is False
            tee.writelines(["a\n", "b\n"])
            tee.flush()
            with pytest.raises(AttributeError):
                _ = tee.no_such_attribute
        assert term.getvalue() == "a\nb\n"

    def test_write_return_value_and_errors(self, fake_std: FakeStd) -> None:
        fake_std()
        rec = Recorder()
        with StdCapture(rec):
            assert sys.stdout.write("abc\n") == 4
            with pytest.raises(TypeError):
                sys.stdout.write(b"bytes\n")  # type: ignore[arg-type]
        assert rec.of("stdout") == ["abc"]

    def test_threads(self, fake_std: FakeStd) -> None:
        out, _ = fake_std()
        rec = Recorder()

        def worker(n: int) -> None:
            for j in range(200):
                sys.stdout.write(f"t{n}-{j}\n")

        with StdCapture(rec):
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        expected = {f"t{n}-{j}" for n in range(8) for j in range(200)}
        lines = rec.of("stdout")
        assert len(lines) == len(expected) and set(lines) == expected
        for n in range(8):  # per-thread order is preserved
            mine = [line for line in lines if line.startswith(f"t{n}-")]
            assert mine == [f"t{n}-{j}" for j in range(200)]
        assert sorted(out.getvalue().splitlines()) == sorted(expected)

    def test_sink_never_concurrent(self, fake_std: FakeStd) -> None:
        fake_std()
        active = 0
        overlap = False
        count = 0
        guard = threading.Lock()

        def sink(stream: str, line: str) -> None:
            nonlocal active, overlap, count
            with guard:
                active += 1
                overlap = overlap or active > 1
            time.sleep(0.0005)
            with guard:
                active -= 1
                count += 1

        def worker() -> None:
            for j in range(30):
                sys.stdout.write(f"{j}\n")

        with StdCapture(sink):
            threads = [threading.Thread(target=worker) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert not overlap
        assert count == 120

    @settings(max_examples=200, deadline=None)
    @given(
        chunks=st.lists(
            st.text(
                st.one_of(
                    st.sampled_from(["\n", "a", " "]),
                    st.characters(exclude_characters="\r"),  # no surrogates by default,
                ),
                max_size=30,
            ),
            max_size=20,
        )
    )
    def test_lines_reconstruct_text(self, chunks: list[str]) -> None:
        saved = sys.stdout
        fake = io.StringIO()
        rec = Recorder()
        sys.stdout = fake
        try:
            cap = StdCapture(rec)
            cap.start()
            for chunk in chunks:
                sys.stdout.write(chunk)
            cap.stop()
        finally:
            sys.stdout = saved
        text = "".join(chunks)
        assert fake.getvalue() == text
        lines = rec.of("stdout")
        if not text:
            assert lines == []
        else:
            rebuilt = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
            assert rebuilt == text


def reference_lines(text: str) -> list[str]:
    """The documented line rules, applied to the whole text at once."""

    def finish(line: str) -> str:
        line = line.removesuffix("\r")
        return line[line.rfind("\r") + 1 :]

    *complete, last = text.split("\n")
    lines = [finish(line) for line in complete]
    if last and finish(last):
        lines.append(finish(last))
    return lines


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.text(st.sampled_from(["\n", "\r", "a", "b", "é"]), max_size=12)))
def test_stdcapture_matches_reference_with_carriage_returns(chunks: list[str]) -> None:
    saved = sys.stdout
    fake = io.StringIO(newline="")  # keep '\r' as written
    rec = Recorder()
    sys.stdout = fake
    try:
        with StdCapture(rec):
            for chunk in chunks:
                sys.stdout.write(chunk)
    finally:
        sys.stdout = saved
    text = "".join(chunks)
    assert fake.getvalue() == text
    assert rec.of("stdout") == reference_lines(text)


# ---------------------------------------------------------------------------------- logging


@pytest.fixture
def logger() -> Any:
    log = logging.getLogger(f"runlane-test-{time.perf_counter_ns()}")
    log.setLevel(1)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


class Emitted:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, object]]] = []

    def __call__(self, message: str, level: str, meta: dict[str, object]) -> None:
        self.calls.append((message, level, meta))


class TestRunlaneHandler:
    def test_level_mapping(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted))
        logger.debug("d")
        logger.info("i")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        logger.log(5, "low")
        logger.log(25, "between info and warning")
        logger.log(35, "between warning and error")
        logger.log(45, "between error and critical")
        logger.log(70, "above critical")
        assert [(m, lvl) for m, lvl, _ in emitted.calls] == [
            ("d", "debug"),
            ("i", "info"),
            ("w", "warn"),
            ("e", "error"),
            ("c", "fatal"),
            ("low", "debug"),
            ("between info and warning", "info"),
            ("between warning and error", "warn"),
            ("between error and critical", "error"),
            ("above critical", "fatal"),
        ]
        assert runlane_level(logging.NOTSET) == "debug"

    def test_metadata(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted))
        logger.info("step %d of %s", 3, "ten")
        message, level, meta = emitted.calls[0]
        assert message == "step 3 of ten"
        assert level == "info"
        assert meta == {
            "logger": logger.name,
            "module": "test_capture",
            "filename": "test_capture.py",
            "lineno": meta["lineno"],
            "func": "test_metadata",
            "thread": threading.current_thread().name,
        }
        assert isinstance(meta["lineno"], int) and meta["lineno"] > 0
        json.dumps(meta)

    def test_exc_info(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted))
        try:
            raise ValueError("bad thing")
        except ValueError:
            logger.exception("failed")
        message, level, meta = emitted.calls[0]
        assert message == "failed"
        assert level == "error"
        exc = meta["exception"]
        assert isinstance(exc, str)
        assert exc.startswith("Traceback") and "ValueError: bad thing" in exc
        logger.info("fine")
        assert "exception" not in emitted.calls[1][2]

    def test_stack_info(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted))
        logger.info("here", stack_info=True)
        assert "Stack (most recent call last)" in str(emitted.calls[0][2]["stack"])

    def test_extra(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted))

        class Thing:
            def __repr__(self) -> str:
                return "<Thing>"

        logger.info(
            "with extra",
            extra={
                "step": 7,
                "lr": 0.1,
                "tags": ["a", "b"],
                "nested": {"k": [1, {"x": None}]},
                "thing": Thing(),
                "bad_float": float("nan"),
                "bad_key": {1: "x"},
                "huge": 2**70,
                "logger": "clash",
            },
        )
        meta = emitted.calls[0][2]
        assert meta["step"] == 7
        assert meta["lr"] == 0.1
        assert meta["tags"] == ["a", "b"]
        assert meta["nested"] == {"k": [1, {"x": None}]}
        assert meta["thing"] == "<Thing>"
        assert meta["bad_float"] == "nan"
        assert meta["bad_key"] == "{1: 'x'}"
        assert meta["huge"] == repr(2**70)
        assert meta["logger"] == logger.name  # standard keys win
        json.dumps(meta, allow_nan=False)

    def test_formatter_used_when_set(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        handler = RunlaneHandler(emitted)
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        logger.addHandler(handler)
        logger.warning("careful %s", "now")
        assert emitted.calls[0][0] == "[WARNING] careful now"

    def test_handler_level(self, logger: logging.Logger) -> None:
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted, level=logging.WARNING))
        logger.info("dropped")
        logger.error("kept")
        assert [c[0] for c in emitted.calls] == ["kept"]

    def test_emit_fn_error_goes_to_handle_error(
        self, logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(message: str, level: str, meta: dict[str, object]) -> None:
            raise RuntimeError("store down")

        handler = RunlaneHandler(broken)
        handled: list[logging.LogRecord] = []
        monkeypatch.setattr(handler, "handleError", handled.append)
        logger.addHandler(handler)
        logger.error("boom")  # must not raise
        assert len(handled) == 1 and handled[0].getMessage() == "boom"

    def test_bad_format_args_do_not_raise(
        self, logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(logging, "raiseExceptions", False)
        emitted = Emitted()
        logger.addHandler(RunlaneHandler(emitted))
        logger.info("%d", "not a number")
        assert emitted.calls == []

    def test_no_recursion_when_emit_fn_logs(self, logger: logging.Logger) -> None:
        calls: list[str] = []

        def chatty(message: str, level: str, meta: dict[str, object]) -> None:
            calls.append(message)
            logger.warning("emit_fn says: %s", message)

        logger.addHandler(RunlaneHandler(chatty))
        logger.info("outer")
        logger.info("second")
        assert calls == ["outer", "second"]

"""Settings read from the environment: values, defaults and the errors for bad ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runlane import settings


def test_seconds_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RL_T", raising=False)
    assert settings.seconds_from_env("RL_T", 5.0, 0.1, 10.0) == 5.0
    monkeypatch.setenv("RL_T", "2.5")
    assert settings.seconds_from_env("RL_T", 5.0, 0.1, 10.0) == 2.5
    for bad in ("abc", "nan", "0.01", "11", "-1"):
        monkeypatch.setenv("RL_T", bad)
        with pytest.raises(ValueError, match=rf"RL_T='{bad}' must be a number of seconds"):
            settings.seconds_from_env("RL_T", 5.0, 0.1, 10.0)


def test_heartbeat_staleness_comes_from_the_environment(tmp_path: Path) -> None:
    """A run whose heartbeat stopped 3 s ago reads as crashed with a 2 s staleness setting,
    and as running with the default 30 s."""
    script = textwrap.dedent(
        f"""
        import time
        from runlane.entities import RunPatch, RunSpec, Batch
        from runlane.store.local.store import LocalStore
        store = LocalStore({str(tmp_path)!r})
        info, _ = store.create_run(RunSpec(owner="o", project="p", name="r"))
        store.write(info.id, Batch(patches=[RunPatch(status="running", at=time.time())]))
        store.heartbeat(info.id, time.time() - 3)
        print(store.get_run(info.id).status)
        """
    )

    def status(**env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", **env},
        )
        return done.stdout.strip()

    assert status(RUNLANE_HEARTBEAT_STALE_AFTER="2") == "crashed"
    assert status() == "running"

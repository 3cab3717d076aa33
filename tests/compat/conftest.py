"""Fixtures of the facade tests: every test runs in its own working folder (the seed examples
use relative paths such as ``./requirements.txt``), with the runlane data root of
``tests/conftest.py`` and no Polyaxon/FedML/ML-Dash switches inherited from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest

_FOREIGN_ENV = (
    "POLYAXON_NO_OP",
    "POLYAXON_LOG_LEVEL",
    "POLYAXON_HASH_LENGTH",
    "FEDML_CURRENT_RUN_ID",
    "FEDML_CURRENT_EDGE_ID",
    "ML_DASH_PREFIX",
    "DASH_PREFIX",
)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in _FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    return folder

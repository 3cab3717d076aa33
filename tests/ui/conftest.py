"""Browser fixtures for the web UI tests: Debian's Chromium driven by Playwright.

``chromium`` installs Debian's package when ``/usr/bin/chromium`` is missing (a fresh CI
machine; never ``playwright install``, which downloads a browser). When the browser still
cannot be launched, the tests are skipped with the reason, unless ``RUNLANE_REQUIRE_SERVICES=1``
(CI), where they fail. ``page`` records console errors and page errors, and saves a screenshot
into the test's tmp folder when the test fails. ``base_url`` serves the UI and the REST API
over a LocalStore on the test module's own ``data_root`` fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_TIMEOUT = 300


def _unavailable(reason: str) -> None:
    if os.environ.get("RUNLANE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"browser required (RUNLANE_REQUIRE_SERVICES=1) but unavailable: {reason}")
    pytest.skip(f"Chromium unavailable: {reason}")


def _install_chromium() -> str | None:
    """Install Debian's chromium; the failure's last line, or None on success."""
    if shutil.which("apt-get") is None:
        return "no apt-get to install chromium with"
    command = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"
    try:
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"apt-get install chromium took over {INSTALL_TIMEOUT} s"
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:]
        return " ".join(last) or f"apt-get exited {done.returncode}"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        failure = _install_chromium()
        if failure is not None:
            _unavailable(failure)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc}); pip install playwright")
    manager = sync_playwright().start()
    try:
        launched = manager.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
    except Exception as exc:  # any launch failure means no browser
        manager.stop()
        _unavailable(f"cannot launch {CHROMIUM}: {exc}")
    yield launched
    launched.close()
    manager.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


class ConsoleLog:
    """Console errors and uncaught page errors seen by one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(
    browser: Any, console: ConsoleLog, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: console.errors.append(f"page error: {e}"))
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = tmp_path / "failure.png"
        tab.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failing page: {shot}")
    context.close()


@pytest.fixture(scope="module")
def base_url(data_root: Path) -> Iterator[str]:
    """The UI and REST API over a LocalStore on the module's ``data_root`` (its fixture)."""
    from runlane.server.app import create_app
    from runlane.store.local import LocalStore
    from support.servers import serve_app

    store = LocalStore(data_root)
    try:
        with serve_app(create_app(store)) as url:
            yield url
    finally:
        store.close()

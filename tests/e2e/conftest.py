"""Browser tests: Playwright's sync API driving Debian's Chromium against `live_server`.

No browser is ever downloaded: the tests use /usr/bin/chromium and skip when it is missing
(`bin/test` installs it). Playwright's sync API runs an event loop in the test thread, so the
ORM calls the tests make next to it need DJANGO_ALLOW_ASYNC_UNSAFE.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (bin/test does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser, live_server, transactional_db) -> Iterator:
    """A fresh browser context (no cookies) whose relative URLs go to the live server.

    A failing test leaves a screenshot of the page it failed on.
    """
    failed_shot = SCREENSHOTS / f"FAILED-{request.node.name}.png"
    failed_shot.unlink(missing_ok=True)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(failed_shot), full_page=True)
    context.close()


@pytest.fixture
def screenshot(request):
    """`screenshot(page, name)`: a full-page PNG in test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")
    for stale in SCREENSHOTS.glob(f"{prefix}-[0-9][0-9]-*.png"):  # an earlier run's
        stale.unlink(missing_ok=True)
    counter = iter(range(1, 1000))

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{prefix}-{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take

"""Browser tests: Playwright driving Debian's Chromium against a live server on the real database and Redis."""

import os
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Chromium would otherwise reach out to Google services at every start; this machine has no network for them.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs it (apt-get install chromium).")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import expect, sync_playwright

    # Workers load models before their first step; five seconds (the default) is too short on two cores.
    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(user=None, javascript=True) -> a page in a fresh browser context, signed in as user when given."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def make(user=None, javascript=True):
        context = browser.new_context(
            base_url=live_server.url,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        if user is not None:
            client = Client()
            client.force_login(user)
            host = live_server.url.split("//")[1].split(":")[0]
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                  "domain": host, "path": "/"}]
            )  # fmt: skip
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def web_page(browser, web_server):
    """web_page(user) -> a page signed in as user on daphne (web_server), where workers' live updates arrive over
    websockets; timeouts allow for workers loading their models."""
    from django.conf import settings

    from tests.test_live_generation import session_cookie

    contexts = []

    def make(user):
        context = browser.new_context(base_url=f"http://{web_server}", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie(user),
                              "domain": "127.0.0.1", "path": "/"}])  # fmt: skip
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take

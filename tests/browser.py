"""The browser tests' harness: headless Debian Chromium driven by Playwright against ``live_daphne``.

    @pytest.mark.browser
    def test_it(browser_page, live_daphne):
        log_in(browser_page, "ada")
        browser_page.goto("/jobs/")
        assert serious_violations(browser_page) == []
        assert wider_than_a_phone(browser_page) == []
        screenshot(browser_page, "jobs")

``browser_page`` skips its test, saying why, when /usr/bin/chromium or the playwright package is
missing (scripts/install-browser.sh installs Chromium with apt-get and axe-core with npm; never
``playwright install``, which downloads browsers). Screenshots go to var/screenshots/ (not committed).

While Playwright's sync API runs, its event loop sits in the test's thread: Django's ORM then needs
DJANGO_ALLOW_ASYNC_UNSAFE (set for the test only), and a service that broadcasts to the channel
layer (``async_to_sync``) must run in another thread: ``off_the_browser_loop``.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("PRSM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE_JS = ROOT / "var" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"


@pytest.fixture
def browser_page(live_daphne, monkeypatch):
    """A fresh Playwright ``Page`` in headless Chromium whose relative URLs go to ``live_daphne``.
    ``page.js_errors`` collects uncaught errors and console errors of the pages it opened."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (scripts/install-browser.sh installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_daphne, viewport=DESKTOP)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        page.on("console", lambda message: message.type == "error"
                and page.js_errors.append(f"{message.text} ({message.location.get('url')})"))
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # Django's connections are per context (asgiref's Local), and Playwright's loop runs in
            # this thread: what the test did on the database while it ran opened connections of
            # their own, which would outlive the test and block the test database's teardown.
            connections.close_all()


def off_the_browser_loop(function, /, *args, **kwargs):
    """Run ``function`` in a thread of its own (its own database connection, no running event loop),
    for services that broadcast through ``async_to_sync``; returns its result or raises its error."""
    from django.db import connection

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=60)


def log_in(page, username: str, password: str = PASSWORD, next_path: str = "/") -> None:
    """Sign in through the login form, as a person does, and wait for the page it leads to."""
    page.goto(f"/accounts/login/?next={next_path}")
    submit_login_form(page, username, password)


def submit_login_form(page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("main form").get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def serious_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of the page as it is now, of these impacts: rule id, impact, help and
    the first few elements. Skips the test when axe-core is not installed (npm, see above)."""
    if not AXE_JS.exists():
        pytest.skip(f"axe-core is not installed at {AXE_JS} (scripts/install-browser.sh installs it with npm)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [" ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"])
                       for node in v["nodes"][:5]]}
            for v in violations if v["impact"] in impacts]


def wider_than_a_phone(page, width: int = PHONE["width"]) -> list[str]:
    """Set the viewport to ``width`` px and return what scrolls the page sideways: the document's
    extra width and the elements that stick out past the right edge ([] when nothing does)."""
    page.set_viewport_size({"width": width, "height": PHONE["height"]})
    page.wait_for_timeout(300)  # charts redraw on the resize event
    return page.evaluate("""(width) => {
        const root = document.documentElement, out = [];
        if (root.scrollWidth > root.clientWidth) out.push(`document is ${root.scrollWidth}px wide for ${root.clientWidth}px`);
        for (const el of document.body.querySelectorAll("*")) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > width + 1 && !el.closest(".table-scroll, .skip, .visually-hidden")) {
                out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""} ends at ${Math.round(box.right)}px`);
            }
        }
        return out.slice(0, 10);
    }""", width)


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save what the page shows as var/screenshots/<name>.png (a test artifact, not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def fits_and_passes_axe(page, name: str) -> dict:
    """Screenshots ``name`` at desktop and phone width; what axe and the phone-width check found
    (``{"axe": [], "wider than 390px": []}`` when nothing)."""
    page.set_viewport_size(DESKTOP)
    screenshot(page, name)
    found = {"axe": serious_violations(page), "wider than 390px": wider_than_a_phone(page)}
    screenshot(page, f"{name}-390px")
    page.set_viewport_size(DESKTOP)
    return found

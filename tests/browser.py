"""What the browser tests share: Debian's Chromium driven by Playwright, and two page actions."""

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium():
    """A headless Chromium (Playwright's own browser download needs the internet; Debian's does not)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (bash scripts/setup-dev.sh does it).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


def open_app(page, url):
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)


def ask(page, question):
    page.fill("#question textarea", question)
    page.click("#ask")

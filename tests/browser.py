"""What the browser tests share: Debian's Chromium driven by Playwright, page actions, and axe-core."""

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


#: axe-core, the accessibility checker, from npm (scripts/setup-dev.sh installs it under .venv/node)
AXE = Path(__file__).parents[1] / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page, impacts=("serious", "critical")):
    """axe-core's WCAG violations on the page as it is, as "impact rule: help (first elements)" lines."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `bash scripts/setup-dev.sh` (npm install axe-core).")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document)).violations.map(v => ({
        impact: v.impact, id: v.id, help: v.help,
        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").split("\\n")[1])}))""")
    return [f"{v['impact']} {v['id']}: {v['help']} {v['nodes']}" for v in found if v["impact"] in impacts]

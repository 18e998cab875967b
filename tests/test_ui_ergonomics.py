"""Chat UI ergonomics and accessibility of issue 10, in a real browser (Debian's Chromium through Playwright),
at desktop (1280x800) and phone (390x844) widths, in light and dark themes.

One app over the tiny corpus answering with the scripted OpenAI-compatible server, shared by the module;
the latency test starts `rag ui` as its own process over the bundled sample, as a user would.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from browser import ask, axe_violations, open_app
from conftest import TINY, free_port
from fake_openai import FakeOpenAI, Reply

from rag.engine import Engine
from rag.settings import Settings

pytestmark = pytest.mark.slow

DOCS = Path(__file__).parents[1] / "docs"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
#: The behaviour tests run at both widths, each in one theme; the accessibility check in all four.
TWO = [("desktop", "light"), ("phone", "dark")]
ALL_FOUR = [(size, theme) for size in SIZES for theme in ("light", "dark")]

REEFS = "How many hydrophones were deployed on the reefs?"
ANSWER = ("The study deployed arrays of 16 hydrophones on three reefs for 11 months [1]. "
          "Acoustic richness declined by 30% [1]. Nobody counted the fish.")
LONG = "\n".join(f"- Reef {n} had arrays of 16 hydrophones recording for 11 months [1]." for n in range(1, 31))


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI(default=ANSWER) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_replies(fake_llm):
    fake_llm.queue.clear()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, fake_llm):
    from ui.app import launch

    settings = Settings(index_dir=tmp_path_factory.mktemp("ui-ergonomics") / "idx", sample_on_empty=False,
                        openai_base_url=fake_llm.base_url, model="fake-model", max_retries=0)
    engine = Engine(settings, notify=lambda m: None)
    engine.ingest([TINY])
    port = free_port()
    app = launch(engine, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture
def open_page(browser, app_url):
    """open_page(size, theme): a fresh browser context (no stored conversation) showing the app."""
    contexts = []

    def opener(size: str, theme: str, **options):
        width, height = SIZES[size]
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{app_url}?__theme={theme}")
        page.wait_for_selector("#question textarea", timeout=60_000)
        return page

    yield opener
    for context in contexts:
        context.close()


def answered(page, n):
    page.wait_for_selector(f"#turn-msg-{n}[data-state=done] .badge", timeout=60_000)


def announcement(page, start="Answer finished: "):
    """The live region's text once it starts with ``start``: the page announces on the animation frame after the
    answer's state changes, so the text can lag the finished answer by a frame."""
    page.wait_for_function("s => (document.getElementById('rag-live') || {}).textContent?.startsWith(s)", arg=start,
                           timeout=5_000)
    return page.inner_text("#rag-live")


def end_shows(page, selector):
    """Whether the end of ``selector`` shows above the question box within half a second.

    A streamed line lands between frames and the page scrolls to it on the next frame, so one sample can catch
    the line before the scroll; a page that does not follow never shows the end again while the answer grows.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """(sel) => document.querySelector(sel).getBoundingClientRect().bottom
                        <= document.getElementById("composer").getBoundingClientRect().top + 2""",
            arg=selector, polling="raf", timeout=500)
    except PlaywrightTimeout:
        return False
    return True


def box(page, selector):
    return page.locator(selector).bounding_box()


# -- the question box stays at hand; the page follows a streaming answer -------------------------------------
@pytest.mark.parametrize("size,theme", TWO)
def test_question_box_stays_at_the_bottom_and_the_page_follows_the_answer(open_page, fake_llm, size, theme):
    page = open_page(size, theme)
    height = SIZES[size][1]
    fake_llm.enqueue(LONG)
    ask(page, REEFS)
    answered(page, 1)
    # the answer is taller than the window: the page followed it to its end, the box still at the bottom
    assert box(page, "#chat")["height"] > height
    composer = box(page, "#composer")
    assert composer["y"] + composer["height"] <= height + 1 and composer["y"] > height * 0.5, composer
    assert box(page, "#turn-msg-1 .meta")["y"] < composer["y"]  # the end of the answer shows above the box
    page.evaluate("window.scrollTo(0, 0)")  # reading from the top: the box is still there
    page.wait_for_timeout(200)
    composer = box(page, "#composer")
    assert composer["y"] + composer["height"] <= height + 1 and composer["y"] > height * 0.5, composer
    # a streaming answer is followed while it grows...
    fake_llm.enqueue("How long did the hydrophones record on the reefs?",  # the follow-up's rewrite
                     Reply(text=LONG, chunk_delay=0.012))  # then about 9 s of streaming
    ask(page, "And how long did they record?")
    page.wait_for_selector("#turn-msg-2[data-state=writing] .a li", timeout=30_000)
    for _ in range(3):
        page.wait_for_timeout(700)
        assert end_shows(page, "#turn-msg-2 .a"), "the newest text is hidden under the box"
    # ...until the reader scrolls up: then the page stays where they are
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(300)
    where = page.evaluate("window.scrollY")
    page.wait_for_timeout(1500)
    assert page.locator("#turn-msg-2[data-state=writing]").count() == 1, "the stream ended too early for this test"
    assert page.evaluate("window.scrollY") == where
    answered(page, 2)


# -- copy an answer with its references ------------------------------------------------------------------------
@pytest.mark.parametrize("size,theme", TWO)
def test_copy_button_copies_the_answer_with_its_references(open_page, fake_llm, size, theme):
    page = open_page(size, theme, permissions=["clipboard-read", "clipboard-write"])
    fake_llm.enqueue(ANSWER)
    ask(page, REEFS)
    answered(page, 1)
    copy = page.locator("#turn-msg-1 button.copy")
    assert copy.get_attribute("aria-label") == "Copy answer 1 with its references"
    copy.click()
    page.wait_for_selector("#turn-msg-1 button.copy:has-text('Copied')", timeout=5_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == (ANSWER + "\n\nReferences:\n"
                      "[1] Coral Reef Acoustic Monitoring with Hydrophone Arrays (1903.00002) https://arxiv.org/abs/1903.00002")
    assert "copied" in page.inner_text("#rag-live")


def test_an_answer_that_starts_and_finishes_between_two_frames_is_announced(open_page):
    """Under load, a quick answer's first and last updates can land in one frame: the page never sees it writing."""
    page = open_page("desktop", "light")
    page.evaluate("""() => {
      const turn = '<div class="rag-turn" id="turn-msg-1" data-state="done"><div class="q">Q?</div>'
                   + '<div class="a"><p>A quick answer [1].</p></div></div>';
      document.querySelector("#chat").insertAdjacentHTML("beforeend", '<div class="rag-chat">' + turn + '</div>');
    }""")
    assert announcement(page) == "Answer finished: A quick answer [1]."


# -- a reload keeps the conversation ------------------------------------------------------------------------------
@pytest.mark.parametrize("size,theme", [("desktop", "dark"), ("phone", "light")])
def test_the_conversation_survives_a_reload(open_page, fake_llm, size, theme):
    page = open_page(size, theme)
    fake_llm.enqueue(ANSWER)
    ask(page, REEFS)
    answered(page, 1)
    fake_llm.enqueue("Where were the hydrophones deployed on the reefs?",  # the follow-up's rewrite
                     "The proof is 18 kilobytes [1].")
    ask(page, "Where were they?")
    answered(page, 2)
    page.reload()
    page.wait_for_selector("#turn-msg-2[data-state=done] .badge", timeout=30_000)
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.inner_text("#rag-live") == ""  # answers brought back are not announced again
    assert REEFS in page.inner_text("#turn-msg-1 .q") and "Where were they?" in page.inner_text("#turn-msg-2 .q")
    assert "16 hydrophones" in page.inner_text("#turn-msg-1 .a")
    assert page.locator("#turn-2").is_visible()  # the sources panel is back, on the newest answer
    page.click("#turn-msg-1 .cite >> nth=0")  # and the first answer's sources, with their highlights
    page.locator("#src-1-1 mark").first.wait_for(state="visible", timeout=10_000)
    assert page.locator("#export").is_enabled()
    fake_llm.enqueue("How many hydrophones were deployed on the reefs, and for how long?", ANSWER)
    ask(page, "For how long?")  # the conversation goes on where it was
    answered(page, 3)
    assert announcement(page).startswith("Answer finished: The study deployed")  # a new answer is
    assert "Where were they?" in json.dumps(fake_llm.requests[-2])  # the rewrite saw the restored turns
    page.click("#clear")
    page.wait_for_selector("#chat .empty", timeout=10_000)
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("#chat .rag-turn").count() == 0  # a new conversation stays new


# -- accessibility -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,theme", ALL_FOUR)
def test_no_serious_accessibility_violations(open_page, fake_llm, size, theme, tmp_path):
    page = open_page(size, theme)
    assert page.locator("h1").count() == 1 and page.inner_text("h1") == "Ask the abstracts"
    assert page.get_by_role("textbox", name="Question").count() == 1  # the question box has a name
    fake_llm.enqueue(ANSWER)
    ask(page, REEFS)
    answered(page, 1)
    assert page.locator("[aria-live=polite]#rag-live").count() == 1
    assert announcement(page).startswith("Answer finished: The study deployed arrays of 16 hydrophones")
    cite = page.locator("#turn-msg-1 .cite").first
    assert cite.get_attribute("aria-label") == "Source 1: Coral Reef Acoustic Monitoring with Hydrophone Arrays"
    assert page.locator("#turn-msg-1 .badge.ok").first.get_attribute("aria-label").startswith("✓ supported by its sources")
    assert page.locator("#turn-msg-1 button.badge.na").get_attribute("aria-label") == "? cites no source"
    shot = tmp_path / "ui.png"
    if size == "phone":  # the README's pictures: the phone shows the answer, the desktop also a source
        page.screenshot(path=str(shot))
    cite.click()
    page.locator("#sources .source.selected").wait_for(state="visible", timeout=10_000)
    if size == "desktop":
        page.screenshot(path=str(shot))
    if os.environ.get("UPDATE_UI_SCREENSHOT") and theme == "light":
        shutil.copy(shot, DOCS / ("ui.png" if size == "desktop" else "ui-phone.png"))
    for panel in ("#settings-panel", "#collection-panel"):  # their labels and hints are read too
        page.locator(panel).get_by_role("button").first.click()
    page.wait_for_timeout(300)
    assert axe_violations(page) == []


# -- latency: the first question after start ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    """The bundled sample ingested into an index of its own, then released for another process."""
    index_dir = tmp_path_factory.mktemp("ui-sample") / "idx"
    with Engine(Settings(index_dir=index_dir), notify=lambda m: None) as engine:
        engine.ensure_ready()
        engine.lexical()
    return index_dir


class Server:
    """`rag ui` in a process of its own, its stderr collected line by line."""

    def __init__(self, index_dir: Path, llm_url: str, tmp: Path):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
        env.update(RAG_INDEX_DIR=str(index_dir), OPENAI_BASE_URL=llm_url, RAG_MODEL="fake-model",
                   XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "rag", "ui", "--port", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append((time.perf_counter() - self.started, line.rstrip()))

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds from start to the first stderr line holding ``text``."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for at, line in list(self.lines):
                if text in line:
                    return at
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"`rag ui` never said {text!r}; it said: {[line for _, line in self.lines]}")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.mark.parametrize("size,theme", [("desktop", "light")])
def test_time_to_first_answer_text_after_start(sample_dir, fake_llm, browser, tmp_path, size, theme):
    server = Server(sample_dir, fake_llm.base_url, tmp_path)
    try:
        server.wait_for("Starting the chat UI", timeout=120)
        context = browser.new_context(viewport=dict(zip(("width", "height"), SIZES[size])))
        page = context.new_page()
        for _ in range(600):  # the server takes a moment to listen after saying it starts
            try:
                open_app(page, f"http://127.0.0.1:{server.port}/?__theme={theme}")
                break
            except Exception:
                time.sleep(0.1)
        page_at = time.perf_counter() - server.started
        warm_at = server.wait_for("Warmed up", timeout=120)  # start-up work happens at start-up...
        first = time_to_answer(page, fake_llm, "What speedup does Lookahead decoding give, and does it need a draft model?")
        page.click("#clear")  # the same again, on a process that has answered once
        page.wait_for_selector("#chat .empty", timeout=10_000)
        second = time_to_answer(page, fake_llm, "What is any4 and which 4-bit formats does it beat?")
        print(f"\n[latency] page loaded {page_at:.1f} s after start, warmed up at {warm_at:.1f} s; Enter to first "
              f"answer text / to the checked answer: first question {first[0]:.2f} s / {first[1]:.2f} s, "
              f"second {second[0]:.2f} s / {second[1]:.2f} s")
        assert first[0] < 20  # a sanity bound only: the machine may be busy
        context.close()
    finally:
        server.close()


def time_to_answer(page, fake_llm, question: str) -> tuple[float, float]:
    """Seconds from Enter to the first answer text on screen, and to the checked answer."""
    fake_llm.enqueue(Reply(text=ANSWER, chunk_delay=0.01))
    page.fill("#question textarea", question)
    asked = time.perf_counter()
    page.press("#question textarea", "Enter")
    page.wait_for_function("() => /\\w/.test(document.querySelector('#turn-msg-1 .a p:not(.preamble)')?.textContent"
                           " || '')", polling="raf", timeout=60_000)
    first_text = time.perf_counter() - asked
    page.wait_for_selector("#turn-msg-1[data-state=done]", timeout=60_000)
    return first_text, time.perf_counter() - asked

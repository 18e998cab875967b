"""Chat UI defects of issue 10, each driven in a real browser (Debian's Chromium through Playwright).

One app over the tiny corpus plus a paper without a year, answering with the scripted
OpenAI-compatible server (slow streams make streaming controllable); one over an empty index.
"""

import json
from pathlib import Path

import pytest
from browser import ask, open_app
from conftest import TINY, free_port
from fake_openai import FakeOpenAI, Reply

from rag.engine import Engine
from rag.settings import Settings

pytestmark = pytest.mark.slow

UNDATED = {"id": "nodate-1", "title": "Tide Pool Census Without a Date",
           "abstract": "Volunteers counted hermit crabs in 40 tide pools. Counts rose after storms."}
ANSWER = "The study deployed arrays of 16 hydrophones on three reefs for 11 months [1]. Acoustic richness declined by 30% [1]."
REEFS = "How many hydrophones were deployed on the reefs?"


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI(default=ANSWER) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_replies(fake_llm):
    """A reply one test queued and did not use never answers the next test."""
    fake_llm.queue.clear()


def serve(engine: Engine):
    from ui.app import launch

    port = free_port()
    return launch(engine, port=port, block=False), f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def engine(tmp_path_factory, fake_llm):
    d = tmp_path_factory.mktemp("ui-defects")
    extra = d / "undated.jsonl"
    extra.write_text(json.dumps(UNDATED) + "\n")
    settings = Settings(index_dir=d / "idx", sample_on_empty=False, openai_base_url=fake_llm.base_url,
                        model="fake-model", max_retries=0, collection="reefs-and-more")
    engine = Engine(settings, notify=lambda m: None)
    engine.ingest([TINY, extra])
    return engine


@pytest.fixture(scope="module")
def app_url(engine):
    app, url = serve(engine)
    yield url
    app.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def open_panel(page, selector):
    page.locator(selector).get_by_role("button").first.click()


def answered(page, n):
    """Waits until turn n has its badges (the answer is finished and checked)."""
    page.wait_for_selector(f"#turn-msg-{n} .badge", timeout=60_000)


# -- 1. year filters ------------------------------------------------------------------------------------
def test_empty_year_boxes_mean_no_filter_and_undated_papers_are_counted(app_url, fake_llm, page):
    open_app(page, app_url)
    open_panel(page, "#settings-panel")
    page.locator("#year-from input, #year-from textarea").wait_for(state="visible")
    assert page.locator("#year-from input, #year-from textarea").input_value() == ""
    assert page.locator("#year-to input, #year-to textarea").input_value() == ""
    assert "1 paper has no year and is left out when a year filter is set" in page.inner_text("#undated")
    fake_llm.enqueue(ANSWER)
    ask(page, REEFS)
    answered(page, 1)
    assert "no papers that match" not in page.inner_text("#turn-msg-1")
    assert "Coral Reef Acoustic Monitoring" in page.inner_text("#sources")
    # "From year 2024" alone: only the 2024 papers are searched
    page.fill("#year-from input, #year-from textarea", "2024")
    fake_llm.enqueue("KV cache eviction keeps attention sinks [1].")
    ask(page, "How can the KV cache be compressed?")
    answered(page, 2)
    sources = page.inner_text("#turn-2")
    assert "KV Cache Eviction by Attention Sinks" in sources
    years = page.locator("#turn-2 .smeta").all_text_contents()
    assert years and all(" · 2024 · " in y for y in years), years


# -- 2. citations select, never navigate ------------------------------------------------------------------
def test_clicking_a_citation_never_navigates_and_a_new_answer_resets_the_panel(app_url, fake_llm, page):
    page.goto(app_url + "?__theme=dark")
    page.wait_for_selector("#question textarea", timeout=60_000)
    fake_llm.enqueue(ANSWER)
    ask(page, REEFS)
    answered(page, 1)
    page.evaluate("window.__kept = 'same page'")
    url, depth, scroll_y = page.url, page.evaluate("history.length"), page.evaluate("window.scrollY")
    cite = page.locator("#turn-msg-1 .cite").first
    cite.click()
    page.wait_for_timeout(500)  # a navigation, had there been one, would have started by now
    page.wait_for_load_state()
    assert page.evaluate("window.__kept") == "same page"  # no reload
    card = page.locator("#sources .source.selected")
    card.wait_for(state="visible", timeout=10_000)
    assert card.get_attribute("id") == "src-1-1"
    assert page.url == url and page.evaluate("history.length") == depth
    assert page.evaluate("window.scrollY") == scroll_y
    assert REEFS in page.inner_text("#chat")
    assert cite.get_attribute("aria-label") == "Source 1: Coral Reef Acoustic Monitoring with Hydrophone Arrays"
    # keyboard: focus stays on the citation, Enter selects too
    page.evaluate("document.querySelectorAll('#sources .selected').forEach(e => e.classList.remove('selected'))")
    cite.focus()
    page.keyboard.press("Enter")
    card.wait_for(state="visible", timeout=10_000)
    assert page.evaluate("document.activeElement.getAttribute('data-n')") == "1"
    # a new answer: the panel shows its sources, not the card picked before
    fake_llm.enqueue("The proof is 18 kilobytes [1] and verifies in 9 milliseconds [1].")
    ask(page, "How large are zero-knowledge proofs of model inference?")
    answered(page, 2)
    assert page.locator("#turn-2").is_visible() and page.locator("#turn-1").is_hidden()
    assert page.evaluate("window.__kept") == "same page"


# -- 3. the sources panel stays in its column -------------------------------------------------------------
VISIBLE_BOX = """(sel) => {  // the part of an element's box that is drawn: clipped by every ancestor that clips
  const r = document.querySelector(sel).getBoundingClientRect();
  let [top, bottom, left, right] = [r.top, r.bottom, r.left, r.right];
  for (let p = document.querySelector(sel).parentElement; p; p = p.parentElement) {
    const cs = getComputedStyle(p), q = p.getBoundingClientRect();
    if (cs.overflowY !== "visible") { top = Math.max(top, q.top); bottom = Math.min(bottom, q.bottom); }
    if (cs.overflowX !== "visible") { left = Math.max(left, q.left); right = Math.min(right, q.right); }
  }
  return {x: left, y: top, width: Math.max(0, right - left), height: Math.max(0, bottom - top)};
}"""


def overlaps(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_sources_panel_never_covers_settings_or_collection(app_url, fake_llm, browser, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        open_app(page, app_url)
        for n, question in enumerate([REEFS, "How can the KV cache be compressed?"], start=1):
            fake_llm.enqueue(ANSWER)
            ask(page, question)
            answered(page, n)
        page.evaluate("document.querySelectorAll('#sources details').forEach(d => d.open = true)")  # the tallest panel
        for y in (0, 400, 100_000):  # wherever the page is scrolled to
            page.evaluate(f"window.scrollTo(0, {y})")
            page.wait_for_timeout(100)
            panel = page.evaluate(VISIBLE_BOX, "#sources .rag-sources")  # the cards as drawn, not just the box
            for other in ("#settings-panel", "#collection-panel"):
                box = page.locator(other).bounding_box()
                assert not overlaps(panel, box), (size, y, other, panel, box)
            if size[0] < 600:  # phone: below the chat
                assert panel["y"] >= page.locator("#chat").bounding_box()["y"] + page.locator("#chat").bounding_box()["height"]
    finally:
        context.close()


# -- 4. streaming can be controlled -------------------------------------------------------------------------
SLOW = Reply(text=ANSWER, chunk_delay=0.3)  # about 12 s of streaming


def test_stop_keeps_the_typing_blocks_a_second_question_and_stops_the_answer(app_url, fake_llm, page):
    open_app(page, app_url)
    fake_llm.enqueue(SLOW)
    ask(page, REEFS)
    page.wait_for_selector("#chat .meta:has-text('writing')", timeout=30_000)
    assert page.locator("#ask").is_disabled() and page.locator("#stop").is_visible()
    assert page.input_value("#question textarea") == ""  # cleared once, at submit
    page.type("#question textarea", "And how deep were they")
    page.wait_for_timeout(1000)  # streamed updates arrive meanwhile
    assert page.input_value("#question textarea") == "And how deep were they"
    page.press("#question textarea", "Enter")  # a second question while one streams: refused, visibly
    page.wait_for_selector("text=Still answering the last question", timeout=10_000)
    assert page.input_value("#question textarea") == "And how deep were they"
    page.click("#stop")
    page.wait_for_selector("#turn-msg-1 .meta:has-text('stopped')", timeout=10_000)
    stopped = page.inner_text("#turn-msg-1 .a")
    page.wait_for_timeout(1500)
    assert page.inner_text("#turn-msg-1 .a") == stopped  # nothing more arrives
    assert "declined by 30%" not in stopped and page.locator("#turn-msg-2").count() == 0
    assert page.locator("#ask").is_enabled() and page.locator("#stop").is_hidden()
    fake_llm.enqueue("Arrays of 16 hydrophones were deployed [1].")  # asking works again
    ask(page, REEFS)
    answered(page, 2)


def test_new_conversation_cancels_a_streaming_answer(app_url, fake_llm, page):
    open_app(page, app_url)
    fake_llm.enqueue(SLOW)
    ask(page, REEFS)
    page.wait_for_selector("#chat .meta:has-text('writing')", timeout=30_000)
    page.click("#clear")
    page.wait_for_selector("#chat .empty", timeout=10_000)
    page.wait_for_timeout(1500)
    assert page.locator("#chat .rag-turn").count() == 0 and page.locator("#ask").is_enabled()


def test_a_failed_answer_keeps_its_text_and_can_be_retried(app_url, fake_llm, page):
    open_app(page, app_url)
    fake_llm.enqueue(Reply(text=ANSWER, chunk_delay=0.02, break_after=12))  # the connection drops mid-answer
    ask(page, REEFS)
    page.wait_for_selector("#turn-msg-1 .error", timeout=60_000)
    assert "The study deployed" in page.inner_text("#turn-msg-1 .a")  # the partial text stays
    assert page.locator("#ask").is_enabled()
    fake_llm.enqueue(ANSWER)
    page.click("#retry")
    answered(page, 1)
    assert page.locator("#chat .rag-turn").count() == 1 and page.locator("#turn-msg-1 .error").count() == 0
    assert page.locator("#retry").is_hidden()


# -- 7. highlighted sentences are readable in dark mode ------------------------------------------------------
CONTRAST = """(sel) => {  // WCAG contrast ratio of an element's text colour on its background colour
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map((v) => {
      v = v / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const cs = getComputedStyle(document.querySelector(sel));
  const [a, b] = [lum(cs.color), lum(cs.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_highlighted_sentences_have_enough_contrast(app_url, fake_llm, page, theme):
    page.goto(f"{app_url}?__theme={theme}")
    page.wait_for_selector("#question textarea", timeout=60_000)
    ask(page, REEFS)
    answered(page, 1)
    page.click("#turn-msg-1 .cite >> nth=0")
    page.locator("#sources .source.selected mark").first.wait_for(state="visible", timeout=10_000)
    assert page.evaluate(CONTRAST, "#sources .source.selected mark") >= 4.5


# -- 5 and 6. an empty collection, then one filled from elsewhere --------------------------------------------
@pytest.fixture(scope="module")
def empty_app(tmp_path_factory):
    settings = Settings(index_dir=tmp_path_factory.mktemp("ui-empty") / "idx", sample_on_empty=False,
                        collection="my-papers")
    engine = Engine(settings, notify=lambda m: None)
    app, url = serve(engine)
    yield engine, url
    app.close()


def test_an_empty_collection_and_a_bad_upload_speak_ui_words(empty_app, page, tmp_path):
    engine, url = empty_app
    open_app(page, url)
    page.fill("#question textarea", "How can the KV cache be compressed?")
    page.click("#ask")
    page.wait_for_selector("#turn-msg-1 .error", timeout=60_000)
    said = page.inner_text("#turn-msg-1")
    assert "rag ingest" not in said and "Load the sample corpus" in said and "Add to collection" in said
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "only a title"}\nnot json\n')
    page.set_input_files("#upload input[type=file]", str(bad))
    page.click("#add-files")
    page.wait_for_selector("#ingest-result:has-text('nothing was added')", timeout=60_000)
    said = page.inner_text("#ingest-result")
    assert "bad.jsonl" in said and "line 1: no abstract" in said
    assert str(tmp_path) not in said and "/gradio/" not in said and "rag " not in said and "command" not in said


def test_each_page_load_shows_the_collection_as_it_is_now(empty_app, page):
    engine, url = empty_app
    open_app(page, url)
    assert "my-papers" in page.inner_text("#header") and "empty" in page.inner_text("#header")
    assert page.locator("#load-sample").is_visible()
    engine.ingest([TINY])  # as another tab, or `rag ingest` in a terminal, would
    open_app(page, url)  # a new tab
    page.wait_for_selector("#header:has-text('8 papers')", timeout=30_000)
    assert "my-papers" in page.inner_text("#header")
    assert "8 papers" in page.inner_text("#stats") and page.locator("#load-sample").is_hidden()
    open_panel(page, "#settings-panel")
    page.locator("#year-from input, #year-from textarea").wait_for(state="visible", timeout=10_000)


# -- 8. the export: every turn, failed ones too, with verdicts and settings ------------------------------------
def test_export_has_every_turn_its_verdicts_and_the_settings(app_url, fake_llm, page):
    open_app(page, app_url)
    fake_llm.enqueue(ANSWER)
    ask(page, REEFS)
    answered(page, 1)
    fake_llm.enqueue("What do zero-knowledge proofs of model inference show?",  # the follow-up's rewrite
                     Reply(text=ANSWER, break_after=5))  # then the second answer fails
    ask(page, "What do zero-knowledge proofs of inference show?")
    page.wait_for_selector("#turn-msg-2 .error", timeout=60_000)
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text()
    assert "## 2. What do zero-knowledge proofs of inference show?" in exported  # the failed turn is there
    assert "*Failed: The LLM server at" in exported
    assert "- Collection: reefs-and-more" in exported and "- Answerer: openai:fake-model" in exported
    assert "- Sources per answer (k): 5" in exported and "- Exported: 20" in exported
    assert "- ✓ The study deployed arrays of 16 hydrophones on three reefs for 11 months." in exported

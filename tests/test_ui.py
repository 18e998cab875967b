"""The chat UI in a real browser (Debian's Chromium driven by Playwright) and through gradio_client.

Two apps on free ports: one over the tiny corpus plus a paper whose abstract carries
markup, answering with a scripted OpenAI-compatible server that streams slowly (so the
streaming is visible); one over an empty index, for the first run and uploads.
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

XSS_PAPER = {
    "id": "xss-1",
    "title": "Sandboxed Markup Rendering for Untrusted Abstracts",
    "abstract": "We render untrusted text safely <script>window.__xss = 1</script> and images "
    "<img src=x onerror=\"window.__xss = 2\"> must stay inert. Our sanitizer blocks 100% of 5000 payloads.",
    "year": 2025,
}
ANSWER = "The study deployed arrays of 16 hydrophones on three reefs for 11 months [1]. Acoustic richness declined by 30% [1]."


def start(engine: Engine):
    from ui.app import launch

    port = free_port()
    app = launch(engine, port=port, block=False)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI(default=ANSWER) as server:
        yield server


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, fake_llm):
    d = tmp_path_factory.mktemp("ui-index")
    extra = d / "xss.jsonl"
    extra.write_text(json.dumps(XSS_PAPER) + "\n")
    settings = Settings(index_dir=d / "idx", sample_on_empty=False, openai_base_url=fake_llm.base_url,
                        model="fake-model", max_retries=0)
    engine = Engine(settings, notify=lambda m: None)
    engine.ingest([TINY, extra])
    app, url = start(engine)
    yield url
    app.close()


@pytest.fixture(scope="module")
def empty_app_url(tmp_path_factory):
    settings = Settings(index_dir=tmp_path_factory.mktemp("ui-empty") / "idx", sample_on_empty=False)
    app, url = start(Engine(settings, notify=lambda m: None))
    yield url
    app.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def test_api_ask_returns_text_and_citations(app_url, fake_llm):
    from gradio_client import Client

    fake_llm.enqueue("Arrays of 16 hydrophones were deployed [1] on three reefs [1][7].")
    result = Client(app_url, verbose=False).predict("How many hydrophones were deployed on the reefs?", 5, api_name="/ask")
    assert result["answer"] == "Arrays of 16 hydrophones were deployed [1] on three reefs [1]."
    assert result["citations"] == [{"number": 1, "paper_id": "1903.00002",
                                    "title": "Coral Reef Acoustic Monitoring with Hydrophone Arrays"}]
    assert result["backend"] == "openai:fake-model" and result["abstained"] is False
    assert result["sources"][0]["paper_id"] == "1903.00002"


def test_streamed_answer_links_to_its_highlighted_source(app_url, fake_llm, page, tmp_path):
    fake_llm.enqueue(Reply(text=ANSWER, chunk_delay=0.05))
    open_app(page, app_url)
    ask(page, "How many hydrophones were deployed on the reefs?")
    # streaming: partial text is on screen while the answer is still being written
    page.wait_for_selector("#chat .meta:has-text('writing')", timeout=30_000)
    partial = page.inner_text("#chat .a")
    page.wait_for_selector("#chat .badge", timeout=60_000)
    final = page.inner_text("#chat .a")
    assert len(partial) < len(final) and "[1]" in final
    assert page.locator("#chat .badge.ok").count() == 2  # both sentences supported by source [1]
    page.click("#chat .cite >> nth=0")
    card = page.locator("#sources .source.selected")
    card.wait_for(state="visible", timeout=10_000)
    assert card.get_attribute("id") == "src-1-1"
    assert "Coral Reef Acoustic Monitoring" in card.inner_text()
    marked = card.locator("mark").all_inner_texts()
    assert any("16 hydrophones" in m for m in marked)
    shot = tmp_path / "ui.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # (the README's pictures come from test_ui_ergonomics.py)


def test_markup_in_an_abstract_never_runs(app_url, fake_llm, page):
    fake_llm.enqueue("The sanitizer blocks 100% of 5000 payloads [1].")
    open_app(page, app_url)
    ask(page, "How safely can untrusted abstract markup be rendered in a sandbox?")
    page.wait_for_selector("#chat .badge", timeout=60_000)
    page.click("#chat .cite >> nth=0")
    card = page.locator("#sources .source.selected")
    card.wait_for(state="visible", timeout=10_000)
    text = card.inner_text()
    assert "<script>window.__xss = 1</script>" in text and "onerror" in text  # shown as text
    assert page.evaluate("window.__xss") is None  # and never executed
    assert page.locator("#sources script, #sources img, #chat img").count() == 0


def test_follow_up_keeps_each_answers_own_citations(app_url, fake_llm, page):
    fake_llm.enqueue("Zero-knowledge proofs show that a committed network computed the output [1].")
    fake_llm.enqueue("What is the size of the zero-knowledge proof of a ResNet-18 inference?")  # the rewrite
    fake_llm.enqueue("The proof is 18 kilobytes [1] and verifies in 9 milliseconds [1].")
    open_app(page, app_url)
    ask(page, "Can clients verify which model produced a prediction?")
    page.wait_for_selector("#turn-msg-1 .badge", timeout=60_000)
    ask(page, "How big is the proof?")
    page.wait_for_selector("#turn-msg-2 .badge", timeout=60_000)
    assert page.locator("#turn-msg-1 .cite").first.get_attribute("data-turn") == "1"
    assert page.locator("#turn-msg-2 .cite").first.get_attribute("data-turn") == "2"
    assert "Searched for: What is the size of the zero-knowledge proof" in page.inner_text("#turn-msg-2")
    page.click("#turn-msg-1 .cite >> nth=0")  # the first answer's sources come back
    page.locator("#src-1-1").wait_for(state="visible", timeout=10_000)
    assert page.locator("#turn-2").is_hidden()
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text()
    assert "## 1. Can clients verify which model produced a prediction?" in exported
    assert "## 2. How big is the proof?" in exported
    assert "- [1] Zero-Knowledge Proofs for Verifiable Model Inference (2403.00008)" in exported


def test_empty_index_offers_the_sample_and_takes_uploads(empty_app_url, page, tmp_path):
    open_app(page, empty_app_url)
    assert page.locator("#load-sample").is_visible()
    assert "The collection is empty" in page.inner_text("#stats")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "only a title"}\nnot json\n')
    page.set_input_files("#upload input[type=file]", str(bad))
    page.click("#add-files")
    page.wait_for_selector("#ingest-result:has-text('nothing was added')", timeout=60_000)
    assert "line 1: no abstract" in page.inner_text("#ingest-result")
    assert "The collection is empty" in page.inner_text("#stats")
    page.click("#load-sample")
    # (wait for the summary, not the count: the progress overlay's "64/247 papers" would match that early)
    page.wait_for_selector("#ingest-result:has-text('247 new')", timeout=300_000)
    page.wait_for_selector("#stats:has-text('247 papers')", timeout=30_000)
    assert page.locator("#load-sample").is_hidden()
    page.set_input_files("#upload input[type=file]", str(TINY))
    page.click("#add-files")
    page.wait_for_selector("#ingest-result:has-text('8 new')", timeout=120_000)
    page.wait_for_selector("#stats:has-text('255 papers')", timeout=30_000)


def test_the_reason_for_a_question_mark_opens_from_the_keyboard(app_url, fake_llm, page):
    fake_llm.enqueue("Arrays of 16 hydrophones were deployed [1]. Nobody has counted the fish.")
    open_app(page, app_url)
    ask(page, "How many hydrophones were deployed on the reefs?")
    page.wait_for_selector("#chat button.badge.na", timeout=60_000)
    assert "supported by the cited source" in page.inner_text("#chat .legend")
    reason = page.locator("#chat .why").first
    assert reason.is_hidden()
    page.locator("#chat button.badge.na").first.focus()
    page.keyboard.press("Enter")  # a real button: Enter (or a tap) shows why, right after the sentence
    reason.wait_for(state="visible", timeout=5_000)
    assert reason.inner_text() == "(cites no source)"
    assert page.locator("#chat button.badge.na").first.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Tab")  # and the focus moves on through the page as usual

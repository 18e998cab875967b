"""The chat UI off loopback: a login is required, visitors spend only what the server allows, uploads are checked.

Handlers are called directly; one app is served on 0.0.0.0 with a login and driven over HTTP
and gradio_client. No browser.
"""

import os
import shutil
from pathlib import Path

import httpx
import pytest
from conftest import TINY, free_port
from fake_openai import FakeOpenAI

from rag.cli import main
from rag.engine import Engine
from rag.settings import Settings
from ui.access import is_loopback

USER, PASSWORD = "alice", "correct horse battery staple"


@pytest.fixture
def launched(monkeypatch):
    """Replaces the server start, recording what `rag ui` would have served with."""
    calls = []
    monkeypatch.setattr("ui.app.launch", lambda engine, **kw: calls.append(kw))
    return calls


# -- who may connect ------------------------------------------------------------------------------
@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("myhost.example", False),
])
def test_loopback_hosts(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize("argv", [["--host", "0.0.0.0"], ["--host", "192.168.1.20"], ["--share"]])
def test_ui_off_loopback_refuses_to_start_without_a_login(argv, launched, capsys):
    assert main(["ui", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "RAG_UI_USERNAME and RAG_UI_PASSWORD" in err and "--auth-file" in err and "--no-auth" in err
    assert launched == []


def test_ui_on_loopback_starts_open(launched):
    assert main(["ui"]) == 0
    assert launched[0]["auth"] is None and launched[0]["host"] == "127.0.0.1"


def test_ui_login_from_the_environment(monkeypatch, launched):
    monkeypatch.setenv("RAG_UI_USERNAME", USER)
    monkeypatch.setenv("RAG_UI_PASSWORD", PASSWORD)
    assert main(["ui", "--host", "0.0.0.0"]) == 0
    assert launched[0]["auth"] == [(USER, PASSWORD)]


def test_ui_half_a_login_is_an_error(monkeypatch, launched, capsys):
    monkeypatch.setenv("RAG_UI_USERNAME", USER)
    assert main(["ui", "--host", "0.0.0.0"]) == 2
    assert "Set both RAG_UI_USERNAME and RAG_UI_PASSWORD" in capsys.readouterr().err
    assert launched == []


def test_ui_login_from_an_auth_file(tmp_path, launched, capsys):
    users = tmp_path / "users"
    users.write_text(f"# who may log in\n{USER}:{PASSWORD}\nbob:pa:ss\n\n")
    users.chmod(0o644)
    assert main(["ui", "--host", "0.0.0.0", "--auth-file", str(users)]) == 2
    assert f"chmod 600 {users}" in capsys.readouterr().err  # readable by everyone: refused
    users.chmod(0o600)
    assert main(["ui", "--host", "0.0.0.0", "--auth-file", str(users)]) == 0
    assert launched[0]["auth"] == [(USER, PASSWORD), ("bob", "pa:ss")]
    users.write_text("no colon here\n")
    assert main(["ui", "--host", "0.0.0.0", "--auth-file", str(users)]) == 2
    err = capsys.readouterr().err
    assert "line 1: expected user:password" in err and "no colon here" not in err


def test_ui_no_auth_serves_open_with_a_warning(launched, capsys):
    assert main(["ui", "--host", "0.0.0.0", "--no-auth"]) == 0
    assert launched[0]["auth"] is None
    err = capsys.readouterr().err
    assert "warning: --no-auth: anyone who can reach http://0.0.0.0:7860" in err


def test_ui_password_stays_out_of_config_and_hash():
    s = Settings.load(environ={"RAG_UI_USERNAME": USER, "RAG_UI_PASSWORD": PASSWORD, "RAG_UI_MODELS": "m1, m2"})
    assert s.ui_models == ["m1", "m2"]
    assert PASSWORD not in str(s.public_dict()) and s.public_dict()["ui_password"] == "set"
    assert s.settings_hash() == Settings().settings_hash()


# -- what a visitor may spend -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI(default="Arrays of 16 hydrophones were deployed [1].") as server:
        yield server


@pytest.fixture(scope="module")
def tiny_llm_engine(tmp_path_factory, fake_llm, tiny_index):
    settings = Settings(index_dir=tmp_path_factory.mktemp("ui-sec") / "idx", sample_on_empty=False,
                        openai_base_url=fake_llm.base_url, model="fake-model", ui_models=["fake-large"],
                        max_retries=0)
    shutil.copytree(tiny_index, settings.index_dir)
    return Engine(settings, notify=lambda m: None)


@pytest.fixture
def chat(tiny_llm_engine):
    from ui.app import ChatApp

    return ChatApp(tiny_llm_engine)


def respond(chat, model="fake-model", k=5, question="How many hydrophones were deployed on the reefs?"):
    return list(chat.respond(question, [], k, "openai", model, None, None, None))


def test_a_model_not_configured_is_refused_before_any_request(chat, fake_llm):
    import gradio as gr

    fake_llm.requests.clear()
    with pytest.raises(gr.Error, match="'o1-pro-attacker-chosen' is not offered here; choose one of fake-model, fake-large"):
        respond(chat, model="o1-pro-attacker-chosen")
    assert fake_llm.requests == []


def test_the_configured_models_answer(chat, fake_llm):
    fake_llm.requests.clear()
    *_, last = respond(chat, model="fake-large")
    assert last[2][-1]["answer"]["backend"] == "openai:fake-large"
    assert {r["body"]["model"] for r in fake_llm.requests} == {"fake-large"}


@pytest.mark.parametrize("k", [100000, 21, 0, -1, 2.5])
def test_k_is_capped_in_chat_and_api(chat, fake_llm, k):
    import gradio as gr

    fake_llm.requests.clear()
    with pytest.raises(gr.Error, match="from 1 to 20"):
        respond(chat, k=k)
    with pytest.raises(gr.Error, match="from 1 to 20"):
        chat.api_ask("How many hydrophones were deployed on the reefs?", k)
    assert fake_llm.requests == []


def test_an_upload_that_is_not_text_is_refused(chat, tmp_path):
    png = tmp_path / "holiday.jsonl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200))
    blob = tmp_path / "data.csv"
    blob.write_bytes(b"title,abstract\nA,B\x00\x00")
    before = chat.engine.stats().papers
    message, *_ = chat.ingest([str(png), str(blob)])
    assert "holiday.jsonl: this is not a text file (it looks like a PNG image)" in message
    assert "data.csv: this is not a text file (it holds NUL bytes)" in message and "Nothing was added" in message
    assert chat.engine.stats().papers == before


def test_exports_are_removed_with_the_app(tiny_llm_engine):
    import gc

    from ui.app import ChatApp

    chat = ChatApp(tiny_llm_engine)
    export_dir = chat.export_dir
    chat._view([{"question": "q", "answer": {"text": "a", "sources": [], "citations": []}}], export=True)
    assert list(export_dir.glob("conversation-*.md"))
    del chat
    gc.collect()
    assert not export_dir.exists()


# -- served on 0.0.0.0 with a login -------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_index):
    from ui.app import launch

    settings = Settings(index_dir=tmp_path_factory.mktemp("ui-served") / "idx", sample_on_empty=False,
                        ui_max_upload_mb=1)
    shutil.copytree(tiny_index, settings.index_dir)
    engine = Engine(settings, notify=lambda m: None)
    port = free_port()
    app = launch(engine, host="0.0.0.0", port=port, block=False, auth=[(USER, PASSWORD)])
    yield f"http://127.0.0.1:{port}/", app
    app.close()


def login(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    r = client.post("login", data={"username": USER, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


def test_served_app_asks_for_a_login(served):
    from gradio_client import Client

    url, app = served
    assert app.max_file_size == 1024 * 1024 and app.delete_cache == (3600, 3600)
    with httpx.Client(base_url=url, timeout=30) as anon:
        assert anon.post("login", data={"username": USER, "password": "wrong"}).status_code == 400
        assert anon.post("gradio_api/upload", files={"files": ("a.jsonl", b"{}")}).status_code == 401
        assert anon.post("gradio_api/call/ask", json={"data": ["q", 5]}).status_code == 401
    with pytest.raises(Exception):
        Client(url, verbose=False).predict("How many hydrophones were deployed on the reefs?", 5, api_name="/ask")
    result = Client(url, auth=(USER, PASSWORD), verbose=False).predict(
        "How many hydrophones were deployed on the reefs?", 5, api_name="/ask")
    assert result["sources"][0]["paper_id"] == "1903.00002"


def test_served_app_refuses_a_large_k_and_a_large_upload(served):
    from gradio_client import Client

    url, _ = served
    with pytest.raises(Exception, match="from 1 to 20"):
        Client(url, auth=(USER, PASSWORD), verbose=False).predict("How many hydrophones?", 100000, api_name="/ask")
    client = login(url)
    try:
        small = client.post("gradio_api/upload", files={"files": ("ok.jsonl", TINY.read_bytes())})
        assert small.status_code == 200 and Path(small.json()[0]).name == "ok.jsonl"
        big = client.post("gradio_api/upload", files={"files": ("big.jsonl", b"x" * (2 * 1024 * 1024))})
        assert big.status_code == 413, big.text
    finally:
        client.close()


def test_an_answer_shows_nothing_after_new_conversation_even_before_gradio_cancels_it(chat, fake_llm):
    """Gradio cancels a running answer asynchronously: an update it yields after New conversation must not
    bring the old answer back (the race seen in the browser test of issue 10's defect 4)."""

    class Request:
        session_hash = "tab-1"

    updates = chat.respond("How many hydrophones were deployed on the reefs?", [], 5, "openai", "fake-model",
                           None, None, None, Request())
    next(updates)  # the question is shown, the answer is on its way
    chat.clear([], Request())
    assert list(updates) == []
    other = chat.respond("How many hydrophones were deployed on the reefs?", [], 5, "openai", "fake-model",
                         None, None, None, Request())
    assert list(other), "a new question after New conversation is answered"


def test_the_update_that_shows_an_answer_finished_also_keeps_the_conversation(chat):
    """The browser's copy (for a reload) is written with the finished answer, not by a step after it: a reload
    right after the answer showed would otherwise bring back the conversation without it."""
    import gradio as gr
    from ui.app import ChatApp

    updates = respond(chat)
    *streaming, last = updates
    assert all(isinstance(u[-1], type(gr.skip())) for u in streaming)  # no copy of a half-written answer
    kept = last[-1]
    assert kept == ChatApp.save(last[2]) and len(kept) == 1 and kept[0]["answer"]["text"]

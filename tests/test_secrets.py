"""Nothing exposed: no key or URL password in any output, and nothing that can drive the terminal.

The commands run in-process (``rag.cli.main``) with a sentinel key and a base URL holding a
sentinel password; every byte they print or write is searched for the sentinel.
"""

import json
import re

import pytest
from conftest import DATA, TINY, free_port
from fake_openai import FakeOpenAI, Reply

from rag.cli import main
from rag.engine import Engine
from rag.redact import looks_like_secret, redact_text, redact_url
from rag.settings import Settings
from rag.terminal import json_for_terminal, safe_for_terminal

SENTINEL = "SENTINEL"
KEY = "sk-SENTINEL-" + "k3y" * 10
PASSWORD = "SENTINELpw42"
QUESTION = "How many hydrophones were deployed on the reefs?"
EVIL_TITLE = "Reef \x1b[2J\x1b]0;pwned\x07Sounds\x9b31m at Night"
#: What must never reach a terminal: ESC, BEL, CSI (8-bit), other C0/C1 controls, bidi overrides.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("secrets")
    evil = root / "evil.jsonl"
    evil.write_text(json.dumps({
        "id": "2401.00666", "title": EVIL_TITLE, "year": 2024,
        "abstract": "Hydrophones deployed on reefs at night record \x1b[31mloud\x1b[0m fish choruses.",
    }) + "\n", encoding="utf-8")
    Engine(Settings(index_dir=root / "index", sample_on_empty=False)).ingest([TINY, evil])
    return root / "index"


@pytest.fixture
def fake():
    with FakeOpenAI(default="They deployed arrays of 16 hydrophones [1].") as server:
        yield server


@pytest.fixture
def secret_env(monkeypatch, index_dir, fake):
    """A key and a URL password set the way users set them; returns the base URL."""
    port = fake.base_url.split(":")[2].split("/")[0]
    url = f"http://reader:{PASSWORD}@127.0.0.1:{port}/v1"
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_SAMPLE_ON_EMPTY", "false")
    monkeypatch.setenv("RAG_MAX_RETRIES", "0")
    monkeypatch.setenv("RAG_MODEL", "test-model")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    return url


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert SENTINEL not in out and SENTINEL not in err, (out, err)
    assert not UNSAFE.search(out) and not UNSAFE.search(err), (out, err)
    return code, out, err


def test_no_command_prints_the_key_or_the_url_password(capsys, secret_env, fake, tmp_path):
    code, out, _ = run(capsys, "config")
    shown = json.loads(out)
    assert code == 0 and shown["openai_api_key"] == "set"
    assert shown["openai_base_url"] == secret_env.replace(PASSWORD, "***")

    code, out, _ = run(capsys, "ask", QUESTION)
    assert code == 0 and "16 hydrophones [1]" in out
    code, out, _ = run(capsys, "ask", "--json", QUESTION)
    assert code == 0 and json.loads(out)["text"] == "They deployed arrays of 16 hydrophones [1]."

    fake.enqueue(Reply(status=401, message=f"Incorrect API key provided: {KEY}"))
    code, _, err = run(capsys, "ask", QUESTION)
    assert code == 2 and "rejected the API key" in err and "reader:***@127.0.0.1" in err
    fake.enqueue(Reply(status=500, message=f"upstream {secret_env} refused Bearer {KEY}"))
    code, _, err = run(capsys, "ask", QUESTION)
    assert code == 3 and "HTTP 500" in err
    fake.enqueue(Reply(raw="<html>proxy login</html>"))
    code, _, err = run(capsys, "ask", QUESTION)
    assert code == 3 and "not an OpenAI chat completion" in err
    assert len(fake.requests) == 5  # every command above really reached the server

    fake.enqueue(Reply(raw="not json"))  # the first eval question fails; its error is written to files
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "eval", "--questions", str(DATA / "tiny_questions.jsonl"), "--limit", "2",
                         "--judge", "rules", "--out", str(out_dir))
    assert code == 0 and "1 of 2 question(s) failed" in err
    written = sorted(p for p in out_dir.rglob("*") if p.is_file())
    assert {p.name for p in written} >= {"results.jsonl", "metrics.json", "report.md", "report.html"}
    for path in written:
        data = path.read_bytes()
        assert SENTINEL.encode() not in data, path
        assert PASSWORD.encode() not in data and KEY.encode() not in data, path
    assert "reader:***@127.0.0.1" in (out_dir / "results.jsonl").read_text()


def test_an_unreachable_server_with_a_password_in_its_url(capsys, monkeypatch, secret_env):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://reader:{PASSWORD}@127.0.0.1:{free_port()}/v1?api_key={KEY}")
    code, _, err = run(capsys, "ask", QUESTION)
    assert code == 3 and "Cannot reach the LLM server at http://reader:***@127.0.0.1" in err and "api_key=***" in err


@pytest.mark.parametrize(
    "env, config",
    [
        ({"RAG_TOP_K": KEY}, None),  # a key pasted into the wrong variable
        ({"RAG_TEMPERATURE": "SENTINELtoken0123456789abcdefghijkl"}, None),  # a key without a known prefix
        ({}, 'openai_api_key = ["SENTINEL-not-key-shaped"]\n'),  # a secret field: never echoed, whatever it is
    ],
)
def test_invalid_settings_never_echo_a_secret(capsys, monkeypatch, tmp_path, env, config):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config:
        (tmp_path / "c.toml").write_text(config)
        monkeypatch.setenv("RAG_CONFIG", str(tmp_path / "c.toml"))
    code, out, err = run(capsys, "config")
    assert code == 2 and "Invalid settings" in err and ("hidden" in err or "not shown" in err)


def test_a_chroma_url_password_is_masked_in_config_and_errors(capsys, monkeypatch):
    monkeypatch.setenv("RAG_CHROMA_URL", f"http://reader:{PASSWORD}@127.0.0.1:{free_port()}")
    code, out, _ = run(capsys, "config")
    assert code == 0 and json.loads(out)["chroma_url"].startswith("http://reader:***@127.0.0.1:")
    code, _, err = run(capsys, "stats")
    assert code != 0 and "reader:***@127.0.0.1" in err


def test_answers_titles_and_errors_cannot_drive_the_terminal(capsys, monkeypatch, index_dir, fake):
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_SAMPLE_ON_EMPTY", "false")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("RAG_MAX_RETRIES", "0")
    question = "Which hydrophones record fish choruses at night on reefs?"
    fake.default = Reply(text="\x1b[31mRed\x1b[0m fish \x1b]52;c;ZXZpbA==\x07chorus\x9b2J at night \u202eon reefs [1][2][3].")
    code, out, err = run(capsys, "ask", "-k", "3", question)
    assert code == 0 and "Red fish chorus at night on reefs" in out
    assert "References:" in out and "Reef Sounds at Night" in out  # the evil title, defused
    code, out, _ = run(capsys, "ask", "--json", "-k", "3", question)
    data = json.loads(out)  # still valid JSON, and the same data
    assert data["text"].startswith("\x1b[31mRed") and "\x9b2J" in data["text"]
    assert EVIL_TITLE in [s["title"] for s in data["sources"]]  # stored as written; only printing defuses it
    code, out, _ = run(capsys, "retrieve", "-k", "3", question)
    assert code == 0 and "Reef Sounds at Night" in out
    fake.enqueue(Reply(status=500, message="\x1b[2J\x1b[1;1Hall is well"))
    code, _, err = run(capsys, "ask", question)
    assert code == 3 and "all is well" in err


def test_safe_for_terminal():
    assert safe_for_terminal("a\x1b[1;31mb\x1b[0m\tc\nd\r\ne") == "ab\tc\nd\ne"
    assert safe_for_terminal("t\x1b]0;title\x07x\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\") == "txlink"
    assert safe_for_terminal("\x9b31mred\x90dcs\x9c \x07bell\x00\x7f \u202eevil") == "red bell evil"
    assert safe_for_terminal("naïve — 日本語 ‹ok› [1]") == "naïve — 日本語 ‹ok› [1]"
    assert json.loads(json_for_terminal(json.dumps({"t": "a\x9bb\u202e"}, ensure_ascii=False))) == {"t": "a\x9bb\u202e"}


def test_redaction_helpers():
    assert redact_url("http://user:pw@host:8/v1") == "http://user:***@host:8/v1"
    assert redact_url("https://tok3n@host/v1") == "https://***@host/v1"
    assert redact_url("http://h/v1?api_key=abc&x=1") == "http://h/v1?api_key=***&x=1"
    assert redact_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    assert redact_text(f"see http://u:{PASSWORD}@h/v1 with {KEY}") == "see http://u:***@h/v1 with ***"
    assert looks_like_secret(KEY) and looks_like_secret("a" * 20 + "1" * 20)
    assert not looks_like_secret("abc") and not looks_like_secret("12") and not looks_like_secret("/tmp/index")


def test_the_engine_cache_is_keyed_by_a_digest_never_the_secret(tmp_path):
    import rag

    a = Settings(index_dir=tmp_path / "i", openai_api_key=KEY, ui_password=PASSWORD)
    try:
        rag.get_engine(a)
        assert len(rag._engines) == 1
        assert not any(SENTINEL in k for k in rag._engines)
    finally:
        rag._engines.clear()
    key = rag._engine_key(a)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == rag._engine_key(Settings(index_dir=tmp_path / "i", openai_api_key=KEY, ui_password=PASSWORD))
    assert key != rag._engine_key(a.replace(openai_api_key=KEY + "2"))  # another key is another engine


def test_file_names_that_start_like_a_token_prefix_are_not_masked():
    """`hf_trending_abstracts.txt` is the sample's name, not a Hugging Face token."""
    assert redact_text("Ingested hf_trending_abstracts.txt: 247 new") == "Ingested hf_trending_abstracts.txt: 247 new"
    token = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
    assert token not in redact_text(f"export HF_TOKEN={token}")

"""The OpenAI-compatible answerer over real HTTP, against a scripted server on loopback."""


import pytest
from conftest import free_port
from fake_openai import FakeOpenAI, Reply

from rag.engine import NO_ANSWER, Engine
from rag.errors import ConfigError, NeedsKeyError, ServiceError
from rag.query import Query
from rag.settings import Settings

QUESTION = "How many hydrophones were deployed on the reefs?"


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def engine_for(index_dir, base_url, **kw) -> Engine:
    opts = dict(backend="openai", openai_base_url=base_url, model="test-model", max_retries=0, timeout=5.0)
    opts.update(kw)
    return Engine(Settings(index_dir=index_dir, sample_on_empty=False, **opts), notify=lambda m: None)


def test_answer_over_http_with_citations_and_the_sources_in_the_prompt(tiny_index, fake):
    fake.enqueue("They deployed arrays of 16 hydrophones [1]. Acoustic richness fell by 30% [1, 7].")
    answer = engine_for(tiny_index, fake.base_url).ask(QUESTION)
    assert answer.backend == "openai:test-model" and not answer.abstained
    assert answer.text == "They deployed arrays of 16 hydrophones [1]. Acoustic richness fell by 30% [1]."
    assert [(c.number, c.paper_id) for c in answer.citations] == [(1, "1903.00002")]
    assert answer.dropped_citations == [7]
    assert answer.usage == {"prompt_tokens": 11, "completion_tokens": 7}
    (req,) = fake.requests
    body = req["body"]
    assert req["path"] == "/v1/chat/completions" and body["model"] == "test-model" and not body.get("stream")
    assert body["messages"][0]["role"] == "system" and "[1]" in body["messages"][0]["content"]
    user = body["messages"][-1]["content"]
    assert '<source id="1" title="Coral Reef Acoustic Monitoring with Hydrophone Arrays" year="2019">' in user
    assert QUESTION in user
    assert req["auth"] == "Bearer not-needed"  # a local server without a key


def test_streamed_answer_arrives_in_pieces_and_matches_the_final_answer(tiny_index, fake):
    fake.enqueue("The study used 16 hydrophones [1] over 11 months [1][9].")
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 5
    assert "".join(pieces) == stream.answer.text == "The study used 16 hydrophones [1] over 11 months [1]."
    assert "[9]" not in "".join(pieces)
    assert fake.requests[0]["body"]["stream"] is True
    assert stream.answer.usage["completion_tokens"] > 0


def test_sentinel_reply_becomes_an_abstention_and_is_never_shown(tiny_index, fake):
    fake.enqueue("INSUFFICIENT_EVIDENCE")
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    shown = "".join(stream)
    assert stream.answer.abstained and stream.answer.citations == []
    assert "INSUFFICIENT" not in shown and NO_ANSWER in shown


def test_a_sentinel_after_citation_markers_is_an_abstention_citing_nothing(tiny_index, fake):
    fake.enqueue("[1] [2] INSUFFICIENT_EVIDENCE")  # what Qwen2.5-Coder-0.5B replied to every question
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    shown = "".join(stream)
    assert stream.answer.abstained and stream.answer.citations == []
    assert "INSUFFICIENT" not in shown and NO_ANSWER in shown


def test_weak_evidence_abstains_without_calling_the_llm(tiny_index, fake):
    answer = engine_for(tiny_index, fake.base_url).ask("Who won the 1998 FIFA World Cup final?")
    assert answer.abstained and fake.requests == []


def test_rate_limit_is_retried(tiny_index, fake):
    fake.enqueue(Reply(status=429), "Sixteen hydrophones [1].")
    answer = engine_for(tiny_index, fake.base_url, max_retries=2).ask(QUESTION)
    assert answer.text == "Sixteen hydrophones [1]." and len(fake.requests) == 2


def test_server_error_after_retries_is_one_clear_error(tiny_index, fake):
    fake.enqueue(Reply(status=500), Reply(status=500))
    with pytest.raises(ServiceError, match="failed with HTTP 500"):
        engine_for(tiny_index, fake.base_url, max_retries=1).ask(QUESTION)
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    "status, error, message",
    [(401, ConfigError, "rejected the API key: check OPENAI_API_KEY"), (404, ConfigError, "no model 'test-model'")],
)
def test_auth_and_model_errors_say_what_to_fix(tiny_index, fake, status, error, message):
    fake.enqueue(Reply(status=status))
    with pytest.raises(error, match=message):
        engine_for(tiny_index, fake.base_url).ask(QUESTION)


def test_timeout_is_an_error_not_a_hang(tiny_index, fake):
    fake.enqueue(Reply(text="late [1].", delay=3))
    with pytest.raises(ServiceError, match="did not answer within 0.5 s"):
        engine_for(tiny_index, fake.base_url, timeout=0.5).ask(QUESTION)


def test_broken_stream_is_an_error(tiny_index, fake):
    fake.enqueue(Reply(text="This answer will be cut off half way through [1].", break_after=4))
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    with pytest.raises(ServiceError, match="broken response"):
        list(stream)


def test_unreachable_server(tiny_index):
    port = free_port()
    with pytest.raises(ServiceError, match="Cannot reach the LLM server at http://127.0.0.1:.*--backend extractive"):
        engine_for(tiny_index, f"http://127.0.0.1:{port}/v1").ask(QUESTION)


def test_openai_backend_without_key_or_url_needs_a_key(tiny_index):
    with pytest.raises(NeedsKeyError, match="set OPENAI_API_KEY"):
        engine_for(tiny_index, None).ask(QUESTION)


def test_follow_up_is_rewritten_by_the_llm_before_retrieval(tiny_index, fake):
    fake.enqueue("What is the size of the proof for zero-knowledge verifiable inference?", "The proof is 18 kilobytes [1].")
    history = [
        {"role": "user", "content": "Can clients verify model inference?"},
        {"role": "assistant", "content": "Yes, with zero-knowledge proofs [1]."},
    ]
    answer = engine_for(tiny_index, fake.base_url).ask(Query("How big is it?", history=history))
    condense, final = fake.requests
    assert "Last question: How big is it?" in condense["body"]["messages"][0]["content"]
    assert answer.search_query.startswith("What is the size of the proof")
    assert answer.citations[0].paper_id == "2403.00008"
    sent = final["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert "How big is it?" in sent[-1]["content"]


def test_key_and_base_url_select_the_openai_backend_automatically():
    assert Settings.load(environ={"OPENAI_API_KEY": "sk-x"}).resolved_backend() == "openai"
    assert Settings.load(environ={"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}).resolved_backend() == "openai"
    assert Settings.load(environ={}).resolved_backend() == "extractive"


NOT_CHAT = r"sent a reply that is not an OpenAI chat completion \(.*\): check OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint"


@pytest.mark.parametrize(
    "reply, detail",
    [
        (Reply(raw="<html><body>Welcome to nginx!</body></html>"), "not JSON"),
        (Reply(raw="{this is not json", content_type="application/json"), "not JSON"),
        (Reply(payload={"object": "list", "data": []}), "no 'choices'"),
        (Reply(payload={"id": "x", "object": "chat.completion", "choices": []}), "'choices' list is empty"),
        (Reply(payload={"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop"}]}), "no message"),
        (Reply(payload=["not", "an", "object"]), "no 'choices'"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_a_clear_error(tiny_index, fake, reply, detail):
    fake.enqueue(reply)
    with pytest.raises(ServiceError, match=NOT_CHAT) as err:
        engine_for(tiny_index, fake.base_url).ask(QUESTION)
    assert detail in str(err.value) and fake.base_url in str(err.value)


@pytest.mark.parametrize(
    "reply, message",
    [
        (Reply(events=["{not json at all", "[DONE]"]), NOT_CHAT),
        (Reply(events=['{"id": "x", "object": "chat.completion.chunk"}', "[DONE]"]), NOT_CHAT),
        (Reply(events=["[DONE]"]), NOT_CHAT),
        (Reply(raw="<html>a login page</html>"), NOT_CHAT),
        (Reply(events=['{"error": {"message": "the model crashed"}}']), "sent an error instead of an answer .*the model crashed"),
    ],
)
def test_a_stream_that_is_not_chat_completion_chunks_is_a_clear_error(tiny_index, fake, reply, message):
    fake.enqueue(reply)
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    with pytest.raises(ServiceError, match=message):
        list(stream)


def test_a_rewrite_that_is_not_a_chat_completion_is_a_clear_error(tiny_index, fake):
    fake.enqueue(Reply(raw="Service Unavailable", content_type="text/plain"))
    history = [{"role": "user", "content": "Can clients verify model inference?"},
               {"role": "assistant", "content": "Yes [1]."}]
    with pytest.raises(ServiceError, match=NOT_CHAT):
        engine_for(tiny_index, fake.base_url).ask(Query("How big is it?", history=history))


def test_credentials_in_the_base_url_stay_out_of_error_messages(tiny_index):
    port = free_port()
    engine = engine_for(tiny_index, f"http://me:hunter2secret@127.0.0.1:{port}/v1?api_key=qwertyuiop")
    with pytest.raises(ServiceError) as err:
        engine.ask(QUESTION)
    assert "hunter2secret" not in str(err.value) and "qwertyuiop" not in str(err.value)
    assert f"http://me:***@127.0.0.1:{port}/v1?api_key=***" in str(err.value)


def test_a_streamed_answer_replays_without_asking_again(tiny_index, fake):
    fake.enqueue("The study used 16 hydrophones [1] over 11 months [1].")
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    first, second = list(stream), list(stream)
    assert first == second and len(first) > 5 and "".join(second) == stream.answer.text
    assert not stream.answer.abstained and stream.answer is stream.answer
    assert len(fake.requests) == 1


def test_a_failed_stream_fails_again_when_read_again(tiny_index, fake):
    fake.enqueue(Reply(text="This answer will be cut off half way through [1].", break_after=4))
    stream = engine_for(tiny_index, fake.base_url).stream(QUESTION)
    with pytest.raises(ServiceError, match="broken response"):
        list(stream)
    with pytest.raises(ServiceError, match="broken response"):
        stream.answer  # never a half answer, nor an abstention
    assert len(fake.requests) == 1


def test_the_llm_rewriter_and_answerer_are_separate_roles_on_one_client(tiny_index, fake):
    from rag.answerers.openai_chat import OpenAIChatAnswerer
    from rag.protocols import Answerer, QueryRewriter
    from rag.rewrite import LLMRewriter

    engine = engine_for(tiny_index, fake.base_url)
    answerer, rewriter = engine.answerer(), engine.rewriter()
    assert isinstance(answerer, OpenAIChatAnswerer) and isinstance(answerer, Answerer)
    assert isinstance(rewriter, LLMRewriter) and isinstance(rewriter, QueryRewriter)
    assert rewriter.chat is answerer.chat and not hasattr(answerer, "rewrite")
    assert rewriter.rewrite(Query("How big is it?")) == "How big is it?" and fake.requests == []  # no history: no call

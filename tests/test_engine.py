"""The engine end to end with the offline extractive answerer, on tests/data/tiny.jsonl."""

import pytest

from rag.citations import SIMPLE_MARKER
from rag.engine import NO_ANSWER, Engine
from rag.errors import InputError
from rag.query import Query


def test_extractive_answer_cites_the_right_paper(tiny_engine):
    answer = tiny_engine.ask("How many hydrophones were deployed on the reefs, and for how long?")
    assert not answer.abstained and answer.backend == "extractive"
    assert "Extractive answer" in answer.text
    assert "16 hydrophones" in answer.text and "11 months" in answer.text
    assert answer.citations[0].paper_id == "1903.00002"
    assert answer.citations[0].title == "Coral Reef Acoustic Monitoring with Hydrophone Arrays"
    # every marker in the text is a citation, and every citation is a numbered source
    markers = {int(n) for n in SIMPLE_MARKER.findall(answer.text)}
    assert markers == {c.number for c in answer.citations}
    assert markers <= {s.number for s in answer.sources}
    assert answer.timings["total_s"] > 0 and answer.settings_hash == tiny_engine.settings.settings_hash()


def test_quoted_sentences_come_from_the_cited_sources(tiny_engine):
    answer = tiny_engine.ask("What acceptance rate does the 20 million parameter draft model reach?")
    for line in answer.text.splitlines()[2:]:
        sentence, number = line[2:].rsplit(" [", 1)
        source = answer.source(int(number[0]))
        assert sentence in source.text


def test_off_topic_question_abstains_with_the_nearest_papers(tiny_engine):
    answer = tiny_engine.ask("Who won the 1998 FIFA World Cup final?")
    assert answer.abstained and answer.citations == []
    assert answer.text.startswith(NO_ANSWER)
    assert answer.sources[0].title in answer.text
    assert SIMPLE_MARKER.search(answer.text) is None


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_refused(tiny_engine, question):
    with pytest.raises(InputError, match="question is empty"):
        tiny_engine.ask(question)


def test_follow_up_without_an_llm_is_searched_with_the_previous_question(tiny_engine):
    history = [
        {"role": "user", "content": "How do zero-knowledge proofs verify model inference?"},
        {"role": "assistant", "content": "They prove a committed network computed the output [1]."},
    ]
    answer = tiny_engine.ask(Query("How big is the proof?", history=history))
    assert answer.search_query.startswith("How do zero-knowledge proofs")
    assert answer.citations[0].paper_id == "2403.00008" and "18 kilobytes" in answer.text
    standalone = tiny_engine.ask(Query("What hydration did the sourdough optimizer pick after 25 bakes?", history=history))
    assert standalone.search_query == "What hydration did the sourdough optimizer pick after 25 bakes?"


def test_history_must_be_role_and_content(tiny_engine):
    with pytest.raises(InputError, match=r"history\[0\]"):
        tiny_engine.ask(Query("And then?", history=[{"speaker": "me", "text": "hi"}]))
    tiny_engine.ask(Query("And the proof size?", history=[("user", "zero-knowledge proofs of inference")]))  # pairs are fine


def test_empty_index_without_sample_says_how_to_fill_it(tiny_settings):
    with pytest.raises(InputError, match="is empty: add abstracts with `rag ingest FILE`"):
        Engine(tiny_settings).ask("anything?")


def test_streaming_yields_the_same_text_as_the_answer(tiny_engine):
    stream = tiny_engine.stream("What mean absolute error does the glacier melt model reach?")
    text = "".join(stream)
    assert stream.answer is not None and text == stream.answer.text
    assert stream.answer.citations[0].paper_id == "2008.00005"


@pytest.mark.parametrize(
    "question, follow_up",
    [
        ("How big is it?", True),
        ("Does their method scale to larger models and longer inputs?", True),
        ("And what about energy use on mobile devices and laptops?", True),
        ("Which papers show that diffusion models can generate long videos at high resolution?", False),
        ("What methods make it possible to serve thousands of LoRA adapters on one GPU?", False),
    ],
)
def test_follow_up_heuristic(question, follow_up):
    from rag.rewrite import is_follow_up

    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize(
    "reply, abstains",
    [
        ("INSUFFICIENT_EVIDENCE", True),
        ("  **INSUFFICIENT_EVIDENCE**.", True),
        ("[1] [2] [3] [4] [5] INSUFFICIENT_EVIDENCE", True),  # a small model's habit
        ("[1] Models show insufficient evidence of harm.", False),
        ("Insufficient evidence", True),
        ("Prior work found insufficient evidence that pruning helps [1]. Our method does [2].", False),
    ],
)
def test_only_a_sentinel_reply_is_an_abstention(reply, abstains):
    from rag.answerers.base import is_abstention

    assert is_abstention(reply) is abstains


# -- answers are immutable and replayable ------------------------------------------------------------

REEF = "How many hydrophones were deployed on the reefs, and for how long?"


def test_iterating_a_stream_twice_replays_the_same_answer(tiny_engine):
    stream = tiny_engine.stream(REEF)
    first = list(stream)
    answer = stream.answer
    second = list(stream)
    assert second == first and "".join(second) == answer.text
    assert not answer.abstained and "16 hydrophones" in answer.text
    assert stream.answer is answer and not stream.answer.abstained  # the same finished value, not an abstention


def test_reading_the_answer_first_forces_the_stream(tiny_engine):
    stream = tiny_engine.stream(REEF)
    answer = stream.answer  # nothing iterated yet
    assert not answer.abstained and answer.citations[0].paper_id == "1903.00002"
    assert "".join(stream) == answer.text and stream.answer is answer


def test_a_finished_answer_cannot_be_changed():
    from dataclasses import FrozenInstanceError

    from rag.types import Answer

    answer = Answer(question="q", text="t", sources=[], citations=[], abstained=False, backend="extractive")
    with pytest.raises(FrozenInstanceError):
        answer.text = "changed"  # type: ignore[misc]


# -- evidence apart from answering -----------------------------------------------------------------


def test_evidence_can_be_answered_without_searching_again(tiny_engine, monkeypatch):
    query = Query(REEF)
    evidence = tiny_engine.evidence(query)
    assert [s.number for s in evidence.sources] == list(range(1, len(evidence.sources) + 1))
    assert evidence.search_query == REEF and evidence.retrieve_s > 0
    whole = tiny_engine.ask(query)

    def no_search(*args, **kwargs):
        raise AssertionError("answer() searched again")

    monkeypatch.setattr(tiny_engine, "_search", no_search)
    again = tiny_engine.answer(query, evidence).answer
    assert again.text == whole.text and again.citations == whole.citations
    assert again.search_query == REEF and "retrieve_s" in again.timings
    assert tiny_engine.answer(query, list(evidence.sources)).answer.text == whole.text  # plain sources do too


@pytest.mark.parametrize("question", [
    REEF,
    "Which papers use cryptographic proofs or signatures, and how fast are they?",
    "language model memory",
    "Who won the 1998 FIFA World Cup final?",
])
def test_the_first_k_of_a_deeper_search_are_a_search_for_k(small_chunks_engine, question):
    """What lets the eval retrieve once (k=10) and answer from the first top_k: same papers, numbers,
    scores, evidence and passages (small chunks, so papers have several passages to gather)."""
    engine = small_chunks_engine
    deep = engine.retrieve(Query(question, k=10))
    assert any(len(s.passages) > 1 for s in deep)
    for k in (1, 3, 5):
        assert deep[:k] == engine.retrieve(Query(question, k=k))
        assert engine.evidence(Query(question, k=10)).top(k).sources == tuple(deep[:k])


@pytest.fixture(scope="module")
def small_chunks_engine(tmp_path_factory):
    from conftest import TINY

    from rag.settings import Settings

    settings = Settings(index_dir=tmp_path_factory.mktemp("small-chunks"), sample_on_empty=False, chunk_tokens=32, chunk_overlap=0)
    with Engine(settings, notify=lambda msg: None) as engine:
        engine.ingest([TINY])
        yield engine


# -- query rewriting is its own role ----------------------------------------------------------------


def test_the_engine_rewrites_follow_ups_with_an_explicit_rewriter(tiny_engine):
    from rag.protocols import QueryRewriter
    from rag.rewrite import HeuristicRewriter

    rewriter = tiny_engine.rewriter()
    assert isinstance(rewriter, HeuristicRewriter) and isinstance(rewriter, QueryRewriter)
    history = [{"role": "user", "content": "How do zero-knowledge proofs verify model inference?"}]
    assert rewriter.rewrite(Query("How big is the proof?", history=history)).startswith("How do zero-knowledge")
    assert rewriter.rewrite(Query("How big is the proof?")) == "How big is the proof?"


def test_the_store_says_which_titles_it_holds(tiny_engine):
    held = "Coral Reef Acoustic Monitoring with Hydrophone Arrays"
    assert tiny_engine.store.titles_present([held, "A Paper Nobody Wrote"]) == {held}
    assert tiny_engine.store.titles_present([]) == set()

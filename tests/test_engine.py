"""The engine end to end with the offline extractive answerer, on tests/data/tiny.jsonl."""

import pytest

from rag.citations import SIMPLE_MARKER
from rag.engine import NO_ANSWER, Engine
from rag.errors import InputError


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
    answer = tiny_engine.ask("How big is the proof?", history=history)
    assert answer.search_query.startswith("How do zero-knowledge proofs")
    assert answer.citations[0].paper_id == "2403.00008" and "18 kilobytes" in answer.text
    standalone = tiny_engine.ask("What hydration did the sourdough optimizer pick after 25 bakes?", history=history)
    assert standalone.search_query == "What hydration did the sourdough optimizer pick after 25 bakes?"


def test_history_must_be_role_and_content(tiny_engine):
    with pytest.raises(InputError, match=r"history\[0\]"):
        tiny_engine.ask("And then?", history=[{"speaker": "me", "text": "hi"}])
    tiny_engine.ask("And the proof size?", history=[("user", "zero-knowledge proofs of inference")])  # pairs are fine


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
    from rag.engine import is_follow_up

    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize(
    "reply, abstains",
    [
        ("INSUFFICIENT_EVIDENCE", True),
        ("  **INSUFFICIENT_EVIDENCE**.", True),
        ("Insufficient evidence", True),
        ("Prior work found insufficient evidence that pruning helps [1]. Our method does [2].", False),
    ],
)
def test_only_a_sentinel_reply_is_an_abstention(reply, abstains):
    from rag.answerers.base import is_abstention

    assert is_abstention(reply) is abstains

"""A Query checks itself at the front door, before any engine, index or sample ingest exists."""

import dataclasses

import pytest

import rag
from rag.errors import ConfigError, InputError
from rag.query import MAX_QUESTION_CHARS, Query
from rag.types import Filters


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"question": "   "}, InputError, "The question is empty"),
        ({"question": None}, InputError, "The question is empty"),
        ({"question": "x" * (MAX_QUESTION_CHARS + 1)}, InputError, "characters long: keep it under"),
        ({"question": "q?", "k": 0}, InputError, r"k \(how many papers\) must be a whole number of at least 1, got 0"),
        ({"question": "q?", "k": "3"}, InputError, "got '3'"),
        ({"question": "q?", "k": True}, InputError, "got True"),
        ({"question": "q?", "history": [{"speaker": "me"}]}, InputError, r"history\[0\] must be"),
        ({"question": "q?", "history": "hi"}, InputError, "history must be a list"),
        ({"question": "q?", "filters": Filters(2024, 2020)}, InputError, "--year-from 2024 is after --year-to 2020"),
        ({"question": "q?", "backend": "gpt"}, ConfigError, "Unknown backend 'gpt': use one of auto, extractive, openai"),
        ({"question": "q?", "model": " "}, ConfigError, "The model must be a model name"),
    ],
)
def test_a_bad_query_is_refused_with_a_message_that_says_what_to_do(kwargs, error, message):
    with pytest.raises(error, match=message):
        Query(**kwargs)


def test_a_query_is_normalised_and_frozen():
    q = Query("  What   is\nit? ", k=3, history=[("user", "earlier"), {"role": "assistant", "content": "ok"}])
    assert q.question == "What is it?" and q.filters == Filters()
    assert q.history == ({"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"})
    assert q.earlier_questions() == ["earlier"] and q.recent_history(1) == [{"role": "assistant", "content": "ok"}]
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.k = 5  # type: ignore[misc]
    with pytest.raises(InputError):
        q.replace(k=0)  # a changed copy is checked again


@pytest.mark.parametrize(
    "call",
    [
        lambda: rag.ask("   "),
        lambda: rag.ask_stream("q?", history=[{"role": "system", "content": "x"}]),
        lambda: rag.ask("q?", filters=Filters(year_from=2024, year_to=2020)),
        lambda: rag.retrieve("q?", k=0),
    ],
)
def test_the_library_checks_the_query_before_making_an_engine(call, monkeypatch):
    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was made for a bad query")

    monkeypatch.setattr(rag, "get_engine", no_engine)
    with pytest.raises(InputError):
        call()

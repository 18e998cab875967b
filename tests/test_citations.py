import random
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rag.citations import (
    _MARKER,
    MAX_RANGE,
    CitationFilter,
    clean_citations,
    flagged_sentences,
    parse_marker,
    strip_markers,
)


def find_citations(text: str) -> list[int]:
    """Every number cited in ``text`` (any marker form), in order of first use: the tests' oracle."""
    return list(dict.fromkeys(n for m in _MARKER.finditer(text) for n in parse_marker(m.group(1))))


@pytest.mark.parametrize(
    "inner, numbers",
    [
        ("1", [1]),
        ("1, 2", [1, 2]),
        ("1,2", [1, 2]),
        ("1-3", [1, 2, 3]),
        ("1–3", [1, 2, 3]),
        ("3-1", [1, 2, 3]),
        ("1-3, 5", [1, 2, 3, 5]),
        ("2; 2, 4", [2, 4]),
        ("Source 2", [2]),
        ("sources 1 and 3", [1, 3]),
        ("1-500", []),  # an absurd range is no citation at all, not "[1]"
        ("2, 1-300", [2]),
    ],
)
def test_parse_marker(inner, numbers):
    assert parse_marker(inner) == numbers


def test_find_citations_in_order_of_first_use():
    assert find_citations("A [2]. B [1, 2]. C [3-4] and [Source 5].") == [2, 1, 3, 4, 5]


def test_clean_normalises_markers_to_one_number_each():
    text, used, dropped = clean_citations("X grows [1, 2]. Y falls [2-3].", valid=[1, 2, 3])
    assert text == "X grows [1][2]. Y falls [2][3]."
    assert used == [1, 2, 3] and dropped == []


def test_out_of_range_numbers_are_never_shown_as_citations():
    text, used, dropped = clean_citations("Fast [1, 7]. Made up [9]. Zero [0].", valid=[1, 2, 3])
    assert text == "Fast [1]. Made up. Zero."
    assert used == [1] and dropped == [7, 9, 0]
    assert find_citations(text) == [1]


def test_things_that_are_not_markers_are_left_alone():
    original = "In [2023] a list [a, b] and an index x[i] stayed."
    text, used, dropped = clean_citations(original, valid=[1])
    assert text == original and used == [] and dropped == []


def test_answer_without_citations():
    assert clean_citations("No markers here.", valid=[1, 2]) == ("No markers here.", [], [])


@pytest.mark.parametrize("seed", range(20))
def test_streaming_filter_matches_batch_cleaning_for_any_chunking(seed):
    raw = "Alpha [1]. Beta [2, 9] and [3-4]. Gamma [Source 1]; bad [7]. Array x[i] and [note] ok [2]"
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(raw)), 12))
    chunks = [raw[i:j] for i, j in zip([0] + cuts, cuts + [len(raw)])]
    filt = CitationFilter(valid=[1, 2, 3])
    streamed = "".join(filt.feed(c) for c in chunks) + filt.flush()
    batch, _, _ = clean_citations(raw, valid=[1, 2, 3])
    # the batch also tidies the space a dropped marker leaves before punctuation
    assert streamed.replace(" .", ".").replace(" ;", ";") == batch
    assert "[9]" not in streamed and "[7]" not in streamed and "[4]" not in streamed


def test_streaming_filter_releases_an_unclosed_bracket_at_the_end():
    filt = CitationFilter(valid=[1])
    assert filt.feed("see [1") == "see "
    assert filt.flush() == "[1"


def test_streaming_filter_handles_source_words_and_long_lists():
    raw = "A [1, source 9]. B [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]."
    filt = CitationFilter(valid=[1, 2])
    streamed = "".join(filt.feed(ch) for ch in raw) + filt.flush()
    assert streamed == "A [1]. B [1][2]."


def test_a_range_too_wide_is_dropped_whole_not_shrunk_to_its_start():
    text, used, dropped = clean_citations("Everything is solved [1-300]. Speed doubles [2].", valid=[1, 2, 3])
    assert text == "Everything is solved. Speed doubles [2]."
    assert used == [2] and dropped == [1, 300]


def test_sentences_citing_a_non_source_are_flagged_even_when_they_keep_a_valid_marker():
    raw = "Speed doubles [2]. Memory halves [1, 300]. All tasks are solved [1-300].\n- A bullet [9]."
    assert flagged_sentences(raw, valid=[1, 2, 3]) == [
        ("Memory halves [1].", ["[1, 300]"]),
        ("All tasks are solved.", ["[1-300]"]),
        ("- A bullet.", ["[9]"]),
    ]
    assert flagged_sentences("Fine [1]. Also fine [2, 3].", valid=[1, 2, 3]) == []


def test_strip_markers_removes_whatever_the_parser_reads_as_a_citation():
    assert strip_markers("Prior work [12] and [1, 2] and [Source 3] fail [4-5].") == "Prior work and and fail."
    assert strip_markers("In [2023] an index x[i] stays.") == "In [2023] an index x[i] stays."


# -- properties: any text, any valid set, any chunking ------------------------------------------

_piece = st.one_of(
    st.text(alphabet="abc xyz.,;!?-\n\t", max_size=8),
    st.integers(0, 400).map(lambda n: f"[{n}]"),
    st.lists(st.integers(0, 40), min_size=1, max_size=4).map(lambda ns: "[" + ", ".join(map(str, ns)) + "]"),
    st.tuples(st.integers(0, 60), st.integers(0, 400)).map(lambda r: f"[{r[0]}-{r[1]}]"),
    st.integers(0, 40).map(lambda n: f"[Source {n}]"),
    st.integers(0, 40).map(lambda n: f"[sources {n} and {n + 1}]"),
    st.sampled_from(["[", "]", "[1", "[ 2 ]", "[a]", "[2023]", "x[i]", "[1,,2]", "[source", "[1 [2]", "[[3]]", "٣", "[٣]"]),
)
texts = st.lists(_piece, max_size=25).map("".join)
valid_sets = st.sets(st.integers(1, 30), max_size=10)
_TIDY = re.compile(r"[ \t]+([.,;:!?)])")


@settings(max_examples=300, deadline=None)
@given(texts, valid_sets)
@example("Big [1-300]. Ok [1].", {1})
@example("[1 [2]]", set())  # removing "[2]" must not splice "[1 ]" into a marker
def test_clean_never_shows_a_marker_outside_valid_and_shows_only_plain_markers(raw, valid):
    out, used, dropped = clean_citations(raw, valid)
    assert set(find_citations(out)) <= set(valid)
    assert set(used) <= set(valid) and set(used) == set(find_citations(out))
    for m in re.finditer(r"\[[^\[\]]*\]", out):  # every marker the parser reads in the output is exactly [n]
        if find_citations(m.group(0)):
            assert re.fullmatch(r"\[\d+\]", m.group(0)), m.group(0)
    assert clean_citations(out, valid)[0] == out  # cleaning is idempotent


@settings(max_examples=300, deadline=None)
@given(texts, valid_sets)
def test_used_and_dropped_cover_every_number_written_in_a_marker(raw, valid):
    _, used, dropped = clean_citations(raw, valid)
    assert set(find_citations(raw)) <= set(used) | set(dropped)
    for lo, hi in re.findall(r"\[(\d{1,3})-(\d{1,3})\]", raw):  # ranges too wide: both ends recorded
        if abs(int(hi) - int(lo)) > MAX_RANGE:
            assert {int(lo), int(hi)} <= set(dropped)


@settings(max_examples=300, deadline=None)
@given(texts, valid_sets, st.lists(st.integers(1, 400), max_size=12))
@example("a [1 [2]] b [3 [1]]", {1}, [3, 5, 9])
def test_streaming_equals_batch_cleaning_for_any_chunking(raw, valid, cuts):
    bounds = sorted({c % (len(raw) + 1) for c in cuts})
    chunks = [raw[i:j] for i, j in zip([0] + bounds, bounds + [len(raw)])]
    filt = CitationFilter(valid)
    streamed = "".join(filt.feed(c) for c in chunks) + filt.flush()
    batch, _, _ = clean_citations(raw, valid)
    # the batch also tidies the space a dropped marker leaves before punctuation (documented)
    assert _TIDY.sub(r"\1", streamed) == _TIDY.sub(r"\1", batch)
    assert set(find_citations(streamed)) <= set(valid)


def test_streaming_filter_cleans_a_marker_longer_than_any_buffer():
    raw = "Claim [" + ", ".join(str(n) for n in range(1, 90)) + "]."
    filt = CitationFilter(valid=[1, 2])
    streamed = "".join(filt.feed(ch) for ch in raw) + filt.flush()
    assert streamed == clean_citations(raw, [1, 2])[0] == "Claim [1][2]."

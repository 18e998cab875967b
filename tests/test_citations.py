import random

import pytest

from rag.citations import CitationFilter, clean_citations, find_citations, parse_marker


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
        ("1-500", [1]),  # absurd ranges are not expanded
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

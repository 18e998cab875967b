"""Properties of the readers over generated files (hypothesis).

* Valid records written in any format (gzipped or not) read back as exactly those papers, in order.
* Any bytes at all either read (every paper within the caps) or raise InputError, nothing else.
* Distinct titles get distinct derived ids.
"""

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import InputError
from rag.jsonarray import JsonArray
from rag.readers import (
    MAX_ABSTRACT_CHARS,
    MAX_AUTHORS,
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    MIN_ABSTRACT_CHARS,
    YEAR_MAX,
    YEAR_MIN,
    derive_id,
    read_papers,
)
from rag.types import Paper

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# words of letters, digits and punctuation from many scripts; no white space inside a word
WORD = st.text(st.characters(categories=["L", "N", "P", "S"], exclude_characters="\x85\ufeff"), min_size=1, max_size=10)
TITLE = st.lists(WORD, min_size=1, max_size=8).map(" ".join).filter(lambda t: len(t) <= 250)
ABSTRACT = st.lists(WORD, min_size=12, max_size=40).map(" ".join).filter(lambda a: len(a) >= MIN_ABSTRACT_CHARS)
NAME = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-", min_size=1, max_size=12).filter(
    lambda n: n.strip(".-") and n.lower() != "and")
CATEGORY = st.text("abcdefghijklmnopqrstuvwxyz.-ABC", min_size=1, max_size=10)
RECORD = st.fixed_dictionaries(
    {"title": TITLE, "abstract": ABSTRACT},
    optional={
        "id": st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=20).map(lambda s: "p_" + s),
        "year": st.integers(YEAR_MIN, YEAR_MAX),
        "authors": st.lists(NAME, max_size=5),
        "categories": st.lists(CATEGORY, max_size=4, unique=True),
    },
)


def expected(rec: dict) -> Paper:
    return Paper(
        paper_id=rec.get("id") or derive_id(rec["title"]),
        title=rec["title"],
        abstract=rec["abstract"],
        authors=tuple(rec.get("authors", ())),
        year=rec.get("year"),
        categories=tuple(rec.get("categories", ())),
    )


def write(fmt: str, records: list[dict]) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1).encode()
    if fmt == "txt":
        # no header line: before a title of 50+ characters one would read as a title, the title as its abstract
        return "".join(f"{r['title']}\n{r['abstract']}\n\n" for r in records).encode()
    out = io.StringIO()
    w = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",")
    w.writerow(["id", "title", "abstract", "year", "authors", "categories"])
    for r in records:
        w.writerow([r.get("id", ""), r["title"], r["abstract"], r.get("year", ""), "; ".join(r.get("authors", ())),
                    " ".join(r.get("categories", ()))])
    return out.getvalue().encode()


def read_bytes(name: str, data: bytes, gz: bool) -> list:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        return list(read_papers(path))


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv", "txt"])
@SETTINGS
@given(records=st.lists(RECORD, max_size=6), gz=st.booleans(), chunk=st.sampled_from([1, 5, 64, 1 << 16]))
def test_valid_records_read_back_exactly_in_order(fmt, records, gz, chunk, monkeypatch):
    monkeypatch.setattr(JsonArray, "_CHUNK", chunk)  # JSON arrays: items split across reads
    if fmt == "txt":
        records = [{"title": r["title"], "abstract": r["abstract"]} for r in records]
    got = read_bytes(f"papers.{fmt}", write(fmt, records), gz)
    assert [p for _, p in got] == [expected(r) for r in records]


def check_sane(paper: Paper) -> None:
    assert isinstance(paper.title, str) and 0 < len(paper.title) <= MAX_TITLE_CHARS
    assert isinstance(paper.abstract, str) and MIN_ABSTRACT_CHARS <= len(paper.abstract) <= MAX_ABSTRACT_CHARS
    assert isinstance(paper.paper_id, str) and 0 < len(paper.paper_id) <= MAX_ID_CHARS
    assert paper.year is None or (type(paper.year) is int and YEAR_MIN <= paper.year <= YEAR_MAX)
    assert paper.url is None or (paper.url.lower().startswith(("http://", "https://")) and len(paper.url) <= MAX_URL_CHARS)
    assert len(paper.authors) <= MAX_AUTHORS and all(isinstance(a, str) and 0 < len(a) <= MAX_NAME_CHARS for a in paper.authors)
    assert len(paper.categories) <= MAX_CATEGORIES
    assert all(isinstance(c, str) and 0 < len(c) <= MAX_CATEGORY_CHARS for c in paper.categories)


def read_anything(name: str, data: bytes, gz: bool) -> None:
    try:
        got = read_bytes(name, data, gz)
    except InputError:
        return
    for where, item in got:
        assert isinstance(where, str)
        if isinstance(item, Paper):
            check_sane(item)
        else:
            assert isinstance(item, str) and item


NAMES = st.sampled_from(["p.jsonl", "p.json", "p.csv", "p.tsv", "p.txt"])


@SETTINGS
@given(name=NAMES, data=st.binary(max_size=600), gz=st.booleans())
def test_any_bytes_read_or_raise_input_error(name, data, gz):
    read_anything(name, data, gz)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD = st.sampled_from(["title", "abstract", "summary", "id", "paper_id", "doi", "year", "authors", "authors_parsed",
                         "categories", "url", "link", "versions", "update_date"])
WILD_RECORD = st.dictionaries(FIELD, JSON | ABSTRACT | st.integers(-10**40, 10**40), max_size=8).map(
    lambda r: {"title": "T", "abstract": "x" * 60, **r})


@SETTINGS
@given(name=st.sampled_from(["p.jsonl", "p.json", "p.csv"]), records=st.lists(WILD_RECORD, max_size=5), gz=st.booleans())
def test_records_with_wild_fields_are_read_or_skipped_never_passed_on_broken(name, records, gz):
    if name.endswith(".csv"):
        data = write("csv", [{k: v if isinstance(v, str) else json.dumps(v) for k, v in r.items()} for r in records])
    elif name.endswith(".json"):
        data = json.dumps(records).encode()
    else:
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
    read_anything(name, data, gz)


@SETTINGS
@given(titles=st.lists(st.text(min_size=1, max_size=40).map(lambda t: " ".join(t.split())).filter(bool), unique=True, max_size=30))
def test_distinct_titles_get_distinct_derived_ids(titles):
    ids = [derive_id(t) for t in titles]
    assert len(set(ids)) == len(ids)
    assert all(0 < len(i) <= MAX_ID_CHARS for i in ids)

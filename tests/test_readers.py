import gzip
import json
import re

import pytest

from rag.errors import InputError
from rag.readers import derive_id, legacy_id, read_papers, slugify
from rag.types import Paper

ABSTRACT = "We study a thing carefully and find that it works well on many benchmarks across tasks."


def papers_and_skips(path):
    items = list(read_papers(path))
    return [p for _, p in items if isinstance(p, Paper)], [(w, r) for w, r in items if isinstance(r, str)]


def test_sample_text_format_reads_all_247_papers_without_the_subscribe_prefix():
    from rag.engine import sample_corpus

    papers, skips = papers_and_skips(sample_corpus())
    assert len(papers) == 247 and skips == []
    assert papers[0].title == "TP-Aware Dequantization"
    assert papers[0].paper_id == "tp-aware-dequantization-0a4c2179"  # slug + title hash (no id in the file)
    assert papers[1].title.startswith("PIM-GPT")
    assert len({p.paper_id for p in papers}) == 247


def test_text_format_skips_misaligned_lines_and_resyncs(tmp_path):
    f = tmp_path / "a.txt"
    lines = [
        "Get trending papers in your email inbox!",
        "First Title",
        ABSTRACT,
        "Orphan Title Without Abstract",
        "Second Title",
        "",  # blank lines are ignored
        ABSTRACT + " Second.",
        "Dangling Title",
    ]
    f.write_text("\n".join(lines) + "\n")
    papers, skips = papers_and_skips(f)
    assert [p.title for p in papers] == ["First Title", "Second Title"]
    assert skips[0][0] == "line 4" and "Orphan Title" in skips[0][1]
    assert skips[1][0] == "line 8" and "no abstract" in skips[1][1]


def test_text_format_reports_an_abstract_where_a_title_should_be(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("A Title\n" + ABSTRACT + "\n" + "x" * 400 + "\nNext Title\n" + ABSTRACT + "\n")
    papers, skips = papers_and_skips(f)
    assert [p.title for p in papers] == ["A Title", "Next Title"]
    assert skips == [("line 3", skips[0][1])] and "title line above" in skips[0][1]


def test_bad_utf8_line_is_skipped_with_its_line_number(tmp_path):
    f = tmp_path / "a.jsonl"
    good = json.dumps({"title": "Good", "abstract": ABSTRACT}).encode()
    f.write_bytes(good + b"\n" + b'{"title": "\xff\xfe bad", "abstract": "x"}\n' + good.replace(b"Good", b"Also") + b"\n")
    papers, skips = papers_and_skips(f)
    assert [p.title for p in papers] == ["Good", "Also"]
    assert skips[0][0] == "line 2" and "UTF-8" in skips[0][1]


def test_jsonl_maps_fields_and_reports_bad_lines(tmp_path):
    f = tmp_path / "p.jsonl"
    rows = [
        json.dumps({"id": "p1", "title": "  Spaced   Title ", "abstract": ABSTRACT, "url": "https://x.org/p1",
                    "authors": ["A. One", "B. Two"], "year": 2021, "categories": ["cs.CL", "cs.LG"]}),
        "{not json",
        json.dumps({"title": "No Abstract"}),
        json.dumps(["a list"]),
        json.dumps({"Title": "Case Insensitive", "Abstract": ABSTRACT, "year": "2019-05-01", "categories": "cs.AI; cs.CL"}),
    ]
    f.write_text("\n".join(rows) + "\n")
    papers, skips = papers_and_skips(f)
    p = papers[0]
    assert (p.paper_id, p.title, p.url, p.authors, p.year, p.categories) == (
        "p1", "Spaced Title", "https://x.org/p1", ("A. One", "B. Two"), 2021, ("cs.CL", "cs.LG"))
    assert papers[1].paper_id.startswith("case-insensitive-") and papers[1].year == 2019
    assert papers[1].categories == ("cs.AI", "cs.CL")
    assert [w for w, _ in skips] == ["line 2", "line 3", "line 4"]
    assert "invalid JSON" in skips[0][1] and "no abstract" in skips[1][1] and "JSON object" in skips[2][1]


def test_arxiv_snapshot_record(tmp_path):
    rec = {
        "id": "2310.06825", "submitter": "X", "authors": "Albert Q. Jiang, Alexandre Sablayrolles and Arthur Mensch",
        "title": "Mistral\n  7B", "comments": None, "journal-ref": None, "doi": None,
        "categories": "cs.CL cs.AI cs.LG", "license": None,
        "abstract": "  We introduce Mistral 7B, a 7-billion-parameter language model engineered for\nsuperior performance and efficiency.\n",
        "versions": [{"version": "v1", "created": "Tue, 10 Oct 2023 17:54:58 GMT"}],
        "update_date": "2023-10-11",
        "authors_parsed": [["Jiang", "Albert Q.", ""], ["Sablayrolles", "Alexandre", ""], ["Mensch", "Arthur", ""]],
    }
    f = tmp_path / "arxiv-metadata-oai-snapshot.json"
    f.write_text(json.dumps(rec) + "\n")
    (p,), skips = papers_and_skips(f)
    assert skips == []
    assert p.paper_id == "2310.06825" and p.title == "Mistral 7B"
    assert p.abstract.startswith("We introduce Mistral 7B, a 7-billion-parameter language model engineered for superior")
    assert p.authors == ("Albert Q. Jiang", "Alexandre Sablayrolles", "Arthur Mensch")
    assert p.year == 2023 and p.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert p.url == "https://arxiv.org/abs/2310.06825"


def test_arxiv_year_falls_back_to_the_id_then_update_date(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({"id": "0704.0001", "title": "Old", "abstract": ABSTRACT, "update_date": "2008-11-13"}) + "\n"
                 + json.dumps({"id": "math/0211159", "title": "Older", "abstract": ABSTRACT, "update_date": "2009-01-01"}) + "\n")
    papers, _ = papers_and_skips(f)
    assert [p.year for p in papers] == [2007, 2009]
    assert papers[1].url == "https://arxiv.org/abs/math/0211159"


def test_csv_reads_quoted_fields_and_reports_extra_fields(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(
        'title,abstract,year,authors\n'
        f'"A, With Comma","{ABSTRACT} ""Quoted"" end.",2020,"X; Y"\n'
        f'Broken,{ABSTRACT},2020,X,extra\n'
        f'"Multi\nLine Title","{ABSTRACT}",,\n'
    )
    papers, skips = papers_and_skips(f)
    assert [p.title for p in papers] == ["A, With Comma", "Multi Line Title"]
    assert papers[0].abstract.endswith('"Quoted" end.') and papers[0].authors == ("X", "Y") and papers[0].year == 2020
    assert papers[1].year is None
    assert skips == [("line 3", skips[0][1])] and "more field" in skips[0][1]


def test_csv_without_required_columns_is_an_error(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("name,text\nA,B\n")
    with pytest.raises(InputError, match="no abstract or title column"):
        list(read_papers(f))


def test_gzip_and_json_array(tmp_path):
    gz = tmp_path / "p.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(json.dumps({"title": "Zipped", "abstract": ABSTRACT}) + "\n")
    arr = tmp_path / "p.json"
    arr.write_text(json.dumps([{"title": "In Array", "abstract": ABSTRACT}, {"title": "Bad"}]))
    assert [p.title for p in papers_and_skips(gz)[0]] == ["Zipped"]
    papers, skips = papers_and_skips(arr)
    assert [p.title for p in papers] == ["In Array"] and skips[0][0] == "record 2"


@pytest.mark.parametrize("name", ["paper.pdf", "notes", "x.docx.gz"])
def test_unknown_file_types_are_refused_with_what_is_supported(tmp_path, name):
    f = tmp_path / name
    f.write_text("x")
    with pytest.raises(InputError, match="Unknown file type.*rag reads text"):
        list(read_papers(f))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="No such file"):
        list(read_papers(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="is a directory"):
        list(read_papers(tmp_path))


def test_slugify_is_readable_and_stable():
    assert slugify("PIM-GPT: A Hybrid Process-in-Memory Accelerator") == "pim-gpt-a-hybrid-process-in-memory-accelerator"
    assert slugify("Über  Café ☕") == "uber-cafe"
    assert slugify("???") == "untitled"


def test_the_text_reader_knows_nothing_of_the_sample_page(tmp_path):
    """Short lines before the first paper are a header, whatever they say; no title is rewritten."""
    f = tmp_path / "a.txt"
    f.write_text("My reading list\nexported 2024-05-01\nSubscribeFoo: A Title\n" + ABSTRACT + "\n")
    papers, skips = papers_and_skips(f)
    assert [p.title for p in papers] == ["SubscribeFoo: A Title"] and skips == []


def test_the_sample_as_scraped_still_reads_247_papers(tmp_path):
    """The raw copy (../shared/corpus) has the page's header and the "Subscribe" button text run into
    the first title: the generic rules drop the header; the button text stays part of that title
    (the bundled copy in rag/data was cleaned once, as data)."""
    from rag.engine import sample_corpus

    bundled = sample_corpus().read_text(encoding="utf-8")
    assert bundled.startswith("TP-Aware Dequantization\n")
    raw = tmp_path / "hf_trending_abstracts.txt"
    raw.write_text("Get trending papers in your email inbox once a day!\nGet trending papers in your email inbox!\nSubscribe" + bundled)
    papers, skips = papers_and_skips(raw)
    assert len(papers) == 247 and skips == []
    assert papers[0].title == "SubscribeTP-Aware Dequantization"
    assert [p.title for p in papers[1:]] == [p.title for p in papers_and_skips(sample_corpus())[0][1:]]


def test_truncated_gzip_is_an_input_error(tmp_path):
    import zlib  # noqa: F401  (the error class the reader translates)

    full = tmp_path / "full.jsonl.gz"
    with gzip.open(full, "wt") as fh:
        for i in range(2000):
            fh.write(json.dumps({"title": f"T{i}", "abstract": ABSTRACT + f" {i} " + "x" * 50}) + "\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError, match="Cannot read .*cut.jsonl.gz to the end"):
        list(read_papers(cut))


# -- fields are checked as they are read -----------------------------------------------


def one_record(tmp_path, **fields):
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps({"title": "A Title", "abstract": ABSTRACT, **fields}) + "\n")
    return papers_and_skips(f)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"year": 10**30}, "year 1000000000000000000000000000000 is outside 1000-2100"),
    ({"year": -5}, "outside 1000-2100"),
    ({"year": True}, "year true is not a year"),
    ({"year": "soon"}, "year 'soon' is not a year"),
    ({"year": 2021.5}, "is not a year"),
    ({"title": ["A", "list"]}, "title must be text, not a list"),
    ({"title": 42}, "title must be text, not a number"),
    ({"abstract": {"text": ABSTRACT}}, "abstract must be text, not an object"),
    ({"id": ["p1"]}, "id must be text, not a list"),
    ({"id": True}, "id must be text, not true/false"),
    ({"id": 2310.06825}, "id must be text, not a number (put it in quotes)"),
    ({"id": "x" * 201}, "id is 201 characters (at most 200)"),
    ({"title": "T" * 501}, "title is 501 characters (at most 500)"),
    ({"abstract": "word " * 20001}, "abstract is 100004 characters (at most 100000)"),
    ({"authors": {"name": "X"}}, "authors must be text or a list of text, not an object"),
    ({"authors": ["A", 7]}, "authors must be text or a list of text, not a list"),
    ({"authors": ["N" * 201]}, "author name 'NNN"),
    ({"categories": [["cs.CL"]]}, "categories must be text or a list of text"),
    ({"categories": [f"c{i}" for i in range(51)]}, "51 categories (at most 50)"),
    ({"url": 5}, "url must be text, not a number"),
    ({"url": "javascript:alert(1)"}, "url 'javascript:alert(1)' is not an http(s) link"),
    ({"link": "http://" + "x" * 2000}, "link is 2007 characters (at most 2000)"),
])
def test_a_record_with_a_bad_field_is_skipped_with_its_reason(tmp_path, fields, reason):
    papers, skips = one_record(tmp_path, **fields)
    assert papers == [] and len(skips) == 1
    assert skips[0][0] == "line 1" and reason in skips[0][1]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"id": 42}, {"paper_id": "42"}),
    ({"year": "2023"}, {"year": 2023}),
    ({"year": "2023-05-01"}, {"year": 2023}),
    ({"year": 2021.0}, {"year": 2021}),
    ({"year": ""}, {"year": None}),
    ({"url": "HTTPS://example.org/p"}, {"url": "HTTPS://example.org/p"}),
    ({"authors": [f"Author {i}" for i in range(150)]}, {"authors": tuple(f"Author {i}" for i in range(100))}),
])
def test_sane_fields_are_accepted(tmp_path, fields, expected):
    (paper,), skips = one_record(tmp_path, **fields)
    assert skips == [] and {k: getattr(paper, k) for k in expected} == expected


# -- ids derived from titles ---------------------------------------------------------------------


def test_papers_without_ids_get_distinct_ids_derived_from_their_titles(tmp_path):
    titles = ["注意力就是你所需要的一切", "深度残差学习", "Η προσοχή είναι το μόνο που χρειάζεστε", "Attention!", "Attention?"]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"title": t, "abstract": ABSTRACT}) + "\n" for t in titles))
    papers, skips = papers_and_skips(f)
    ids = [p.paper_id for p in papers]
    assert skips == [] and len(set(ids)) == 5
    assert all(re.fullmatch(r"paper-[0-9a-f]{16}", i) for i in ids[:3])
    assert all(re.fullmatch(r"attention-[0-9a-f]{8}", i) for i in ids[3:])
    assert ids == [derive_id(t) for t in titles]


def test_a_derived_id_depends_on_the_title_only(tmp_path):
    first = one_record(tmp_path, abstract=ABSTRACT)[0][0]
    edited = one_record(tmp_path, abstract=ABSTRACT + " Now with more results.", year=2020)[0][0]
    assert first.paper_id == edited.paper_id and first.content_hash() != edited.content_hash()
    assert legacy_id(first) == "a-title"  # what earlier versions called it
    assert legacy_id(one_record(tmp_path, id="given")[0][0]) is None


# -- JSON arrays are streamed --------------------------------------------------------------------


def test_a_json_array_yields_its_records_before_a_break_and_then_says_where(tmp_path):
    f = tmp_path / "p.json"
    good = [json.dumps({"title": f"T{i}", "abstract": ABSTRACT}) for i in range(2)]
    f.write_text("[\n  " + ",\n  ".join(good) + ',\n  {"title": "broken" "abstract": "x"}\n]\n')
    got = []
    with pytest.raises(InputError, match=r"p.json is not valid JSON at record 3 \(line 4\): Expecting ',' delimiter"):
        for where, item in read_papers(f):
            got.append((where, item.title))
    assert got == [("record 1", "T0"), ("record 2", "T1")]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 16])
def test_json_array_items_split_across_reads_come_back_whole(tmp_path, monkeypatch, chunk):
    from rag.jsonarray import JsonArray

    monkeypatch.setattr(JsonArray, "_CHUNK", chunk)
    items = [{"title": 'Brackets ] } [ { and "quotes" \\ here', "abstract": ABSTRACT, "year": 2012345 // 1000},
             12345678901234567890, ["x"], {"title": "Plain", "abstract": ABSTRACT, "categories": ["a", "b"]}]
    f = tmp_path / "p.json"
    f.write_text(json.dumps(items, indent=1))
    out = list(read_papers(f))
    assert [w for w, _ in out] == ["record 1", "record 2", "record 3", "record 4"]
    assert out[0][1].title == items[0]["title"] and out[0][1].year == 2012
    assert "got int" in out[1][1] and "got list" in out[2][1] and out[3][1].categories == ("a", "b")


@pytest.mark.parametrize(("text", "message"), [
    ('[{"title": "A", "abstract": "x"}, ', "at record 2 (line 1): Expecting value"),
    ('[{"title": "A", "abstract": "x"}', "at record 1 (line 1): the file ends before the closing ]"),
    ('[{"title": "A", "abstract": "x"}] [', "there is more text after the closing ]"),
    ('[{"title": "A", "abstract": "x}]', "at record 1 (line 1): Unterminated string"),
])
def test_a_malformed_json_array_is_an_input_error_that_says_where(tmp_path, text, message):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        list(read_papers(f))

"""`rag bench`: the synthetic collections are deterministic with known targets; the table has every row."""

from __future__ import annotations

import json
import re

import pytest

from eval.bench.corpus import generate, sample_source, sentences_of
from eval.bench.measure import percentile
from eval.bench.table import ROWS, markdown
from rag import cli


@pytest.fixture(scope="module")
def source():
    return sample_source()


def test_the_same_seed_gives_the_same_collection_byte_for_byte(tmp_path, source):
    a, b = generate(300, 20, seed=7, source=source), generate(300, 20, seed=7, source=source)
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    for name in ("papers.jsonl", "extra.jsonl", "queries.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert generate(300, 20, seed=8, source=source).papers != a.papers


def test_every_query_has_its_target_and_its_sentence_is_the_targets_alone(source):
    col = generate(400, 40, seed=1, source=source)
    ids = [p.paper_id for p in col.papers]
    assert len(set(ids)) == len(ids) == 400
    assert col.extra.paper_id not in ids and col.extra_query.target == col.extra.paper_id
    by_id = {p.paper_id: p for p in col.papers}
    owner: dict[str, str] = {}
    for p in [*col.papers, col.extra]:
        for s in sentences_of(p):
            assert owner.setdefault(s, p.paper_id) == p.paper_id, "a spliced sentence occurs in two papers"
    assert len(col.queries) == 40 and len({q.target for q in col.queries}) == 40
    kinds = {q.kind for q in col.queries}
    assert kinds == {"phrase", "keywords"}
    for q in col.queries:
        target = by_id[q.target]
        if q.kind == "phrase":
            assert q.question in sentences_of(target)
        else:  # not a substring of anything: its words, shuffled, from one of the target's sentences
            assert q.question not in target.abstract
            words = set(re.findall(r"[a-z][a-z\-]+", target.abstract.lower()))
            assert set(q.question.split()) <= words


def test_queries_mix_words_from_both_halves_of_a_spliced_sentence(source):
    """A keyword query must need both halves: each half alone is shared with many papers."""
    col = generate(200, 30, seed=2, source=source)
    heads = {h for h, _ in source.halves}
    for q in (q for q in col.queries if q.kind == "phrase"):
        assert any(q.question.startswith(h + " ") for h in heads)
        assert q.question not in {f"{h} {t}" for h, t in source.halves}  # spliced, not a real sentence as it was


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0 and percentile([], 0.5) == 0.0


@pytest.mark.slow
def test_rag_bench_runs_end_to_end_and_prints_every_row(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert cli.main(["bench", "--sizes", "50", "--queries", "5", "--out", str(tmp_path / "b"), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| measure | 50 papers")
    assert [line.split(" | ")[0][2:] for line in lines[1:]] == [label for label, _ in ROWS]
    assert "–" not in table and "not run" not in table
    data = json.loads(out.read_text())
    (size,) = data["sizes"]
    assert size["papers"] == 50 and size["ingest"]["papers"] == 50 and size["reingest"]["unchanged"] == 50
    assert size["add_one"]["new"] == 1 and size["retrieve"]["n"] == 5
    assert set(size["baselines"]) == {"llama_index", "bm25s", "numpy_rrf"}
    assert 0.0 <= size["retrieve"]["hit@5"] <= 1.0 and size["cold"]["ask_wall_s"] > 0
    assert 100 < size["cold"]["ask_peak_rss_mb"] < 4000  # a whole Python process with the model, in MB
    assert markdown(data["sizes"]) == table.strip()
    # --reuse measures the kept index again without ingesting, and keeps the first run's ingest figures; it takes
    # the added paper out and adds it again, so adding one paper is measured on the code of the day
    again = tmp_path / "again.json"
    assert cli.main(["bench", "--sizes", "50", "--queries", "5", "--out", str(tmp_path / "b"), "--reuse", "--no-cold",
                     "--json", str(again)]) == 0
    assert "(ingest rows from an earlier run: --reuse)" in capsys.readouterr().out
    (second,) = json.loads(again.read_text())["sizes"]
    assert second["reused"] and second["ingest"] == size["ingest"] and second["reingest"] == size["reingest"]
    assert second["add_one"]["new"] == 1 and second["add_one"] != size["add_one"] and "hit" in second["ask_after_add"]
    assert second["retrieve"]["n"] == 5 and second["retrieve"]["hit@5"] == size["retrieve"]["hit@5"]
    # other arguments than the kept index was made with: refused, with what to do
    assert cli.main(["bench", "--sizes", "50", "--queries", "4", "--out", str(tmp_path / "b"), "--reuse"]) == 2
    assert "run without --reuse" in capsys.readouterr().err


@pytest.mark.slow
def test_the_cold_ask_peak_rss_is_the_commands_own_not_the_benchs(tmp_path):
    """A child forked straight from a big process reports that process's RSS as its own peak."""
    import numpy as np

    from eval.bench.measure import cold_ask
    from rag.engine import Engine
    from rag.settings import Settings
    from conftest import TINY

    with Engine(Settings(index_dir=tmp_path / "idx", backend="extractive", sample_on_empty=False), notify=lambda m: None) as e:
        e.ingest([TINY])
    ballast = np.ones(2_000_000_000 // 8)  # 2 GB, touched: the bench's own memory
    cold = cold_ask(tmp_path / "idx", "What signing time does the lattice signature scheme reach?", runs=1)
    assert ballast[-1] == 1.0 and 100 < cold["ask_peak_rss_mb"] < 1500

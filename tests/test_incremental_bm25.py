"""The incremental BM25 index (main segment + delta + tombstones) scores exactly as a full rebuild."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag import segments
from rag.retrieval import _SegmentBM25, build_lexical
from llama_index.core.schema import QueryBundle

WORDS = "graph neural network protein folding quantum annealer lattice signature kernel sparse matrix speed " \
        "forecast weather transformer attention memory cache retrieval index".split()
QUERIES = ["graph neural network", "quantum protein folding", "sparse matrix kernel speed", "attention attention cache",
           "lattice signature", "weather forecast transformer retrieval"]


class FakeStore:
    """The parts of :class:`rag.store.Store` the BM25 index reads, over a dict of chunks."""

    def __init__(self):
        self.chunks: dict[str, tuple[str, dict]] = {}
        self.full_reads = 0

    def count(self):
        return len(self.chunks)

    def chunk_ids(self):
        return list(self.chunks)

    def records(self, ids):
        yield list(ids), [self.chunks[i][0] for i in ids], [self.chunks[i][1] for i in ids]

    def iter_records(self):
        self.full_reads += 1
        ids = list(self.chunks)
        yield ids, [self.chunks[i][0] for i in ids], [self.chunks[i][1] for i in ids]


def chunk(cid, body, paper_id):
    """A chunk as Chroma holds it: its text, and llama-index's metadata dict."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    node = TextNode(id_=cid, text=body, metadata={"paper_id": paper_id, "title": ""},
                    excluded_embed_metadata_keys=["paper_id", "title"])
    return body, node_to_metadata_dict(node, remove_text=True, flat_metadata=False)


def text(words):
    return " ".join(WORDS[w % len(WORDS)] for w in words)


def ranked(lexical, query, k=50):
    hits = _SegmentBM25(lexical, k)._retrieve(QueryBundle(query))
    return [(h.node.node_id, h.score) for h in hits]


op = st.tuples(st.sampled_from(["add", "update", "delete"]), st.integers(0, 10**6),
               st.lists(st.integers(0, 40), min_size=1, max_size=12))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=12), min_size=20, max_size=40),
       steps=st.lists(st.lists(op, min_size=1, max_size=3), min_size=1, max_size=4))
def test_updated_index_equals_a_full_rebuild(tmp_path_factory, initial, steps):
    cache = tmp_path_factory.mktemp("bm25")
    store = FakeStore()
    for i, words in enumerate(initial):
        store.chunks[f"p{i}#0"] = chunk(f"p{i}#0", text(words), f"p{i}")
    lexical = build_lexical(store, cache, "k0")
    main = lexical.bm25.main
    serial = len(initial)
    for n, batch in enumerate(steps, start=1):  # one ingest per batch of changes
        for kind, pick, words in batch:
            ids = sorted(store.chunks)
            if kind == "add" or not ids:
                store.chunks[f"p{serial}#0"] = chunk(f"p{serial}#0", text(words), f"p{serial}")
                serial += 1
            else:
                old = ids[pick % len(ids)]
                del store.chunks[old]
                if kind == "update":  # a changed paper: new chunk ids (they carry the content hash), old ones deleted
                    store.chunks[f"{old}u{n}"] = chunk(f"{old}u{n}", text(words), old.split("#")[0])
        lexical = build_lexical(store, cache, f"k{n}", previous=lexical)
        rebuilt = build_lexical(store, tmp_path_factory.mktemp("fresh"), "fresh")
        assert lexical.n_docs == rebuilt.n_docs == len(store.chunks)
        for query in QUERIES:
            assert ranked(lexical, query) == ranked(rebuilt, query)  # same chunks, same order, bit-identical scores
        for term in ("graph", "quantum", "attent", "nosuchterm"):
            assert lexical.term_weight(term) == rebuilt.term_weight(term)
        ids = sorted(store.chunks) + ["p-gone#0"]
        for query in QUERIES:  # the fusion's coverage signal too
            tokens = segments.tokenize([query], "en", lexical.stemmer)[0]
            assert np.array_equal(lexical.bm25.coverage(tokens, lexical.bm25.positions(ids)),
                                  rebuilt.bm25.coverage(tokens, rebuilt.bm25.positions(ids)))
        if lexical.bm25.main is main:
            assert lexical.bm25.changes <= segments.COMPACT_SHARE * main.size
        main = lexical.bm25.main


def test_one_added_chunk_goes_to_the_delta_without_a_full_read(tmp_path):
    store = FakeStore()
    for i in range(200):
        store.chunks[f"p{i:03d}#0"] = chunk(f"p{i:03d}#0", text([i, i * 7, i * 13]), f"p{i:03d}")
    first = build_lexical(store, tmp_path, "k0")
    store.chunks["new#0"] = chunk("new#0", "quantum annealer protein folding", "new")
    second = build_lexical(store, tmp_path, "k1", previous=first)
    assert store.full_reads == 1 and second.bm25.main is first.bm25.main and second.bm25.delta.size == 1
    assert ranked(second, "quantum annealer")[0][0] == "new#0"
    third = build_lexical(store, tmp_path, "k1")  # a new process: main from the cache, the delta from the store
    assert store.full_reads == 1 and ranked(third, "quantum annealer") == ranked(second, "quantum annealer")


def test_scores_match_bm25s(tmp_path):
    """The segments compute bm25s's own scores (to float32 rounding), not merely their own."""
    import bm25s
    import Stemmer

    store = FakeStore()
    rng = np.random.default_rng(12)
    for i in range(300):
        store.chunks[f"c{i:03d}"] = chunk(f"c{i:03d}", text(rng.integers(0, 40, rng.integers(1, 15)).tolist()), f"c{i:03d}")
    lexical = build_lexical(store, tmp_path, "k")
    ids = sorted(store.chunks)
    stemmer = Stemmer.Stemmer("english")
    index = bm25s.BM25()
    index.index(bm25s.tokenize([store.chunks[i][0] for i in ids], stopwords="en", stemmer=stemmer, show_progress=False),
                show_progress=False)
    for query in QUERIES:
        expected = index.get_scores(bm25s.tokenize(query, stemmer=stemmer, return_ids=False, show_progress=False)[0])
        got = dict(ranked(lexical, query, k=300))
        assert {ids[i] for i in np.flatnonzero(expected > 0)} == set(got)
        for i in np.flatnonzero(expected > 0):
            assert got[ids[i]] == pytest.approx(float(expected[i]), rel=1e-6)


def test_ranking_equals_llama_index_bm25_retriever_on_real_abstracts(tmp_path):
    """The same hits and scores as the llama-index ``BM25Retriever`` the engine used before the segments,
    for questions full of stopwords (a query tokenised without bm25s's stopword list ranked differently)."""
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    from rag.readers import read_papers
    from rag.engine import sample_corpus
    from rag.retrieval import BM25_STOPWORDS

    store = FakeStore()
    nodes = []
    papers = [p for _, p in read_papers(sample_corpus()) if not isinstance(p, str)][:120]
    for n, paper in enumerate(papers):
        cid = f"p{n:03d}#0"
        store.chunks[cid] = chunk(cid, paper.abstract, cid)
        nodes.append(TextNode(id_=cid, text=paper.abstract))
    nodes.sort(key=lambda n: n.node_id)
    lexical = build_lexical(store, tmp_path, "k")
    before = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=10, language=BM25_STOPWORDS)
    for question in ["What are the components of Disaggregated Multi-Tower, and what speedup does it reach?",
                     "How is the KV cache of an LLM compressed, and what does it cost?",
                     "Which of the papers are about the data that is used for training?"]:
        expected = [(h.node.node_id, pytest.approx(h.score, rel=1e-5)) for h in before.retrieve(question)]
        assert ranked(lexical, question, k=10) == expected


def test_a_few_best_are_the_head_of_the_full_ranking_ties_included(tmp_path):
    """With k much smaller than the hits, only the k best are sorted: the same chunks, in the same order
    (equal scores by chunk id), as sorting every hit. Few distinct words make many ties at every cut."""
    store = FakeStore()
    rng = np.random.default_rng(5)
    for i in range(400):
        store.chunks[f"c{i:03d}"] = chunk(f"c{i:03d}", text(rng.integers(0, 6, rng.integers(1, 4)).tolist()), f"c{i:03d}")
    lexical = build_lexical(store, tmp_path, "k")
    index = lexical.bm25
    for query in ("graph neural network", "protein folding graph", "graph"):
        scores = index.scores(segments.tokenize([query], "en", lexical.stemmer)[0])
        every = sorted(np.flatnonzero(scores > 0).tolist(), key=lambda p: (-scores[p], index.record(p)[0]))
        assert len(every) > 100
        for k in (1, 3, 10, 24):
            assert index.top(segments.tokenize([query], "en", lexical.stemmer)[0], k) == [(p, float(scores[p])) for p in every[:k]]


def test_a_papers_chunks_are_found_by_id_prefix_live_ones_only(tmp_path):
    store = FakeStore()
    for cid in ("a#h1#0", "a#h1#1", "a#b#h2#0", "ab#h3#0", "b#h4#0") + tuple(f"z{i:02d}#h#0" for i in range(30)):
        store.chunks[cid] = chunk(cid, "graph kernels " + cid, cid.rsplit("#", 2)[0])  # 35: two changes stay a delta
    first = build_lexical(store, tmp_path, "k0")
    del store.chunks["a#h1#1"]  # a tombstone in the main segment
    store.chunks["a#h5#0"] = chunk("a#h5#0", "graph kernels again", "a")  # in the delta
    lexical = build_lexical(store, tmp_path, "k1", previous=first)
    assert lexical.bm25.main is first.bm25.main
    # "a#b#h2#0" starts with "a#" too: the store keeps only chunks whose metadata names the paper
    assert sorted(lexical.bm25.chunks_of(["a"])) == ["a#b#h2#0", "a#h1#0", "a#h5#0"]
    assert lexical.bm25.chunks_of(["b", "zz"]) == ["b#h4#0"]


def test_coverage_is_the_idf_weighted_share_of_the_query_terms_a_chunk_uses(tmp_path):
    store = FakeStore()
    bodies = {"all#0": "quantum protein folding", "two#0": "protein folding protein folding",
              "one#0": "quantum annealer", "gone#0": "quantum protein folding"}
    bodies.update({f"f{i:02d}#0": "protein weather " + WORDS[i % len(WORDS)] for i in range(30)})
    for cid, body in bodies.items():
        store.chunks[cid] = chunk(cid, body, cid.split("#")[0])
    first = build_lexical(store, tmp_path, "k0")
    del store.chunks["gone#0"]  # a tombstone
    store.chunks["new#0"] = chunk("new#0", "folding quantum", "new")  # in the delta
    lexical = build_lexical(store, tmp_path, "k1", previous=first)
    index = lexical.bm25
    assert index.main is first.bm25.main and index.delta.size == 1
    tokens = segments.tokenize(["quantum protein folding nosuchword"], "en", lexical.stemmer)[0]
    w = {t: lexical.bm25.term_weight(t, 0.0) for t in ("quantum", "protein", "fold")}  # float64 IDF; "nosuchword": none
    got = index.coverage(tokens, index.positions(["all#0", "two#0", "one#0", "gone#0", "new#0", "missing#0"]))
    total = sum(w.values())
    expected = [1.0, (w["protein"] + w["fold"]) / total, w["quantum"] / total, 0.0, (w["quantum"] + w["fold"]) / total, 0.0]
    assert got == pytest.approx(expected, rel=1e-6)  # repeats do not count twice; removed and unknown chunks score 0
    assert got[2] > got[1] / 2  # a rare term weighs more than a common one (protein is in 32 chunks)
    assert index.coverage([], index.positions(["all#0"])).tolist() == [0.0]

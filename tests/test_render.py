"""The UI's HTML and Markdown, without a browser: links, badges, escaping, export."""

import re
from pathlib import Path

from ui.render import answer_html, chat_html, export_markdown, highlighted, sources_html

SOURCES = [
    {"number": 1, "paper_id": "p1", "title": "First <b>Paper</b>", "text": "Alpha is fast. Beta is slow.", "score": 0.03,
     "evidence": 0.8, "url": "javascript:alert(1)", "authors": ["A. One"], "year": 2024},
    {"number": 2, "paper_id": "p2", "title": "Second", "text": "Gamma holds.", "score": 0.02, "evidence": 0.5,
     "url": "https://arxiv.org/abs/1", "authors": [], "year": None},
]
TURN = {
    "question": "Is <i>alpha</i> fast?",
    "answer": {"text": "- Alpha is fast [1].\n- Made up [9].", "sources": SOURCES, "abstained": False, "backend": "extractive",
               "citations": [{"number": 1, "paper_id": "p1", "title": "First <b>Paper</b>"}]},
    "verdicts": [{"sentence": "Alpha is fast.", "cited": [1], "supported": True, "score": 0.9, "reasons": []},
                 {"sentence": "Made up.", "cited": [], "supported": False, "score": 0.0, "reasons": []}],
    "highlights": {1: ["Alpha is fast."]},
}


def test_citations_become_links_to_their_turns_sources_and_badges_follow_sentences():
    html = answer_html(3, TURN["answer"]["text"], {v["sentence"]: v for v in TURN["verdicts"]}, {1, 2})
    assert '<button type="button" class="cite" data-turn="3" data-n="1" aria-label="Source 1">[1]</button>' in html
    assert "[9]" in html and 'data-n="9"' not in html  # not a source: never a button
    titled = answer_html(3, "Alpha is fast [1].", {}, {1: "First <b>Paper</b>"})
    assert 'aria-label="Source 1: First &lt;b&gt;Paper&lt;/b&gt;"' in titled and "href" not in titled
    assert html.count('class="badge ok"') == 1 and html.count('class="badge na"') == 1
    assert html.startswith("<ul><li>")


def test_text_is_escaped_everywhere():
    chat = chat_html([TURN])
    assert "&lt;i&gt;alpha&lt;/i&gt;" in chat and "<i>" not in chat
    panel = sources_html([TURN])
    assert "First &lt;b&gt;Paper&lt;/b&gt;" in panel and "<b>" not in panel
    assert "javascript:" not in panel  # only http(s) links
    assert '<a href="https://arxiv.org/abs/1" target="_blank" rel="noopener noreferrer">Second</a>' in panel
    assert highlighted("x <script>y</script>. z.", []) == "x &lt;script&gt;y&lt;/script&gt;. z."


def test_sources_panel_lists_cited_papers_first_and_folds_the_rest():
    panel = sources_html([TURN, dict(TURN, question="second?")])
    assert panel.index('id="src-1-1"') < panel.index("<details>") < panel.index('id="src-1-2"')
    assert '<section class="turn-sources" id="turn-1">' in panel and '<section class="turn-sources latest" id="turn-2">' in panel
    assert "<mark>Alpha is fast.</mark> Beta is slow." in panel


def test_export_has_each_answer_and_a_reference_list():
    md = export_markdown([TURN])
    assert md.startswith("# Conversation")
    assert "## 1. Is <i>alpha</i> fast?" in md
    assert "- [1] First <b>Paper</b> (p1)" in md
    assert "## All references" in md and "*Answered by extractive*" in md


def test_badges_tell_a_contradiction_from_a_claim_the_sources_do_not_state():
    from ui.render import badge

    contradicted = badge({"cited": [1], "supported": False, "label": "contradicted", "score": 0.2,
                          "reasons": ["negation only in the source"]})
    assert contradicted.startswith('<button type="button" class="badge no" aria-expanded="false"')
    assert contradicted.endswith('>✗</button><span class="why" hidden>(contradicts the sources it cites: '
                                 'negation only in the source)</span>')
    unstated = badge({"cited": [1], "supported": False, "label": "not_stated", "score": 0.3,
                      "reasons": ["numbers <b>not</b> in the source: 5.1"]})
    assert unstated.endswith('>?</button><span class="why" hidden>(not stated in the sources it cites: '
                             'numbers &lt;b&gt;not&lt;/b&gt; in the source: 5.1)</span>')
    older = badge({"cited": [1], "supported": False, "score": 0.3, "reasons": []})  # a verdict without a label
    assert older.endswith('<span class="why" hidden>(not stated in the sources it cites)</span>')
    assert badge({"cited": [], "supported": False}).endswith('<span class="why" hidden>(cites no source)</span>')
    assert badge({"cited": [1], "supported": True, "score": 0.9}).startswith('<span class="badge ok"')  # ✓ needs no reason


def test_the_reason_for_a_badge_follows_its_sentence_in_the_answer():
    verdicts = {"Made up.": {"sentence": "Made up.", "cited": [2], "supported": False, "label": "not_stated",
                             "reasons": ["words not in the source: made"]}}
    html = answer_html(1, "Made up [2]. Next one.", verdicts, {2})
    assert html.index('class="badge na"') < html.index('class="why" hidden>(not stated') < html.index("Next one.")
    from ui.render import HEAD
    assert "button.badge" in HEAD and "text.hidden = !text.hidden" in HEAD  # the click (or Enter/Space) toggles it



def test_checked_answers_carry_a_legend_and_an_extractive_check_reads_as_quoted():
    llm = chat_html([dict(TURN, answer=dict(TURN["answer"], backend="openai"))])
    assert '<div class="legend">✓ supported by the cited source · ✗ the source says otherwise · ? not stated in the source</div>' in llm
    extractive = chat_html([TURN])
    assert "✓ = quoted from the source" in extractive and "supported by the cited source" not in extractive
    assert 'class="legend"' not in chat_html([dict(TURN, verdicts=[])])  # nothing checked, nothing to explain
    assert 'class="legend"' not in chat_html([dict(TURN, pending=True)])


def test_removed_citations_are_named_under_the_answer():
    chat = chat_html([dict(TURN, answer=dict(TURN["answer"], dropped_citations=[9, 12]))])
    assert '<div class="dropped">[9], [12] removed: not a source</div>' in chat
    assert 'class="dropped"' not in chat_html([TURN])


def test_a_rewritten_follow_up_shows_what_was_searched():
    rewritten = dict(TURN, question="and <its> speed?", answer=dict(TURN["answer"], search_query="alpha <speed> benchmarks"))
    assert '<div class="searched">Searched for: alpha &lt;speed&gt; benchmarks</div>' in chat_html([rewritten])
    same = dict(TURN, answer=dict(TURN["answer"], search_query=" is <i>ALPHA</i> fast? "))
    assert "Searched for" not in chat_html([same]) and "Searched for" not in chat_html([TURN])


def test_sources_show_a_relevance_word_with_the_numbers_kept_in_a_title():
    weak = dict(SOURCES[1], number=3, paper_id="p3", evidence=0.36, score=0.0164)
    panel = sources_html([dict(TURN, answer=dict(TURN["answer"], sources=[*SOURCES, weak]))])
    assert '<span class="relevance" title="evidence 0.80 (0..1) · retrieval score 0.0300 (fused rank score)">strong match</span>' in panel
    assert ">good match</span>" in panel and ">weak match</span>" in panel
    visible = re.sub(r'title="[^"]*"', "", panel)
    assert not re.search(r"0\.0\d{3}", visible) and "retrieval score" not in visible  # raw fused scores only on hover


def test_the_empty_conversation_offers_example_questions_as_buttons():
    html = chat_html([], ["Is <b>alpha</b> fast?", "Why?"])
    assert '<button type="button" class="example" data-q="Is &lt;b&gt;alpha&lt;/b&gt; fast?">Is &lt;b&gt;alpha&lt;/b&gt; fast?</button>' in html
    assert html.count('class="example"') == 2 and "Ask a question" in html
    assert 'class="examples"' not in chat_html([])  # an empty or unknown collection: no examples
    from ui.render import HEAD
    assert "#chat button.example" in HEAD and '"#question textarea"' in HEAD  # a click fills the question box


def test_example_questions_are_the_samples_when_their_papers_are_in_the_collection():
    import json
    from types import SimpleNamespace

    from ui.app import SAMPLE_EXAMPLES, example_questions

    def engine(papers, titles):
        store = SimpleNamespace(titles_present=lambda asked: set(asked) & set(titles))
        return SimpleNamespace(stats=lambda: SimpleNamespace(papers=papers), store=store)

    assert example_questions(engine(0, [])) == []
    assert example_questions(engine(5, [])) == []
    assert example_questions(engine(247, [t for _, t in SAMPLE_EXAMPLES[:2]])) == [q for q, _ in SAMPLE_EXAMPLES[:2]]
    root = Path(__file__).parents[1]
    evaluated = {json.loads(line)["question"]: json.loads(line)["gold_titles"]
                 for line in open(root / "eval" / "data" / "questions.jsonl", encoding="utf-8")}
    assert all(evaluated[q] == [t] for q, t in SAMPLE_EXAMPLES)  # the eval set's questions, with its gold papers
    sample = open(root / "rag" / "data" / "hf_trending_abstracts.txt", encoding="utf-8").read().splitlines()
    assert all(t in sample for _, t in SAMPLE_EXAMPLES)  # and the bundled sample holds those papers


def test_copy_holds_the_answer_and_its_references_and_each_turn_says_its_state():
    from ui.render import copy_text

    answer = dict(TURN["answer"], citations=TURN["answer"]["citations"] + [{"number": 2, "paper_id": "p2", "title": "Second"}])
    assert copy_text(answer) == ("- Alpha is fast [1].\n- Made up [9].\n\nReferences:\n"
                                 "[1] First <b>Paper</b> (p1)\n[2] Second (p2) https://arxiv.org/abs/1")  # no javascript: link
    chat = chat_html([TURN])
    assert 'data-state="done"' in chat and 'class="copy" data-copy="- Alpha is fast [1].' in chat
    assert "&lt;b&gt;Paper&lt;/b&gt; (p1)" in chat  # escaped in the attribute too
    assert 'data-state="writing"' in chat_html([dict(TURN, pending=True)]) and 'class="copy"' not in chat_html([dict(TURN, pending=True)])
    assert 'data-state="failed"' in chat_html([dict(TURN, error="boom")])
    assert 'data-state="stopped"' in chat_html([dict(TURN, stopped=True)])


def test_a_kept_conversation_comes_back_as_it_was_shown():
    import json

    from ui.app import ChatApp

    kept = ChatApp.save([TURN, dict(TURN, pending=True)])
    assert len(kept) == 1 and kept[0]["highlights"] == {"1": ["Alpha is fast."]}  # JSON, as the browser holds it
    json.dumps(kept)
    assert sources_html(kept) == sources_html([TURN]) and chat_html(kept) == chat_html([TURN])

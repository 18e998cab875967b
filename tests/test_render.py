"""The UI's HTML and Markdown, without a browser: links, badges, escaping, export."""

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
    assert contradicted == ('<span class="badge no" title="contradicts the sources it cites: '
                            'negation only in the source">✗</span>')
    unstated = badge({"cited": [1], "supported": False, "label": "not_stated", "score": 0.3,
                      "reasons": ["numbers not in the source: 5.1"]})
    assert unstated == '<span class="badge na" title="not stated in the sources it cites: numbers not in the source: 5.1">?</span>'
    older = badge({"cited": [1], "supported": False, "score": 0.3, "reasons": []})  # a verdict without a label
    assert older == '<span class="badge na" title="not stated in the sources it cites">?</span>'

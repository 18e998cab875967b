"""Grounding (rag/grounding.py): each answer sentence checked against the sources, citations fixed,
unsupported sentences marked or removed; and the engine doing it for LLM answers behind a setting."""

import re

import pytest

from rag.citations import SIMPLE_MARKER
from rag.grounding import Grounder, with_citations
from rag.query import Query
from rag.settings import Settings
from rag.support import AnswerChecker, SupportChecker
from rag.support.statements import is_claim
from rag.types import Source
from test_openai_backend import engine_for, fake  # noqa: F401  (the scripted server and an engine on it)

CORAL = ("Healthy coral reefs are noisy places, and their soundscape reveals fish activity. We deploy arrays of "
         "16 hydrophones on three reefs in the Red Sea for 11 months. A convolutional classifier detects snapping "
         "shrimp and grouper calls with 93% accuracy.")
LATTICE = ("Post-quantum signatures based on lattices usually need large public keys. We introduce a signature "
           "scheme over module lattices whose public keys are 672 bytes. Signing takes 0.3 milliseconds on a "
           "laptop CPU, three times faster than Dilithium.")
SOURCES = [Source(1, "1903.00002", "Coral Reef Acoustic Monitoring", CORAL, 1.0),
           Source(2, "2205.00003", "A Lattice-Based Signature Scheme", LATTICE, 0.9)]

SUPPORTED = "The study deployed arrays of 16 hydrophones on three reefs in the Red Sea [1]."
UNCITED = "The public keys of the lattice signature scheme are 672 bytes."
MISCITED = "A convolutional classifier detects grouper calls with 93% accuracy [2]."
INVENTED = "The classifier also runs on a smartwatch with 12 mW of power [1]."


@pytest.fixture(scope="module")
def checker():
    return AnswerChecker(SupportChecker())


def ground(checker, text, mode="mark"):
    return Grounder(checker, mode).ground(text, SOURCES)


def test_a_supported_cited_sentence_is_left_as_written(checker):
    g = ground(checker, f"{SUPPORTED}\n{UNCITED}")
    assert g.text.split("\n") == [SUPPORTED, "The public keys of the lattice signature scheme are 672 bytes [2]."]
    assert [r[0] for r in g.recited] == [g.text.split("\n")[1]] and not g.unsupported


def test_a_sentence_that_cites_nothing_gets_the_citation_of_the_source_that_supports_it(checker):
    g = ground(checker, f"{SUPPORTED} {UNCITED}")
    assert g.text == f"{SUPPORTED} The public keys of the lattice signature scheme are 672 bytes [2]."
    assert g.recited == [("The public keys of the lattice signature scheme are 672 bytes [2].", [], [2])]
    assert any("cited nothing" in n for n in g.notes)


def test_a_wrong_citation_is_corrected_to_the_supporting_source(checker):
    g = ground(checker, MISCITED)
    assert g.text == "A convolutional classifier detects grouper calls with 93% accuracy [1]."
    assert any("corrected citation [2] to [1]" in n for n in g.notes)


def test_a_sentence_no_source_supports_is_marked_and_kept(checker):
    g = ground(checker, f"{SUPPORTED} {INVENTED}")
    assert g.text == f"{SUPPORTED} {INVENTED}"
    assert g.unsupported == [INVENTED]
    assert g.notes == ["grounding: 1 sentence is not supported by any source and marked: check before trusting"]


def test_a_sentence_no_source_supports_is_removed_when_asked(checker):
    g = ground(checker, f"{SUPPORTED} {INVENTED}\n\n- {INVENTED}\n- {UNCITED}", mode="remove")
    assert g.text == f"{SUPPORTED}\n\n- The public keys of the lattice signature scheme are 672 bytes [2]."
    assert g.removed == [INVENTED, INVENTED] and not g.unsupported
    assert "2 sentences not supported by any source were removed" in " ".join(g.notes)


@pytest.mark.parametrize("line", [
    "Based on the sources, here is what they report:",
    "The sources do not mention how much power the classifier uses.",
    "In summary, according to the provided sources:",
])
def test_lead_ins_and_abstention_lines_are_not_flagged(checker, line):
    assert not is_claim(line)
    g = ground(checker, f"{line}\n{SUPPORTED} {INVENTED}", mode="remove")
    assert g.text == f"{line}\n{SUPPORTED}" and g.removed == [INVENTED]


def test_a_claim_is_a_claim():
    assert all(is_claim(s) for s in (SUPPORTED, UNCITED, MISCITED, INVENTED, "Overall, the reefs got quieter."))


def test_markers_go_before_the_final_punctuation():
    assert with_citations("Keys are 672 bytes.", [2]) == "Keys are 672 bytes [2]."
    assert with_citations("Keys are small", [1, 2]) == "Keys are small [1][2]"


# -- the engine ---------------------------------------------------------------------------------------------

QUESTION = "How many hydrophones were deployed on the reefs?"
#: A small model's answer: one right citation, one missing, one wrong, one invented claim.
RAW = ("Based on the sources, here is what they report:\n"
       "The study deployed arrays of 16 hydrophones [1]. It ran for 11 months on three reefs in the Red Sea. "
       "Acoustic richness declined by 30% on the reef that bleached [3]. "
       "The hydrophones also detected whale songs 40 km away [1].")



def consistent(answer) -> bool:
    """Every [n] in the text is a source and in the citations, and every citation is in the text."""
    in_text = {int(n) for n in SIMPLE_MARKER.findall(answer.text)}
    return in_text == {c.number for c in answer.citations} and in_text <= {s.number for s in answer.sources}


def test_with_grounding_on_an_openai_answer_is_cited_sentence_by_sentence(tiny_index, fake):
    fake.enqueue(RAW)
    stream = engine_for(tiny_index, fake.base_url, grounding="on").stream(QUESTION)
    shown = "".join(stream)
    answer = stream.answer
    assert "[3]" in shown and "11 months on three reefs in the Red Sea." in shown  # the stream shows the model's text
    coral = next(s.number for s in answer.sources if s.paper_id == "1903.00002")
    assert coral == 1
    assert "It ran for 11 months on three reefs in the Red Sea [1]." in answer.text
    assert "declined by 30% on the reef that bleached [1]." in answer.text
    assert answer.text.startswith("Based on the sources, here is what they report:\n")
    assert answer.unsupported == ["The hydrophones also detected whale songs 40 km away [1]."]
    assert answer.flagged == answer.unsupported
    assert any("not supported by any source" in n for n in answer.notes)
    assert consistent(answer) and "ground_s" in answer.timings


def test_with_grounding_off_an_openai_answer_is_left_as_the_model_cited_it(tiny_index, fake):
    fake.enqueue(RAW)
    answer = engine_for(tiny_index, fake.base_url, grounding="off").ask(QUESTION)
    assert "It ran for 11 months on three reefs in the Red Sea." in answer.text
    assert not answer.flagged and not answer.unsupported and not any(n.startswith("grounding") for n in answer.notes)


def test_auto_grounds_the_local_backend_only(tiny_index, fake):
    engine = engine_for(tiny_index, fake.base_url)
    assert engine.settings.grounding == "auto"
    assert engine.grounder_for("openai") is None and engine.grounder_for("extractive") is None
    assert engine.grounder_for("local") is not None
    forced = engine_for(tiny_index, fake.base_url, grounding="on")
    assert forced.grounder_for("openai") is not None and forced.grounder_for("extractive") is None


def test_remove_setting_takes_unsupported_sentences_out_and_keeps_citations_consistent(tiny_index, fake):
    fake.enqueue(RAW)
    engine = engine_for(tiny_index, fake.base_url, grounding="on", grounding_unsupported="remove")
    answer = engine.ask(Query(QUESTION))
    assert "whale" not in answer.text and not answer.flagged
    assert any("were removed" in n or "was removed" in n for n in answer.notes)
    assert consistent(answer) and re.search(r"\[1\]\.$", answer.text)


def test_the_grounding_setting_comes_from_the_environment():
    assert Settings.load(environ={"RAG_GROUNDING": "on", "RAG_GROUNDING_UNSUPPORTED": "remove"}).grounding == "on"


def test_the_ui_shows_what_grounding_did_and_why_a_sentence_is_marked(tiny_index, fake):
    from rag.support import AnswerChecker, SupportChecker
    from ui.render import answer_notes, badge

    fake.enqueue(RAW)
    engine = engine_for(tiny_index, fake.base_url, grounding="on")
    answer = engine.ask(QUESTION)
    notes = answer_notes(QUESTION, answer.to_dict())
    assert '<div class="grounding">1 sentence is not supported by any source and marked' in notes
    verdicts = AnswerChecker(SupportChecker(embedder=engine.embedder)).sentence_verdicts(answer)
    whale = next(v for v in verdicts if "whale" in v.sentence)
    assert not whale.supported and "no retrieved source supports it" in badge(whale.to_dict())

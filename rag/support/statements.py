"""An answer as statements: its sentences, without markers, with the source numbers each cites."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from ..citations import SIMPLE_MARKER

#: A bullet or numbered-list prefix: "- ", "* ", "• ", "1. ", "2) ".
LIST_ITEM = re.compile(r"^(?:[-*•]|\d{1,2}[.)])\s+")


@dataclass
class Statement:
    text: str  # without citation markers
    cited: list[int] = field(default_factory=list)


def statements(answer: str, skip: Sequence[str] = ()) -> list[Statement]:
    """Answer sentences with the source numbers each cites. Lines in ``skip`` (preambles) are not claims."""
    from ..chunking import split_sentences

    out: list[Statement] = []
    for line in answer.splitlines():
        line = LIST_ITEM.sub("", line.strip())
        if not line or line in skip:
            continue
        for sent in split_sentences(line):
            st = parse_sentence(sent)
            if not re.search(r"[A-Za-z0-9]", st.text):  # a stray "[2]." after a sentence belongs to it
                if out:
                    out[-1].cited.extend(n for n in st.cited if n not in out[-1].cited)
                continue
            out.append(st)
    return out


def parse_sentence(sentence: str) -> Statement:
    """A sentence's text without its ``[n]`` markers, and the numbers it cites."""
    cited = [int(n) for n in SIMPLE_MARKER.findall(sentence)]
    text = re.sub(r"\s+([.,;:!?])", r"\1", SIMPLE_MARKER.sub("", sentence).strip())
    return Statement(text, list(dict.fromkeys(cited)))


#: Sentences about the answer or the sources rather than about the papers' content: lead-ins
#: ("Based on the sources, here is what they say:") and abstentions ("The sources do not say ...").
_ABOUT_SOURCES = re.compile(
    r"\b(sources?|abstracts?|context|papers?|documents?|excerpts?|evidence|information)\b.{0,60}?"
    r"\b(do(es)?\s+not|don't|doesn't|did\s+not|no|not|neither|nor)\b.{0,40}?"
    r"\b(mention|say|state|specify|provide|contain|report|include|discuss|address|give|describe|cover|enough)",
    re.IGNORECASE,
)
_CANNOT = re.compile(r"\b(INSUFFICIENT_EVIDENCE|I (cannot|can't|am unable to)|not enough information)\b", re.IGNORECASE)
#: Words that carry no claim in a lead-in or a wrap-up sentence (stemmed like content terms).
_DISCOURSE = (
    "according answer based context document evidence excerpt find finding follow following found given here "
    "information key list mention note overall point provid question regard relat relevant say source summar "
    "summari summary the these topic answer detail main abstract describ discuss"
)


def is_claim(sentence: str) -> bool:
    """Whether an answer sentence states something about the papers that a source must support.

    Not claims: a lead-in ending in ":" ("Here is what the sources report:"), a sentence made only of
    discourse words ("Based on the sources, in summary:"), and an abstention ("The sources do not
    mention the memory cost.", "INSUFFICIENT_EVIDENCE")."""
    from .text import content_terms, entities, numbers

    text = parse_sentence(sentence).text
    if not re.search(r"[A-Za-z0-9]", text) or _CANNOT.search(text) or _ABOUT_SOURCES.search(text):
        return False
    if numbers(text) or entities(text):
        return True
    if text.rstrip().endswith(":"):
        return False
    return bool(content_terms(text) - content_terms(_DISCOURSE))

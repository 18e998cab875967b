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

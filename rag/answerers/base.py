"""What every answerer returns, and the abstention sentinel they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: The one string an answerer uses to say "the sources do not answer this".
CANNOT_ANSWER = "INSUFFICIENT_EVIDENCE"


@dataclass
class Draft:
    """An answerer's raw output: ``text`` still has the markers as written."""

    text: str
    abstained: bool = False
    usage: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


#: Citation markers (possibly unfinished, as while streaming) that small models put before the sentinel.
_LEADING_MARKERS = re.compile(r"^(?:\s*\[[\d,\s\-\u2013]*\]?)+")


def sentinel_head(text: str) -> str:
    """The start of a reply, normalised to compare with the sentinel: without leading citation markers
    ("[1] [2] INSUFFICIENT_EVIDENCE"), quotes and markup, upper-cased, spaces as underscores."""
    head = _LEADING_MARKERS.sub("", text.strip()).strip()
    return head.strip("\"'`*").upper().replace(" ", "_")


def is_abstention(text: str) -> bool:
    """True when the reply *is* the sentinel (give or take quotes, markup, leading citation markers and a
    trailing remark), not when an answer merely mentions "insufficient evidence"."""
    return sentinel_head(text).startswith(CANNOT_ANSWER)

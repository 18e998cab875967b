"""What every answerer returns, and the abstention sentinel they share."""

from __future__ import annotations

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


def is_abstention(text: str) -> bool:
    """True when the reply *is* the sentinel (give or take quotes, markup and a trailing remark),
    not when an answer merely mentions "insufficient evidence"."""
    head = text.strip().strip("\"'`*").upper().replace(" ", "_")
    return head.startswith(CANNOT_ANSWER)

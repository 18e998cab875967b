"""Text that is safe to print to a terminal.

Answers, titles and error messages come from abstracts, LLM replies and servers; an
ANSI escape in any of them could recolour, hide or rewrite what the user sees (or set
the window title, or write to the clipboard). Everything the CLI prints goes through
:func:`safe_for_terminal` first.
"""

from __future__ import annotations

import re

#: ESC sequences: CSI (``ESC [ ... final``), OSC/DCS/APC/PM/SOS strings (up to BEL or ST), two-byte escapes.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x90\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
#: C0 controls except tab and newline, DEL, C1 controls, and the bidi overrides that can reorder a line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_for_terminal(text: object) -> str:
    """``text`` without escape sequences and control characters (newlines and tabs stay)."""
    s = str(text).replace("\r\n", "\n")
    return _CONTROL.sub("", _ESCAPE.sub("", s))


def json_for_terminal(dumped: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the controls that JSON leaves
    raw (DEL, C1, bidi overrides) written as ``\\uXXXX`` escapes: the same JSON, safe to print."""
    return re.sub(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group(0)):04x}", dumped)

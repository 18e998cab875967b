"""Text utilities of the support checker: numbers, names and content terms of a claim or a source.

Pure functions over strings; the only model they touch is the Snowball stemmer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..citations import SIMPLE_MARKER

_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORDS = {
    **_UNITS, **_TENS, "hundred": 100, "thousand": 1000,
    "twice": 2, "double": 2, "triple": 3, "half": 0.5, "quarter": 0.25, "single": 1, "dozen": 12,
}
#: Words that are numbers in a source but too ambiguous to hold a claim to ("one of", "a probabilistic one").
_SOURCE_ONLY_WORDS = {"one": 1}
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9, "trillion": 1e12}
_NUMBER_IN_TOKEN = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)([a-z]*)", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./+]*[A-Za-z0-9+]|[A-Za-z0-9]")


STOP = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have how in into is it its "
    "of on or our that the their them then there these they this those to was we were what when which while who "
    "will with would also such than via using use used uses both more most other some new paper papers authors "
    "author work approach method methods propose proposes proposed show shows shown present presents study "
    "introduce introduces based".split()
)


def numbers(text: str, strict: bool = True) -> set[float]:
    """Numbers in ``text``: digits (with k/M/B and million/billion scales) and number words.

    Tokens that start with a letter are names, not quantities: ``A100``, ``Llama-70B``, ``INT8``.
    ``strict=False`` (for sources) also reads "one" as 1.
    """
    found: set[float] = set()
    tokens = text.replace("~", " ").split()
    for i, raw in enumerate(tokens):
        token = raw.strip("()[]{},;:!?\"'+≈<>=$").replace(",", "")
        if not token or not token[0].isdigit():
            continue
        nxt = tokens[i + 1].strip(".,;:()").lower() if i + 1 < len(tokens) else ""
        for m in _NUMBER_IN_TOKEN.finditer(token):
            value = float(m.group(1))
            found.add(value)
            suffix = m.group(2).lower()
            scale = suffix if suffix in ("k", "m", "b") else (nxt if nxt in _SCALE and len(nxt) > 1 else "")
            if scale:
                found.add(value * _SCALE[scale])
    words = _NUMBER_WORDS if strict else {**_NUMBER_WORDS, **_SOURCE_ONLY_WORDS}
    for m in re.finditer(r"\b([a-z]+)(?:-([a-z]+))?\b", text.lower()):
        head, tail = m.group(1), m.group(2)
        if head in _TENS and tail in _UNITS:  # "fifty-nine"
            found.add(float(_TENS[head] + _UNITS[tail]))
            continue
        for word in (head, tail):
            if word in words:
                found.add(float(words[word]))
    return found


def same_number(value: float, pool: set[float]) -> bool:
    """``value`` is in ``pool`` as is, or as the same share written as a percentage (0.5 and 50%)."""
    return any(abs(value - p) < 1e-9 or abs(value * 100 - p) < 1e-6 or abs(value - p * 100) < 1e-6 for p in pool)


_NAME_SUFFIX = re.compile(
    r"-(style|based|like|aware|specific|generated|level|wise|free|driven|centric|scale|sized|only|friendly|"
    r"enabled|powered|oriented|agnostic|bound|heavy|intensive|efficient|hardness|hard|complete)$",
    re.IGNORECASE,
)


def entities(text: str) -> list[str]:
    """Names a claim commits to: tokens mixing letters and digits, acronyms, CamelCase, mid-sentence capitals."""
    out = []
    tokens = _TOKEN.findall(text)
    for i, tok in enumerate(tokens):
        core = _NAME_SUFFIX.sub("", tok.strip("-./"))  # "NLP-style", "AI-generated": the name is NLP, AI
        if len(core) < 2 or core.lower() in STOP or core[0].isdigit():
            continue
        has_digit = any(c.isdigit() for c in core)
        uppers = sum(c.isupper() for c in core)
        if (has_digit and any(c.isalpha() for c in core)) or uppers >= 2 or (i > 0 and core[0].isupper() and not _sentence_start(text, tok)):
            out.append(core)
    return list(dict.fromkeys(out))


def _sentence_start(text: str, token: str) -> bool:
    idx = text.find(token)
    before = text[:idx].rstrip()
    return not before or before[-1] in ".:;!?\"'("


def entity_in(entity: str, squashed_source: str) -> bool:
    key = squash(entity)
    return key in squashed_source or (key.endswith("s") and key[:-1] in squashed_source)


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9+#]", "", text.lower())


def fmt_number(n: float) -> str:
    return str(int(n)) if n == int(n) else f"{n:g}"


@lru_cache(maxsize=1)
def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> set[str]:
    words = [w for w in re.findall(r"[a-z][a-z0-9\-]*|\d+(?:\.\d+)?", text.lower()) if w not in STOP and len(w) > 1]
    return set(stemmer().stemWords(words))


def term_recall(claim_terms: set[str], source_terms: set[str]) -> float:
    return len(claim_terms & source_terms) / len(claim_terms) if claim_terms else 0.0


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", SIMPLE_MARKER.sub("", text)).strip()

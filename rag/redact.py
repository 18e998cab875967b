"""Keep secrets out of what we print and write: API keys, and credentials inside URLs.

``redact_url("http://user:pw@host/v1?api_key=k")`` -> ``"http://user:***@host/v1?api_key=***"``;
:func:`redact_text` does the same to every URL in a message and masks anything shaped like
an API key; :func:`looks_like_secret` tells whether one value should never be echoed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Query parameters that carry credentials (``?api_key=``, ``?token=``, ``?sig=``...).
_SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session", re.IGNORECASE)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
#: Shapes of API keys and bearer tokens: ``sk-...``, ``hf_...``, ``ghp_...``, ``Bearer ...``.
_KEY = re.compile(
    r"\b(?:sk|pk|rk|xox[abpr]|glpat|AKIA)[-_][A-Za-z0-9_\-]{16,}|\b(?:hf|gh[pousr])_[A-Za-z0-9]{30,}"
    r"|\bBearer\s+[A-Za-z0-9_\-.=+/]{8,}",
    re.IGNORECASE,
)
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-.=+]{32,}$")


def redact_url(url: str | None) -> str | None:
    """``url`` with the password (or a lone user token) and credential query values masked."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if sep else f"{MASK}@{host}"  # a lone userinfo is usually a token
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with credentials in URLs, key-shaped words and the given ``secrets`` masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: redact_url(m.group(0)) or "", text)
    return _KEY.sub(MASK, text)


def looks_like_secret(value: object) -> bool:
    """True for a value that may be a credential: key-shaped, or one long token of letters and digits."""
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if _KEY.search(value):
        return True
    if redact_url(value) != value:
        return True
    return bool(_TOKENISH.match(value)) and bool(re.search(r"\d", value)) and bool(re.search(r"[A-Za-z]", value))

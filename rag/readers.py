"""Read abstracts from files: the sample's text format, JSONL/JSON, CSV, arXiv snapshots.

Every reader yields ``(where, Paper | str)`` pairs: ``where`` is a human position
("line 12"), and a string in place of a paper is the reason that record was skipped.
A bad record never stops a file; an unreadable file raises :class:`InputError`.

Every format is streamed a record at a time (see :mod:`rag.textio` for the bounds on
lines and decompression), and every field is checked as it is read: a record whose
title, abstract, id, year, authors, categories or url is not what it should be is
skipped with its reason rather than passed on to break a question later.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InputError
from .jsonarray import JsonArray
from .textio import BadLine, bounded_lines, open_binary, sniff, too_long
from .types import Paper

__all__ = [
    "check_readable", "derive_id", "detect_format", "estimate_records", "formats_help", "legacy_id", "read_papers",
    "sniff", "slugify",
]

Record = tuple[str, "Paper | str"]

FORMATS = {
    ".txt": "text",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",  # arXiv's snapshot is JSON lines named .json; a JSON array also works
    ".csv": "csv",
    ".tsv": "csv",
}
_FORMAT_NAMES = {
    "text": "title and abstract lines alternating",
    "jsonl": "JSON lines or a JSON array, the arXiv snapshot too",
    "csv": "a header row with title and abstract columns",
}
SUPPORTED = "text (.txt: title and abstract lines alternating), JSON lines (.jsonl/.ndjson/.json, including the arXiv metadata snapshot) or CSV (.csv/.tsv), optionally gzipped (.gz)"

MIN_ABSTRACT_CHARS = 50
MAX_TITLE_CHARS = 500
MAX_ABSTRACT_CHARS = 100_000  # the longest real abstracts run to a few thousand
MAX_ID_CHARS = 200
MAX_URL_CHARS = 2_000
MAX_AUTHORS = 100  # kept per paper (a physics collaboration lists thousands; the rest are dropped)
MAX_NAME_CHARS = 200
MAX_CATEGORIES = 50
MAX_CATEGORY_CHARS = 100
YEAR_MIN, YEAR_MAX = 1000, 2100
MAX_CSV_RECORD_BYTES = 4 << 20  # one CSV record, quoted line breaks and all
ESTIMATE_MAX_BYTES = 512 << 20  # estimate_records counts lines up to this size
_TEXT_TITLE_CHARS = 300  # in the text format, a longer line where a title should be is taken for an abstract
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?$", re.IGNORECASE)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


def formats_help() -> str:
    """Every extension the readers accept, by format, for ``rag ingest --help`` (derived from FORMATS)."""
    by_format: dict[str, list[str]] = {}
    for ext, fmt in FORMATS.items():
        by_format.setdefault(fmt, []).append(ext)
    kinds = "; ".join(f"{', '.join(exts)} ({_FORMAT_NAMES.get(fmt, fmt)})" for fmt, exts in by_format.items())
    return f"{kinds}; any of them gzipped (.gz)"


def detect_format(path: Path) -> str:
    """The reader for ``path``, from its extension; unknown types are an :class:`InputError`."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext not in FORMATS:
        shown = ext or "(no extension)"
        raise InputError(f"Unknown file type {shown} for {path}: rag reads {SUPPORTED}.")
    return FORMATS[ext]


def check_readable(path: Path) -> str:
    """Validate a path before any work starts; returns its format."""
    if not path.exists():
        raise InputError(f"No such file: {path}. Check the path.")
    if path.is_dir():
        raise InputError(f"{path} is a directory: pass the abstract files inside it.")
    fmt = detect_format(path)
    try:
        problem = sniff(path)
        if problem:
            raise InputError(f"Cannot read {path}: {problem}. rag reads {SUPPORTED}.")
        if fmt == "csv":
            with open_binary(path) as raw:
                _csv_header(path, _CsvLines(raw))  # a missing title or abstract column fails the file up front
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"Cannot read {path}: {exc}.") from None
    return fmt


def read_papers(path: Path) -> Iterator[Record]:
    """Yield ``(where, paper_or_reason)`` for every record in ``path``, one at a time."""
    fmt = check_readable(path)
    reader = {"text": _read_text, "jsonl": _read_jsonl, "csv": _read_csv}[fmt]
    try:
        with open_binary(path) as fh:
            yield from reader(path, fh)
    except (OSError, EOFError, zlib.error) as exc:  # e.g. a truncated .gz, found part-way through
        raise InputError(f"Cannot read {path} to the end: {exc}. Fix or re-download the file.") from None


def estimate_records(path: Path) -> int | None:
    """A cheap guess of how many records ``path`` holds (for progress bars); ``None`` for large or gzipped files.

    Counts non-blank lines a chunk at a time, so a file of one endless line costs no memory."""
    if path.suffix.lower() == ".gz" or path.stat().st_size > ESTIMATE_MAX_BYTES:
        return None
    lines, open_line = 0, False  # open_line: the current line has something besides whitespace
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            *done, rest = chunk.split(b"\n")
            for part in done:
                lines += bool(open_line or part.strip())
                open_line = False
            open_line = open_line or bool(rest.strip())
    lines += open_line
    fmt = detect_format(path)
    return max(lines // 2, 1) if fmt == "text" else max(lines - (fmt == "csv"), 1)


# -- text format ---------------------------------------------------------------


def _read_text(path: Path, fh: IO[bytes]) -> Iterator[Record]:
    """Titles and abstracts on alternating lines, read with one line of look-ahead (the pending title).

    Short lines at the top of the file that no abstract follows (a page's header) are dropped
    silently; after the first paper, such a line is reported as a title without an abstract."""
    pending: tuple[str, str] | None = None
    at_start = True  # nothing read yet but short lines without an abstract after them
    for where, text in _text_body(_decoded_lines(fh)):
        if isinstance(text, BadLine):
            at_start = False
            yield where, str(text)
        elif pending is None:
            if len(text) > _TEXT_TITLE_CHARS:
                at_start = False
                yield where, f"expected a title but found {len(text)} characters of text (is the title line above it missing?)"
            else:
                pending = (where, text)
        elif len(text) < MIN_ABSTRACT_CHARS:
            # a short line where the abstract should be: most likely the next title
            if not at_start:
                yield pending[0], f"title '{_short(pending[1])}' is followed by a {len(text)}-character line, not an abstract"
            pending = (where, text)
        else:
            at_start = False
            yield pending[0], _paper_or_reason({"title": pending[1], "abstract": text})
            pending = None
    if pending is not None:
        yield pending[0], f"title '{_short(pending[1])}' has no abstract line after it"


def _text_body(lines: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Non-blank lines, stripped."""
    for where, text in lines:
        if not isinstance(text, BadLine):
            text = text.strip()
            if not text:
                continue
        yield where, text


def _decoded_lines(fh: IO[bytes]) -> Iterator[tuple[str, str]]:
    for n, raw in bounded_lines(fh):
        if raw is None:
            yield f"line {n}", BadLine(too_long())
            continue
        try:
            text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield f"line {n}", BadLine(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8")
            continue
        yield f"line {n}", text


# -- JSON lines / JSON array ------------------------------------------------------


def _read_jsonl(path: Path, fh: IO[bytes]) -> Iterator[Record]:
    if _first_char(path) == "[":
        for where, item in JsonArray(path, fh).items():
            yield where, str(item) if isinstance(item, BadLine) else _paper_or_reason(item)
        return
    for where, text in _decoded_lines(fh):
        if isinstance(text, BadLine):
            yield where, str(text)
            continue
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            yield where, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        except (ValueError, RecursionError) as exc:  # a number of over 4300 digits; nesting past the stack
            yield where, f"invalid JSON ({'nested too deeply' if isinstance(exc, RecursionError) else exc})"
            continue
        yield where, _paper_or_reason(item)


def _first_char(path: Path) -> str:
    with open_binary(path) as fh:
        head = fh.read(4096).decode("utf-8-sig", errors="replace").lstrip()
    return head[:1]


# -- CSV -------------------------------------------------------------------------


class _CsvLines:
    """Physical lines for :mod:`csv`, each at most MAX_LINE_BYTES; remembers which could not be read."""

    def __init__(self, fh: IO[bytes]):
        self.fh = fh
        self.problems: dict[int, str] = {}
        self.record_bytes = 0  # bytes of the record being parsed (reset by the reader after each row)

    def __iter__(self) -> Iterator[str]:
        for n, raw in bounded_lines(self.fh):
            if raw is None:
                self.problems[n] = too_long()
                yield "\n"
                continue
            self.record_bytes += len(raw)
            if self.record_bytes > MAX_CSV_RECORD_BYTES:
                raise _RecordTooLong(f"line {n}: a CSV record runs over {MAX_CSV_RECORD_BYTES >> 20} MiB")
            try:
                yield raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                self.problems[n] = "not valid UTF-8; re-save the file as UTF-8"
                yield raw.decode("utf-8", errors="replace")


def _read_csv(path: Path, fh: IO[bytes]) -> Iterator[Record]:
    lines = _CsvLines(fh)
    reader, fields = _csv_header(path, lines)
    start, lines.record_bytes = reader.line_num + 1, 0
    lines.problems.clear()  # the header's own (a bad one fails the file in check_readable)
    try:
        for row in reader:
            where, end = f"line {start}", reader.line_num
            problems = [lines.problems.pop(k) for k in sorted(lines.problems) if k <= end]
            start, lines.record_bytes = end + 1, 0
            if problems:
                yield where, problems[0]
            elif not row:
                continue
            elif len(row) > len(fields):
                yield where, f"has {len(row) - len(fields)} more field(s) than the header (an unquoted comma?)"
            else:
                yield where, _paper_or_reason(dict(zip(fields, row)))
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: {exc}; fix the quoting there (an unclosed quote?).") from None
    except _RecordTooLong as exc:
        raise InputError(f"{path}, {exc}; fix the quoting there (an unclosed quote?).") from None


class _RecordTooLong(Exception):
    pass


def _csv_header(path: Path, lines: _CsvLines) -> tuple[Any, list[str]]:
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        fields = next(reader, [])
    except (csv.Error, _RecordTooLong) as exc:
        raise InputError(f"{path} has no readable header row ({exc}). A CSV of abstracts needs a header row with title and abstract columns.") from None
    columns = {(c or "").strip().lower() for c in fields}
    missing = {"title", "abstract"} - columns
    if missing and not ("summary" in columns and missing == {"abstract"}):
        found = _short(", ".join(sorted(columns)), 200) or "none"
        raise InputError(
            f"{path} has no {' or '.join(sorted(missing))} column (found: {found}). "
            "A CSV of abstracts needs a header row with title and abstract columns."
        )
    return reader, fields


# -- mapping records to papers ------------------------------------------------------


def _paper_or_reason(item: Any) -> Paper | str:
    if not isinstance(item, dict):
        return f"expected a JSON object, got {type(item).__name__}"
    try:
        return _make_paper({str(k).strip().lower(): v for k, v in item.items()})
    except ValueError as exc:
        return str(exc)


def _make_paper(rec: dict[str, Any]) -> Paper:
    """The paper a record describes; a ``ValueError`` says why a record is not one.

    BEIR's corpus records (``_id``, ``title``, ``text``) are read too: ``text`` stands for the
    abstract and ``_id`` for the id, and a BEIR record with an empty title is titled by the first
    words of its text (many BEIR corpora have untitled documents; a paper needs a title)."""
    title = _text(rec, "title", MAX_TITLE_CHARS)
    abstract_key = next((k for k in ("abstract", "summary", "text") if rec.get(k) not in (None, "")), "abstract")
    abstract = _text(rec, abstract_key, MAX_ABSTRACT_CHARS)
    if not title and abstract_key == "text" and abstract:
        title = _first_words(abstract)
    if not title:
        raise ValueError("no title")
    if not abstract:
        raise ValueError(f"no abstract for '{_short(title)}'")
    if len(abstract) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"abstract of '{_short(title)}' is only {len(abstract)} characters")
    raw_id = _raw_id(rec)
    return Paper(
        paper_id=raw_id or derive_id(title),
        title=title,
        abstract=abstract,
        url=_url(rec, raw_id),
        authors=_authors(rec),
        year=_year(rec, raw_id),
        categories=_categories(rec.get("categories")),
    )


def _first_words(text: str, words: int = 12, chars: int = 120) -> str:
    """A stand-in title: the first ``words`` words of ``text`` (at most ``chars`` characters), with "…" when cut."""
    head = " ".join(text.split()[:words])
    if len(head) > chars:
        head = head[: chars - 1].rsplit(" ", 1)[0] or head[: chars - 1]
    return head if head == text else head.rstrip(" ,;:.") + "…"


def derive_id(title: str) -> str:
    """The id of a paper its file gives none: readable, and unique to its title.

    ``slug-1a2b3c4d`` (the slug's first 60 characters and 8 hex digits of the title's
    SHA-256), or ``paper-<16 hex digits>`` for a title with no Latin letters or digits.
    It depends on the title alone, so a paper whose abstract is edited keeps its id (and
    is updated), while titles that differ only in punctuation or script never collide."""
    digest = hashlib.sha256(unicodedata.normalize("NFC", " ".join(title.split())).encode()).hexdigest()
    slug = _slug(title, 60)
    return f"{slug}-{digest[:8]}" if slug else f"paper-{digest[:16]}"


def legacy_id(paper: Paper) -> str | None:
    """The id earlier versions gave ``paper`` (its bare slug), when its id is derived; else ``None``."""
    return slugify(paper.title) if paper.paper_id == derive_id(paper.title) else None


def slugify(title: str, max_len: int = 80) -> str:
    """A readable id part from a title: ``"PIM-GPT: A Hybrid ..."`` -> ``"pim-gpt-a-hybrid-..."``."""
    return _slug(title, max_len) or "untitled"


def _slug(title: str, max_len: int) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:max_len].rstrip("-")


def _text(rec: dict[str, Any], key: str, cap: int) -> str:
    value = rec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text, not {_kind(value)}")
    text = _clean(value)
    if len(text) > cap:
        raise ValueError(f"{key} is {len(text)} characters (at most {cap})")
    return text


def _raw_id(rec: dict[str, Any]) -> str:
    for key in ("id", "_id", "paper_id", "arxiv_id", "doi"):
        value = rec.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            hint = " (put it in quotes)" if isinstance(value, float) else ""
            raise ValueError(f"{key} must be text, not {_kind(value)}{hint}")
        text = _clean(str(value))
        if len(text) > MAX_ID_CHARS:
            raise ValueError(f"{key} is {len(text)} characters (at most {MAX_ID_CHARS})")
        if text:
            return text
    return ""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _clean(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _strings(value: Any, what: str) -> list[str]:
    """``value`` as a list of cleaned strings; split on separators when it is one string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [i for i in re.split(r"[;,|]\s*|\s+", _clean(value)) if i] if what == "categories" else [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [i for i in (_clean(v) for v in value) if i]
    raise ValueError(f"{what} must be text or a list of text, not {_kind(value)}")


def _categories(value: Any) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(_strings(value, "categories")))
    if len(items) > MAX_CATEGORIES:
        raise ValueError(f"{len(items)} categories (at most {MAX_CATEGORIES})")
    long = next((c for c in items if len(c) > MAX_CATEGORY_CHARS), None)
    if long:
        raise ValueError(f"category '{_short(long)}' is {len(long)} characters (at most {MAX_CATEGORY_CHARS})")
    return items


def _authors(rec: dict[str, Any]) -> tuple[str, ...]:
    """Names from arXiv's ``authors_parsed`` or ``authors``; past MAX_AUTHORS only the first are kept."""
    parsed = rec.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(isinstance(p, list) and all(isinstance(x, str) for x in p) for p in parsed):
        names = [_clean(" ".join(p for p in (parts[1:2] + parts[:1] + parts[2:3]) if p)) for parts in parsed]
    else:
        value = rec.get("authors")
        names = _strings(value, "authors")
        if isinstance(value, str):
            names = re.split(r";\s*|,\s*(?:and\s+)?|\s+and\s+", _clean(value))
    names = [n.strip() for n in names if n.strip()]
    long = next((n for n in names if len(n) > MAX_NAME_CHARS), None)
    if long:
        raise ValueError(f"author name '{_short(long)}' is {len(long)} characters (at most {MAX_NAME_CHARS})")
    return tuple(names[:MAX_AUTHORS])


def _year(rec: dict[str, Any], raw_id: str) -> int | None:
    year = rec.get("year")
    if year is not None and year != "":
        return _checked_year(year)
    versions = rec.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        m = _YEAR.search(str(versions[0].get("created", ""))[:200])
        if m:
            return int(m.group(1))
    m = _ARXIV_ID.match(raw_id or "")
    if m and "." in m.group(1) and "/" not in m.group(1):
        return 2000 + int(m.group(1)[:2])
    for key in ("published", "date", "update_date"):
        value = rec.get(key)
        m = _YEAR.search(value[:200]) if isinstance(value, str) else None
        if m:
            return int(m.group(1))
    return None


def _checked_year(value: Any) -> int:
    """A year from a number or a date-like string ("2023", "2023-05-01"); plausible or a ``ValueError``."""
    year: int | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        year = value
    elif isinstance(value, float) and value.is_integer():
        year = int(value)
    elif isinstance(value, str):
        m = re.match(r"\s*(\d{4})(?!\d)", value) or _YEAR.search(value[:200])
        year = int(m.group(1)) if m else None
    if year is None:
        raise ValueError(f"year {_short(json.dumps(value) if not isinstance(value, str) else repr(value), 40)} is not a year")
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ValueError(f"year {_short(str(year), 40)} is outside {YEAR_MIN}-{YEAR_MAX}")
    return year


def _url(rec: dict[str, Any], raw_id: str) -> str | None:
    key = "url" if rec.get("url") not in (None, "") else "link"
    value = rec.get(key)
    if value is None or value == "":
        return _url_for(raw_id, rec.get("doi")) or _metadata_url(rec.get("metadata"))
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text, not {_kind(value)}")
    url = _clean(value)
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"{key} is {len(url)} characters (at most {MAX_URL_CHARS})")
    if not re.match(r"https?://", url, re.IGNORECASE):
        raise ValueError(f"{key} '{_short(url)}' is not an http(s) link")
    return url


def _metadata_url(meta: Any) -> str | None:
    """BEIR's ``"metadata": {"url": ...}``, when it is an http(s) link (anything else is ignored, not a skip)."""
    url = _clean(meta.get("url")) if isinstance(meta, dict) and isinstance(meta.get("url"), str) else ""
    return url if re.match(r"https?://", url, re.IGNORECASE) and len(url) <= MAX_URL_CHARS else None


def _url_for(raw_id: str, doi: Any) -> str | None:
    m = _ARXIV_ID.match(raw_id or "")
    if m:
        return f"https://arxiv.org/abs/{m.group(1)}"
    if isinstance(doi, str) and 0 < len(_clean(doi)) <= MAX_ID_CHARS:
        return f"https://doi.org/{_clean(doi)}"
    return None

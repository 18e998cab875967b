"""Read abstracts from files: the sample's text format, JSONL/JSON, CSV, arXiv snapshots.

Every reader yields ``(where, Paper | str)`` pairs: ``where`` is a human position
("line 12"), and a string in place of a paper is the reason that record was skipped.
A bad record never stops a file; an unreadable file raises :class:`InputError`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import unicodedata
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InputError
from .types import Paper

Record = tuple[str, "Paper | str"]

FORMATS = {
    ".txt": "text",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",  # arXiv's snapshot is JSON lines named .json; a JSON array also works
    ".csv": "csv",
    ".tsv": "csv",
}
SUPPORTED = "text (.txt: title and abstract lines alternating), JSON lines (.jsonl/.json, including the arXiv metadata snapshot) or CSV (.csv/.tsv), optionally gzipped (.gz)"

MAX_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 50
_HEADER_PREFIXES = ("Get trending papers",)
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?$", re.IGNORECASE)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


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
        with _open_binary(path) as fh:
            fh.read(1)
        if fmt == "csv":
            _csv_columns(path)  # a missing title or abstract column fails the file up front
        elif fmt == "jsonl" and _first_char(path) == "[":
            _json_array(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"Cannot read {path}: {exc}.") from None
    return fmt


def read_papers(path: Path) -> Iterator[Record]:
    """Yield ``(where, paper_or_reason)`` for every record in ``path``."""
    fmt = check_readable(path)
    reader = {"text": _read_text, "jsonl": _read_jsonl, "csv": _read_csv}[fmt]
    try:
        yield from reader(path)
    except (OSError, EOFError, zlib.error) as exc:  # e.g. a truncated .gz, found part-way through
        raise InputError(f"Cannot read {path} to the end: {exc}. Fix or re-download the file.") from None


def estimate_records(path: Path) -> int | None:
    """A cheap guess of how many records ``path`` holds (for progress bars)."""
    if path.suffix.lower() == ".gz" or path.stat().st_size > 512 * 1024 * 1024:
        return None
    with path.open("rb") as fh:
        lines = sum(1 for line in fh if line.strip())
    return max(lines // 2, 1) if detect_format(path) == "text" else max(lines - (detect_format(path) == "csv"), 1)


# -- text format ---------------------------------------------------------------


def _read_text(path: Path) -> Iterator[Record]:
    body: list[tuple[str, str]] = []  # alignment needs look-ahead; text files are small
    for where, text in _decoded_lines(path):
        if isinstance(text, _BadLine):
            yield where, str(text)
        elif text.strip():
            body.append((where, text.strip()))
    had_header = False
    while body and body[0][1].startswith(_HEADER_PREFIXES):
        body.pop(0)
        had_header = True
    if had_header and body and body[0][1].startswith("Subscribe") and len(body[0][1]) > len("Subscribe"):
        # the sample was scraped from a page whose "Subscribe" button precedes the first title
        body[0] = (body[0][0], body[0][1][len("Subscribe"):].lstrip())
    i = 0
    while i < len(body):
        where, title = body[i]
        if len(title) > MAX_TITLE_CHARS:
            yield where, f"expected a title but found {len(title)} characters of text (is the title line above it missing?)"
            i += 1
            continue
        if i + 1 >= len(body):
            yield where, f"title '{_short(title)}' has no abstract line after it"
            break
        abstract = body[i + 1][1]
        if len(abstract) < MIN_ABSTRACT_CHARS:
            # a short line where the abstract should be: most likely the next title
            yield where, f"title '{_short(title)}' is followed by a {len(abstract)}-character line, not an abstract"
            i += 1
            continue
        yield where, _make_paper({"title": title, "abstract": abstract})
        i += 2


class _BadLine(str):
    """A reason standing in for a line that could not be decoded."""


def _decoded_lines(path: Path) -> Iterator[tuple[str, str]]:
    with _open_binary(path) as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield f"line {n}", _BadLine(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8")
                continue
            yield f"line {n}", text


# -- JSON lines / JSON array ------------------------------------------------------


def _read_jsonl(path: Path) -> Iterator[Record]:
    if _first_char(path) == "[":
        for n, item in enumerate(_json_array(path), start=1):
            yield f"record {n}", _paper_or_reason(item)
        return
    for where, text in _decoded_lines(path):
        if isinstance(text, _BadLine):
            yield where, str(text)
            continue
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            yield where, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        yield where, _paper_or_reason(item)


def _json_array(path: Path) -> list[Any]:
    try:
        with _open_binary(path) as fh:
            items = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON: {exc}. Fix it, or write one JSON object per line.") from None
    if not isinstance(items, list):
        raise InputError(f"{path} holds a JSON {type(items).__name__}, not a list of records.")
    return items


def _first_char(path: Path) -> str:
    with _open_binary(path) as fh:
        head = fh.read(4096).decode("utf-8-sig", errors="replace").lstrip()
    return head[:1]


# -- CSV -------------------------------------------------------------------------


def _read_csv(path: Path) -> Iterator[Record]:
    with _open_binary(path) as raw:
        reader = _csv_reader(path, raw)
        start = 2
        for row in reader:
            where = f"line {start}"
            start = reader.line_num + 1
            if None in row:
                yield where, f"has {len(row[None])} more field(s) than the header (an unquoted comma?)"
                continue
            if any("\ufffd" in (v or "") for v in row.values()):
                yield where, "not valid UTF-8; re-save the file as UTF-8"
                continue
            yield where, _paper_or_reason(row)


def _csv_reader(path: Path, raw: IO[bytes]) -> csv.DictReader:
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.DictReader(text, delimiter=delimiter)
    columns = {(c or "").strip().lower() for c in reader.fieldnames or []}
    missing = {"title", "abstract"} - columns
    if missing and not ("summary" in columns and missing == {"abstract"}):
        raise InputError(
            f"{path} has no {' or '.join(sorted(missing))} column (found: {', '.join(sorted(columns)) or 'none'}). "
            "A CSV of abstracts needs a header row with title and abstract columns."
        )
    return reader


def _csv_columns(path: Path) -> None:
    with _open_binary(path) as raw:
        _csv_reader(path, raw)


# -- mapping records to papers ------------------------------------------------------


def _paper_or_reason(item: Any) -> Paper | str:
    if not isinstance(item, dict):
        return f"expected a JSON object, got {type(item).__name__}"
    try:
        return _make_paper({str(k).strip().lower(): v for k, v in item.items()})
    except ValueError as exc:
        return str(exc)


def _make_paper(rec: dict[str, Any]) -> Paper:
    title = _clean(rec.get("title"))
    abstract = _clean(rec.get("abstract") if rec.get("abstract") not in (None, "") else rec.get("summary"))
    if not title:
        raise ValueError("no title")
    if not abstract:
        raise ValueError(f"no abstract for '{_short(title)}'")
    if len(abstract) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"abstract of '{_short(title)}' is only {len(abstract)} characters")
    raw_id = _clean(rec.get("id") or rec.get("paper_id") or rec.get("arxiv_id") or rec.get("doi"))
    paper_id = raw_id or slugify(title)
    return Paper(
        paper_id=paper_id,
        title=title,
        abstract=abstract,
        url=_clean(rec.get("url") or rec.get("link")) or _url_for(raw_id, rec.get("doi")),
        authors=_authors(rec),
        year=_year(rec, raw_id),
        categories=_split_list(rec.get("categories")),
    )


def slugify(title: str, max_len: int = 80) -> str:
    """A readable, stable id from a title: ``"PIM-GPT: A Hybrid ..."`` -> ``"pim-gpt-a-hybrid-..."``."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "untitled"


def _clean(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _split_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items = [_clean(v) for v in value]
    else:
        items = re.split(r"[;,|]\s*|\s+", _clean(value))
    return tuple(dict.fromkeys(i for i in items if i))


def _authors(rec: dict[str, Any]) -> tuple[str, ...]:
    parsed = rec.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = [" ".join(p for p in (parts[1:2] + parts[:1] + parts[2:3]) if p) for parts in parsed if isinstance(parts, list)]
        return tuple(n for n in (_clean(x) for x in names) if n)
    value = rec.get("authors")
    if isinstance(value, (list, tuple)):
        return tuple(n for n in (_clean(v) for v in value) if n)
    text = _clean(value)
    if not text:
        return ()
    parts = re.split(r";\s*|,\s*(?:and\s+)?|\s+and\s+", text)
    return tuple(p.strip() for p in parts if p.strip())


def _year(rec: dict[str, Any], raw_id: str) -> int | None:
    year = rec.get("year")
    if isinstance(year, int):
        return year
    if isinstance(year, (str, float)) and _YEAR.search(str(year)):
        return int(_YEAR.search(str(year)).group(1))
    versions = rec.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        m = _YEAR.search(str(versions[0].get("created", "")))
        if m:
            return int(m.group(1))
    m = _ARXIV_ID.match(raw_id or "")
    if m and "." in m.group(1) and "/" not in m.group(1):
        return 2000 + int(m.group(1)[:2])
    for key in ("published", "date", "update_date"):
        m = _YEAR.search(str(rec.get(key) or ""))
        if m:
            return int(m.group(1))
    return None


def _url_for(raw_id: str, doi: Any) -> str | None:
    m = _ARXIV_ID.match(raw_id or "")
    if m:
        return f"https://arxiv.org/abs/{m.group(1)}"
    if doi:
        return f"https://doi.org/{_clean(doi)}"
    return None


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")

"""Reading stays bounded: long lines, decompression bombs, floods of bad lines, binary files."""

import gzip
import json
import os
import re
import subprocess
import sys
import tracemalloc

import pytest

from rag.errors import InputError
from rag.ingestion import MAX_SKIPS_KEPT, IngestReport, Skip
from rag.readers import check_readable, estimate_records, read_papers, sniff
from rag.textio import MAX_LINE_BYTES

ABSTRACT = "We study a thing carefully and find that it works well on many benchmarks across tasks."
LONG = MAX_LINE_BYTES + 10


def good(title):
    return json.dumps({"title": title, "abstract": ABSTRACT})


def reasons(path):
    return [(w, r if isinstance(r, str) else r.title) for w, r in read_papers(path)]


# -- long lines are skipped unread -------------------------------------------------------------------


def test_a_line_over_the_cap_is_skipped_and_the_next_lines_are_read(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(good("First") + "\n" + json.dumps({"title": "Huge", "abstract": "x" * LONG}) + "\n" + good("Last") + "\n")
    out = reasons(f)
    assert out[0] == ("line 1", "First") and out[2] == ("line 3", "Last")
    assert out[1][0] == "line 2" and "longer than 1 MiB; skipped without reading it" in out[1][1]


def test_a_long_line_in_the_text_format_is_skipped(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("First Title\n" + ABSTRACT + "\n" + "y" * LONG + "\nNext Title\n" + ABSTRACT + "\n")
    out = reasons(f)
    assert out == [("line 1", "First Title"), ("line 3", out[1][1]), ("line 4", "Next Title")] and "1 MiB" in out[1][1]


def test_a_long_csv_line_is_skipped_and_a_runaway_quote_stops_with_where(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(f'title,abstract\nFirst,"{ABSTRACT}"\nHuge,"{"x" * LONG}"\nLast,"{ABSTRACT}"\n')
    out = reasons(f)
    assert out[0] == ("line 2", "First") and out[2] == ("line 4", "Last") and "1 MiB" in out[1][1]
    g = tmp_path / "q.csv"
    g.write_text(f'title,abstract\nFirst,"{ABSTRACT}"\nOpen,"{ABSTRACT}\n' + (ABSTRACT + "\n") * 3000)
    with pytest.raises(InputError, match=r"q.csv, line \d+: field larger than field limit .*unclosed quote"):
        list(read_papers(g))


def test_a_long_item_in_a_json_array_is_skipped(tmp_path):
    f = tmp_path / "p.json"
    f.write_text("[" + good("First") + "," + json.dumps({"title": "Huge", "abstract": "x" * 2 * LONG, "n": [1, {"a": "]"}]})
                 + ', "' + "s\\\"" * LONG + '", ' + good("Last") + "]")  # the cap is soft by one read (64 KiB) here
    out = reasons(f)
    assert [w for w, _ in out] == ["record 1", "record 2", "record 3", "record 4"]
    assert out[0][1] == "First" and out[3][1] == "Last" and "1 MiB" in out[1][1] and "1 MiB" in out[2][1]


def test_estimate_records_counts_without_holding_a_line(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_bytes(b"x" * (40 << 20) + b"\n\n  \n" + good("A").encode() + b"\n")
    tracemalloc.start()
    try:
        assert estimate_records(f) == 2
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


# -- a report keeps the count of skips, not every skip -------------------------------------------------


def test_the_report_counts_every_skip_and_keeps_the_first_ones():
    report = IngestReport(files=["bad.jsonl"])
    for i in range(1000):
        report.skip(Skip("bad.jsonl", f"line {i + 1}", "expected a JSON object, got int"))
    assert len(report.skipped) == MAX_SKIPS_KEPT and report.skipped_count == 1000
    assert report.skipped[-1].where == f"line {MAX_SKIPS_KEPT}"
    assert "0 new, 0 updated, 0 unchanged, 1000 skipped" in report.summary()
    assert "… and 980 more skipped" in report.summary()
    assert report.to_dict()["skipped_count"] == 1000 and len(report.to_dict()["skipped"]) == MAX_SKIPS_KEPT


# -- the command line under hostile files (in-process; slow: a subprocess each, peak memory measured) --


def ingest_peak(path, tmp_path):
    """``rag ingest path`` in a child process: (exit code, stderr + stdout, peak RSS in MB)."""
    script = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'rag', 'ingest', sys.argv[1]], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(p.returncode, round(peak)); print(p.stderr + p.stdout)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_INDEX_DIR"] = str(tmp_path / "index")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env, timeout=300)
    head, _, text = out.stdout.partition("\n")
    code, peak = head.split()
    return int(code), text, int(peak)


@pytest.fixture(scope="module")
def baseline_mb(tmp_path_factory):
    """Peak RSS of ``rag ingest`` on a one-line bad file: the engine's own footprint."""
    d = tmp_path_factory.mktemp("baseline")
    f = d / "one.jsonl"
    f.write_text("1\n")
    code, text, peak = ingest_peak(f, d)
    assert code == 2, text
    return peak


def test_a_gzip_bomb_stops_with_a_clear_message_in_process(tmp_path, monkeypatch, run_cli):
    """The message and exit code, fast: the ceiling lowered to 1 MiB (the memory bound is the slow test below)."""
    monkeypatch.setattr("rag.textio.GZIP_FLOOR_BYTES", 1 << 20)
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b" " * (8 << 20)))
    code, out, err = run_cli("ingest", bomb)
    assert code == 2
    assert "bomb.jsonl.gz decompresses to more than 1 MiB" in err and "decompress it (gunzip)" in err


def test_a_flood_of_bad_lines_is_counted_in_process(tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    f = tmp_path / "bad.jsonl.gz"
    f.write_bytes(gzip.compress((good("The One Good Paper") + "\n").encode() + b"1\n" * 5000))
    code, out, err = run_cli("ingest", f)
    assert code == 0, err
    assert "1 new, 0 updated, 0 unchanged, 5000 skipped" in out and "… and 4980 more skipped" in out


@pytest.mark.slow
def test_a_gzip_bomb_stops_with_a_clear_message_and_bounded_memory(tmp_path, baseline_mb):
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb") as fh:  # 1 GiB of spaces: about 1 MB compressed
        piece = b" " * (1 << 20)
        for _ in range(1024):
            fh.write(piece)
    code, text, peak = ingest_peak(bomb, tmp_path)
    assert code == 2
    assert "bomb.jsonl.gz decompresses to more than 256 MiB" in text and "decompress it (gunzip)" in text
    assert peak < baseline_mb + 100, (peak, baseline_mb)


@pytest.mark.slow
def test_a_flood_of_bad_lines_is_counted_in_bounded_memory(tmp_path, baseline_mb):
    f = tmp_path / "bad.jsonl.gz"
    with gzip.open(f, "wb") as fh:
        fh.write((good("The One Good Paper") + "\n").encode())
        fh.write(b"1\n" * 1_000_000)
    code, text, peak = ingest_peak(f, tmp_path)
    assert code == 0, text
    assert "1 new, 0 updated, 0 unchanged, 1000000 skipped" in text and "… and 999980 more skipped" in text
    assert peak < baseline_mb + 100, (peak, baseline_mb)


# -- a file that is not text is refused up front ------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("photo.jsonl", PNG, "this is not a text file (it looks like a PNG image)"),
    ("paper.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "this is not a text file (it looks like a PDF document)"),
    ("papers.json", b"PK\x03\x04\x14\x00" + bytes(30), "(it looks like a ZIP archive, e.g. .docx or .xlsx)"),
    ("papers.jsonl", gzip.compress(b'{"title": "x"}\n'), "(it looks like gzip-compressed data: name it with a .gz ending)"),
    ("blob.txt", b"abc\x00def\n" * 10, "this is not a text file (it holds NUL bytes)"),
    ("u16.csv", "title,abstract\n".encode("utf-16"), "this is UTF-16 text; re-save it as UTF-8"),
    ("latin1.csv", "titre,résumé\n".encode("latin-1") + b"a,b\n", "this is not UTF-8 text (line 1); re-save it as UTF-8"),
])
def test_sniff_names_what_a_file_is_when_it_is_not_text(tmp_path, name, data, reason):
    f = tmp_path / name
    f.write_bytes(data)
    assert sniff(f).endswith(reason)
    with pytest.raises(InputError, match=f"Cannot read .*{name}: .*" + re.escape(reason)):
        check_readable(f)


def test_sniff_looks_inside_gzip_and_passes_text_with_one_bad_line(tmp_path):
    gz = tmp_path / "photo.jsonl.gz"
    gz.write_bytes(gzip.compress(PNG))
    assert sniff(gz) == "this is not a text file (it looks like a PNG image)"
    f = tmp_path / "ok.jsonl"
    f.write_bytes(good("A").encode() + b"\n" + b'{"title": "\xff"}\n' + good("B").encode() + b"\n" + "é".encode() * 5000)
    assert sniff(f) is None  # one bad line further in is the reader's to skip; a cut multi-byte character is fine

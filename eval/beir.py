"""BEIR-format datasets for `rag eval --beir DIR`: the corpus, the queries and graded judgments.

A BEIR dataset is a directory holding ``corpus.jsonl`` (``_id``, ``title``, ``text``; read by
the ordinary JSON-lines reader, which takes ``_id`` for the id and ``text`` for the abstract),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (query id, corpus id, grade; a
header line). Every query with at least one judgment above 0 becomes a :class:`Question` whose
gold ids are the documents graded above 0 and whose ``relevance`` holds the grades, for graded
nDCG (as BEIR scores it with pytrec_eval). Queries without a positive judgment are left out,
as are queries that the split's qrels do not mention (``queries.jsonl`` holds every split's).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.readers import slugify

from .harness import Question

#: Papers ranked per query in a BEIR run: enough for recall@100.
BEIR_DEPTH = 100


def beir_candidates(stats, configured: int) -> int:
    """Chunks each retriever returns in a BEIR run: enough to rank BEIR_DEPTH papers (with a tenth to
    spare) at the collection's chunks per paper, never fewer than ``configured``, at most 1000."""
    if not stats.papers:
        return configured
    needed = -(-BEIR_DEPTH * stats.chunks * 11 // (stats.papers * 10))  # ceil(depth * chunks a paper * 1.1), exactly
    return min(1000, max(configured, needed))


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset as `rag eval` uses it; ``name`` is the directory's name."""

    name: str
    root: Path
    split: str
    corpus: Path
    questions: list[Question]
    judgments: int  # qrels lines read, every grade included

    @property
    def collection(self) -> str:
        """The Chroma collection its corpus is ingested into, apart from the user's own: ``beir-<name>``."""
        return f"beir-{slugify(self.name, 50)}"

    @property
    def source(self) -> str:
        """How a run names where its questions came from."""
        return f"{self.root} (BEIR, {self.split} split)"


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    """Read a BEIR dataset's queries and ``split`` judgments; the corpus is only checked to exist.

    Every problem is an :class:`InputError` that names the file and what to fix."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory: --beir takes a BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/).")
    corpus, queries_file, qrels_file = root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"
    for path in (corpus, queries_file):
        if not path.is_file():
            raise InputError(f"{root} has no {path.name}: a BEIR dataset directory holds corpus.jsonl, queries.jsonl and qrels/.")
    if not qrels_file.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
        hint = f"; splits found: {', '.join(found)} (use --split)" if found else ""
        raise InputError(f"{root} has no qrels/{split}.tsv{hint}.")
    grades, judgments = read_qrels(qrels_file)
    texts = read_queries(queries_file, wanted=set(grades))
    missing = sorted(set(grades) - set(texts))
    if missing:
        raise InputError(f"{qrels_file} judges {len(missing)} query id(s) that {queries_file.name} lacks, e.g. {missing[0]!r}.")
    questions = []
    for qid, relevance in grades.items():
        positive = {doc: grade for doc, grade in relevance.items() if grade > 0}
        if positive:
            questions.append(Question(id=qid, question=texts[qid], gold_ids=list(positive), type=f"beir-{split}",
                                      relevance=positive))
    if not questions:
        raise InputError(f"{qrels_file} grades no document above 0: there is nothing to find.")
    return BeirDataset(root.name, root, split, corpus, questions, judgments)


def read_qrels(path: Path) -> tuple[dict[str, dict[str, int]], int]:
    """``{query id: {corpus id: grade}}`` in file order, and the number of judgments read.

    Lines are ``query-id<TAB>corpus-id<TAB>score`` (BEIR) or TREC's four columns
    ``query-id 0 corpus-id score``; a first line whose score is not a number is the header."""
    grades: dict[str, dict[str, int]] = {}
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            cells = [c.strip() for c in (row if len(row) > 1 else (row[0].split() if row else []))]
            if not cells or not any(cells):
                continue
            if len(cells) not in (3, 4):
                raise InputError(f"{path}, line {n}: expected query-id, corpus-id and score separated by tabs, got {len(cells)} field(s).")
            qid, doc, score = (cells[0], cells[1], cells[2]) if len(cells) == 3 else (cells[0], cells[2], cells[3])
            try:
                grade = int(float(score))
            except ValueError:
                if n == 1:
                    continue  # the header
                raise InputError(f"{path}, line {n}: the score {score!r} is not a number.") from None
            grades.setdefault(qid, {})[doc] = grade
            count += 1
    if not grades:
        raise InputError(f"{path} holds no judgments.")
    return grades, count


def read_queries(path: Path, wanted: set[str]) -> dict[str, str]:
    """``{query id: text}`` for the ``wanted`` ids of a BEIR ``queries.jsonl``."""
    texts: dict[str, str] = {}
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}, line {n}: invalid JSON ({exc.msg}).") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise InputError(f'{path}, line {n}: a query is {{"_id": ..., "text": ...}}.')
            qid = str(row["_id"])
            if qid in wanted:
                text = " ".join(str(row.get("text") or "").split())
                if not text:
                    raise InputError(f"{path}, line {n}: query {qid!r} has no text.")
                texts[qid] = text
    return texts

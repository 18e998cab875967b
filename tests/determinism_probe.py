"""Ask every question of a JSONL file on an existing index; print one JSON line per question.

Run as a script by tests/test_determinism.py, once per PYTHONHASHSEED, to compare processes:
``python tests/determinism_probe.py INDEX_DIR QUESTIONS.jsonl``.
"""

import json
import sys
from pathlib import Path

from rag.engine import Engine
from rag.query import Query
from rag.settings import Settings

K = 10  # more ranks than the default 5, so a change further down shows too


def main(index_dir: str, questions: str) -> None:
    settings = Settings(index_dir=Path(index_dir), sample_on_empty=False, backend="extractive")
    with Engine(settings, notify=lambda msg: None) as engine:
        for line in Path(questions).read_text().splitlines():
            q = json.loads(line)
            answer = engine.ask(Query(q["question"], k=K))
            print(json.dumps({
                "id": q["id"],
                "papers": [s.paper_id for s in answer.sources],
                "scores": [s.score for s in answer.sources],
                "evidence": [s.evidence for s in answer.sources],
                "passages": [s.passages for s in answer.sources],
                "answer": answer.text,
                "abstained": answer.abstained,
            }))


if __name__ == "__main__":
    main(*sys.argv[1:3])

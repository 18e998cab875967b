"""A deterministic "noisy answerer": an OpenAI-compatible server whose answers are the question set's gold
answers, cited the way a small model cites them: some sentences right, some with no citation, some citing
the wrong source, and every other answer with an invented sentence. For measuring grounding with `rag eval`:

    python tests/noisy_answerer.py --port 8765 &
    OPENAI_BASE_URL=http://127.0.0.1:8765/v1 RAG_GROUNDING=on rag eval --backend openai --judge rules

Each question's answer depends only on its position in the question file, so runs are comparable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai import FakeOpenAI  # noqa: E402

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "data" / "questions.jsonl"
#: Claims no abstract makes: a number and a name the sources do not have.
INVENTED = "It also cuts energy use by 73% on TPU v5 hardware"
LEAD_IN = "Based on the sources, here is what they report:"
_SOURCE = re.compile(r'<source id="(\d+)" title="([^"]*)"')


def load(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def noisy_answer(i: int, q: dict, sources: list[tuple[int, str]]) -> str:
    """Question ``i``'s gold answer, cited with noise: sentence j cites right, nothing, or a wrong source."""
    from rag.chunking import split_sentences

    if not q.get("gold_titles") or not q.get("answer"):
        return "INSUFFICIENT_EVIDENCE"
    golds = {" ".join(t.split()).replace('"', "'") for t in q["gold_titles"]}
    numbers = [n for n, _ in sources]
    gold = next((n for n, title in sources if title in golds), numbers[0] if numbers else 1)
    wrong = next((n for n in numbers if n != gold), gold)
    out = []
    for j, sent in enumerate(split_sentences(q["answer"])):
        body, end = (sent[:-1], sent[-1]) if sent[-1] in ".!?" else (sent, ".")
        kind = (i + j) % 3
        out.append(f"{body} [{gold}]{end}" if kind == 0 else f"{body}{end}" if kind == 1 else f"{body} [{wrong}]{end}")
    if i % 2 == 0:
        out.append(f"{INVENTED} [{gold}].")
    text = " ".join(out)
    return f"{LEAD_IN}\n{text}" if i % 4 == 1 else text


def responder(questions: list[dict]):
    def respond(body: dict) -> str:
        user = body["messages"][-1]["content"]
        found = [(i, q) for i, q in enumerate(questions) if q["question"] in user]
        if not found:
            return "INSUFFICIENT_EVIDENCE"
        i, q = max(found, key=lambda iq: len(iq[1]["question"]))
        return noisy_answer(i, q, [(int(n), t) for n, t in _SOURCE.findall(user)])

    return respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    with FakeOpenAI(respond=responder(load(args.questions)), port=args.port) as server:
        print(f"noisy answerer on {server.base_url}", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()

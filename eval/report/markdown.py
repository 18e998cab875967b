"""Render a :class:`ReportView` as ``report.md``; text from results is escaped for Markdown."""

from __future__ import annotations

import html
import re

from .view import ABSTRACT_CHARS_MD, SECTIONS, Card, ReportView, truncate, verdict_mark


def _md(text: str) -> str:
    """Inline text safe in GitHub markdown: one line, HTML escaped, no table-breaking pipes,
    and no live links or images (an abstract's ``![](https://tracker)`` stays text)."""
    flat = html.escape(" ".join(str(text).split()), quote=False)
    return re.sub(r"([|\[\]!])", r"\\\1", flat)


def _md_table(header: list[str], rows: list[list[str]], numeric: range | tuple = ()) -> list[str]:
    align = ["---:" if i in numeric else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    return lines + ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]


def _md_card(i: int, card: Card) -> list[str]:
    combined = f" · combined {card.combined}" if card.combined else ""
    out = [f"### {i}. {_md(card.id)} · {_md(card.type)}{combined}", "",
           f"**Question:** {_md(card.question)}", "",
           f"**Gold papers:** {'; '.join(_md(t) for t in card.gold) or 'none (unanswerable)'}", ""]
    if card.scores:
        out += ["**Scores:** " + " · ".join(f"{_md(k)} {v}" for k, v in card.scores), ""]
    out += [f"**Answer{' (abstained)' if card.abstained else ''}:**", "", f"> {_md(card.answer) or '(empty)'}", ""]
    if card.verdicts:
        out += ["**Sentence verdicts:**", ""]
        for v in card.verdicts:
            _, mark, words = verdict_mark(v["supported"], v.get("label"))
            extra = f" — {words}," if v["supported"] is False else " —"
            extra += f" cites {v['cited']}" if v["cited"] else " no citation"
            extra += f", over-cited {v['overcited']}" if v["overcited"] else ""
            out.append(f"- {mark} {v['score']} {_md(v['sentence'])}{extra}")
        out.append("")
    if card.missing_facts:
        out += ["**Missing key facts:** " + ", ".join(_md(f) for f in card.missing_facts), ""]
    if card.sources:
        out += ["**Sources:**", ""]
        for s in card.sources:
            tags = "".join(f" *{t}*" for t, on in (("cited", s.cited), ("gold", s.gold)) if on)
            out += [f"- **[{_md(s.number)}] {_md(s.title)}** — `{_md(s.paper_id)}` — evidence {s.evidence}{tags}",
                    f"  > {_md(truncate(s.text, ABSTRACT_CHARS_MD)) or '(no text)'}"]
        out.append("")
    return out


def render_markdown(view: ReportView) -> str:
    out = [f"# {_md(view.title)}", "", " · ".join(f"**{k}:** {_md(v)}" for k, v in view.run), "",
           "## Summary", ""]
    out += _md_table(["metric", "value", "definition"], [list(row) for row in view.summary], numeric=(1,))
    out += ["", "## By question type", ""]
    if view.type_rows:
        out += _md_table(view.type_columns, view.type_rows, numeric=range(1, len(view.type_columns)))
    else:
        out.append("No per-type breakdown in this run.")
    out += ["", "## Checker", "", _md(view.checker), ""]
    if view.plots:
        out += ["## Plots", ""] + [f"![{_md(p.title)}](plots/{p.name})\n" for p in view.plots]
    out += ["## Worst answers", "", _md(view.combined_note), ""]
    for name, heading in SECTIONS:
        cards = getattr(view, name)
        out += [f"## {heading}", ""] if name != "worst" else []
        if not cards:
            out += ["None.", ""]
        for i, card in enumerate(cards, 1):
            out += _md_card(i, card)
        if view.more.get(name):
            out += [f"…and {len(view.more[name])} more: " + ", ".join(_md(x) for x in view.more[name]), ""]
    if view.errors:
        out += ["## Errors", ""]
        out += _md_table(["id", "type", "question", "error"],
                         [[e["id"], e["type"], e["question"], e["error"]] for e in view.errors])
    return "\n".join(out).rstrip() + "\n"

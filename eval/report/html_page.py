"""Render a :class:`ReportView` as one self-contained HTML page.

Inline CSS, plots as base64 PNG ``<img>``s, no JavaScript, nothing fetched. Every
piece of text goes through :func:`html.escape`; links are kept only for http(s) URLs.
"""

from __future__ import annotations

import base64
from html import escape

from .view import SECTIONS, Card, ReportView, verdict_mark

CSS = """
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       max-width: 1100px; margin: 2rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d8dee4; padding-bottom: .25rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .5rem; }
.run { color: #57606a; margin: 0; }
.run b { color: #1f2328; font-weight: 600; }
table { border-collapse: collapse; margin: .75rem 0; font-size: 14px; }
th, td { border: 1px solid #d8dee4; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.def { color: #57606a; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; padding: 0 .25rem; border-radius: 4px; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 13px; }
.note { color: #57606a; font-size: 14px; }
.card { border: 1px solid #d8dee4; border-radius: 6px; padding: .9rem 1.1rem; margin: 1rem 0; }
.card p { margin: .35rem 0; }
.label { font-weight: 600; }
.answer { background: #f6f8fa; border-left: 3px solid #afb8c1; padding: .4rem .7rem; margin: .4rem 0; }
ul.verdicts { list-style: none; padding-left: 0; margin: .4rem 0; }
ul.verdicts li { margin: .25rem 0; }
.badge { display: inline-block; min-width: 4.2em; font-size: 12px; font-weight: 600; text-align: center;
         border-radius: 10px; padding: 0 .5rem; margin-right: .4rem; }
.ok { background: #dafbe1; color: #116329; border: 1px solid #4ac26b; }
.bad { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
.unstated { background: #fff8c5; color: #7d4e00; border: 1px solid #d4a72c; }
.unknown { background: #eaeef2; color: #57606a; border: 1px solid #afb8c1; }
.tag { font-size: 12px; color: #0550ae; background: #ddf4ff; border-radius: 4px; padding: 0 .3rem; margin-left: .3rem; }
.muted { color: #57606a; font-size: 13px; }
details { border: 1px solid #eaeef2; border-radius: 4px; padding: .3rem .6rem; margin: .3rem 0; }
details summary { cursor: pointer; }
details p { margin: .5rem 0 .2rem; white-space: pre-wrap; }
"""


def _num_class(value: str) -> str:
    return ' class="num"' if value[:1].isdigit() or value[:1] in "$–-" or value == "n/a" else ""


def _table(header: list[str], rows: list[list[str]], titles: dict[str, str] | None = None,
           classes: list[str] | None = None) -> str:
    titles = titles or {}
    head = "".join(
        f'<th title="{escape(titles[h])}">{escape(h)}</th>' if titles.get(h) else f"<th>{escape(h)}</th>"
        for h in header
    )
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = f' class="{classes[i]}"' if classes and classes[i] else (_num_class(cell) if i else "")
            cells.append(f"<td{cls}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _badge(supported, label: str | None, score: str) -> str:
    cls, mark, word = verdict_mark(supported, label)
    return f'<span class="badge {cls}" title="{word}">{mark} {escape(score)}</span>'


def _card(i: int, card: Card) -> str:
    gold = "; ".join(escape(t) for t in card.gold) or "none (unanswerable)"
    combined = f" · combined {escape(card.combined)}" if card.combined else ""
    out = [f'<section class="card"><h3>{i}. {escape(card.id)} · {escape(card.type)}{combined}</h3>',
           f'<p><span class="label">Question:</span> {escape(card.question)}</p>',
           f'<p><span class="label">Gold papers:</span> {gold}</p>']
    if card.scores:
        scores = " · ".join(f"{escape(k)} <b>{escape(v)}</b>" for k, v in card.scores)
        out.append(f'<p class="muted">{scores}</p>')
    label = "Answer (abstained)" if card.abstained else "Answer"
    out.append(f'<p class="label">{label}:</p><div class="answer">{escape(card.answer) or "(empty)"}</div>')
    if card.verdicts:
        items = []
        for v in card.verdicts:
            cites = "cites " + "".join(f"[{escape(str(n))}]" for n in v["cited"]) if v["cited"] else "no citation"
            over = "".join(f"[{escape(str(n))}]" for n in v["overcited"])
            over = f"; over-cited {over}" if over else ""
            items.append(f'<li>{_badge(v["supported"], v.get("label"), v["score"])}{escape(v["sentence"])} '
                         f'<span class="muted">({cites}{over})</span></li>')
        out.append(f'<p class="label">Sentence verdicts:</p><ul class="verdicts">{"".join(items)}</ul>')
    if card.missing_facts:
        facts = ", ".join(f"<code>{escape(f)}</code>" for f in card.missing_facts)
        out.append(f'<p><span class="label">Missing key facts:</span> {facts}</p>')
    if card.sources:
        out.append('<p class="label">Sources:</p>')
        for s in card.sources:
            tags = "".join(f'<span class="tag">{t}</span>' for t, on in (("cited", s.cited), ("gold", s.gold)) if on)
            title = escape(s.title)
            if isinstance(s.url, str) and s.url.startswith(("http://", "https://")):
                title = f'<a href="{escape(s.url)}" rel="noopener noreferrer">{title}</a>'
            out.append(f"<details><summary><b>[{escape(s.number)}]</b> {title}{tags} "
                       f'<span class="muted">· <code>{escape(s.paper_id)}</code> · evidence {escape(s.evidence)}'
                       f"</span></summary><p>{escape(s.text) or '(no text)'}</p></details>")
    out.append("</section>")
    return "\n".join(out)


def render_html(view: ReportView) -> str:
    run = " · ".join(f"<b>{escape(k)}:</b> {escape(v)}" for k, v in view.run)
    parts = [f"<h1>{escape(view.title)}</h1>", f'<p class="run">{run}</p>', "<h2>Summary</h2>",
             _table(["metric", "value", "definition"], [list(r) for r in view.summary],
                    classes=["", "num", "def"]),
             "<h2>By question type</h2>"]
    if view.type_rows:
        parts.append(_table(view.type_columns, view.type_rows, titles=view.definitions))
        parts.append('<p class="note">Hover a column name for its definition; '
                     "“abstained” is the share of that type’s questions the system declined to answer.</p>")
    else:
        parts.append("<p>No per-type breakdown in this run.</p>")
    parts += ["<h2>Checker</h2>", f"<p>{escape(view.checker)}</p>"]
    if view.plots:
        parts.append("<h2>Plots</h2>")
        for plot in view.plots:
            data = base64.b64encode(plot.png).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{escape(plot.title)}">'
                         f"<figcaption>{escape(plot.title)}</figcaption></figure>")
    parts += ["<h2>Worst answers</h2>", f'<p class="note">{escape(view.combined_note)}</p>']
    for name, heading in SECTIONS:
        cards = getattr(view, name)
        if name != "worst":
            parts.append(f"<h2>{escape(heading)}</h2>")
        parts += [_card(i, c) for i, c in enumerate(cards, 1)] or ["<p>None.</p>"]
        if view.more.get(name):
            parts.append(f"<p>…and {len(view.more[name])} more: {escape(', '.join(view.more[name]))}</p>")
    if view.errors:
        parts.append("<h2>Errors</h2>")
        parts.append(_table(["id", "type", "question", "error"],
                            [[e["id"], e["type"], e["question"], e["error"]] for e in view.errors],
                            classes=["", "", "", ""]))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(view.title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")

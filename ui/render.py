"""HTML and Markdown for the chat UI: pure functions of the conversation, no gradio.

Every piece of text that comes from a user, an abstract or a model is escaped here, so
markup inside an abstract (``<script>``, ``<img onerror>``) shows as text and never runs.
A conversation is a list of *turns*: ``{"question", "answer": Answer.to_dict(),
"verdicts": [...], "highlights": {n: [sentences]}, "pending": bool, "error": str | None}``.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

from rag.answerers.extractive import PREAMBLE
from rag.chunking import split_sentences
from rag.citations import SIMPLE_MARKER
from rag.grounding import NOTE_PREFIX as GROUNDING_NOTE
from rag.support.verdicts import NO_SOURCE_SUPPORTS

CSS = """
:root { --rag-link: #c2410c; }  /* orange-700: 5.2:1 on white (Gradio's orange-500 is 2.8:1) */
.dark { --rag-link: #fb923c; }  /* orange-400 on the dark background */
#chat { min-height: 420px; }
/* Gradio's container hides overflow, which would make it (not the window) the scroller that sticky parts
   stick in: clip sideways only, so the question box and the sources panel stick to the window */
.gradio-container { overflow-x: clip !important; overflow-y: visible !important; }
#composer { position: sticky; bottom: 0; z-index: 5; background: var(--body-background-fill); padding: 8px 0; margin: 0;
            box-shadow: 0 -8px 8px -8px rgba(0, 0, 0, 0.15); flex-wrap: nowrap; }
.rag-live { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
#sources { max-height: calc(100vh - 24px); overflow-y: auto !important; overscroll-behavior: contain; }
@media (min-width: 769px) { #sources { position: sticky; top: 12px; align-self: flex-start; } }
@media (max-width: 768px) { #sources { max-height: 70vh; } #chat { min-height: 160px; } #composer { padding: 4px 0; } }
.rag-chat { display: flex; flex-direction: column; gap: 14px; font-size: 15px; line-height: 1.5; }
.rag-chat .empty { color: var(--body-text-color-subdued); padding: 40px 8px; text-align: center; }
.rag-turn .q { align-self: flex-end; background: var(--color-accent-soft); padding: 8px 12px; border-radius: 10px; margin-left: 15%; }
.rag-turn .a { background: var(--block-background-fill); border: 1px solid var(--border-color-primary); padding: 10px 14px; border-radius: 10px; margin-top: 8px; margin-right: 8%; }
.rag-turn .a p { margin: 4px 0; }
.rag-turn .a ul { margin: 4px 0 4px 18px; padding: 0; }
.rag-turn .preamble { color: var(--body-text-color-subdued); font-size: 13px; font-style: italic; }
.rag-turn .meta { font-size: 12px; color: var(--body-text-color-subdued); margin-top: 6px; }
.rag-turn .error { color: #b91c1c; }
.dark .rag-turn .error { color: #fca5a5; }
button.cite, button.cite-turn, button.copy { font: inherit; font-weight: 600; color: var(--rag-link); background: none; border: 0; padding: 0 1px; margin: 0; cursor: pointer; }
button.cite-turn, button.copy { font-weight: normal; }
button.cite:hover, button.cite-turn:hover, button.copy:hover { text-decoration: underline; }
button.cite:focus-visible, button.cite-turn:focus-visible, button.copy:focus-visible { outline: 2px solid var(--color-accent); border-radius: 3px; }
.badge { display: inline-block; font-family: inherit; border: 0; margin-top: 0; margin-bottom: 0; font-size: 11px; line-height: 16px; padding: 0 5px; border-radius: 8px; margin-left: 3px; vertical-align: 1px; cursor: help; }
.badge.ok { background: #dcfce7; color: #166534; }
.badge.no { background: #fee2e2; color: #991b1b; }
.badge.na { background: #f3f4f6; color: #4b5563; }
button.badge { cursor: pointer; }
button.badge:focus-visible { outline: 2px solid var(--color-accent); }
.rag-turn .why { font-size: 12px; color: var(--body-text-color-subdued); font-style: italic; margin-left: 4px; }
.rag-turn .why[hidden] { display: none; }
.rag-turn .legend, .rag-turn .dropped, .rag-turn .searched, .rag-turn .grounding { font-size: 12px; color: var(--body-text-color-subdued); margin-top: 4px; }
.rag-chat .examples { display: flex; flex-direction: column; gap: 6px; align-items: center; margin-top: 12px; }
button.example { font: inherit; font-size: 14px; color: var(--rag-link); background: none; border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; cursor: pointer; }
button.example:focus-visible { outline: 2px solid var(--color-accent); }
.rag-sources .turn-sources { display: none; }
.rag-sources .turn-sources.latest { display: block; }
.rag-sources.picked .turn-sources.latest { display: none; }
.rag-sources.picked .turn-sources.selected { display: block; }
.rag-sources h2 { margin: 4px 0 8px; font-size: 14px; }
.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 8px 0; scroll-margin-top: 12px; }
.source.selected { border-color: var(--rag-link); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.source .title { font-weight: 600; }
.source .smeta { font-size: 12px; color: var(--body-text-color-subdued); margin: 2px 0 6px; }
.source .abstract { font-size: 13px; line-height: 1.45; }
.source mark { background: #fef08a; color: #1f2937; padding: 0 1px; }
.dark .source mark { background: #854d0e; color: #fef9c3; }
.rag-sources details summary { cursor: pointer; font-size: 13px; margin-top: 8px; }
.rag-sources .hint { color: var(--body-text-color-subdued); font-size: 13px; }
"""


# Clicking [n] selects turn t's sources (a class on the panel) and scrolls the panel, not the page, to
# the card: no navigation, no history entry (links would follow Gradio's <base href> and reload the page).
# A new answer re-renders the panel, which drops the selection: the newest answer's sources show again.
# The script also: keeps the newest answer in view while it is written (until the reader scrolls up), announces
# finished answers in a polite live region for screen readers, and copies an answer with its references.
HEAD = """<script>
(() => {
  let follow = true, lastY = 0, queued = false;
  const seen = {};
  function live() {
    let el = document.getElementById("rag-live");
    if (!el && document.body) {
      el = document.createElement("div");
      el.id = "rag-live";
      el.className = "rag-live";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      el.setAttribute("aria-atomic", "true");
      document.body.appendChild(el);
    }
    return el;
  }
  function announce(text) {
    const el = live();
    if (el) el.textContent = text;
  }
  function gap() {  // how far the newest turn's end is below the top of the question box (> 0: hidden under it)
    const turns = document.querySelectorAll("#chat .rag-turn");
    const box = document.getElementById("composer");
    if (!turns.length || !box) return 0;
    const bottom = Math.min(box.getBoundingClientRect().top, window.innerHeight);
    return turns[turns.length - 1].getBoundingClientRect().bottom - (bottom - 8);
  }
  function nameUpload() {  // Gradio names its drop zone "Click to upload or drop files", unlike the words it shows
    const zone = document.querySelector("#upload .upload-container");
    if (!zone) return;
    const name = zone.textContent.replace(/\\s+/g, " ").trim() + ": add abstracts to the collection";
    if (zone.getAttribute("aria-label") !== name) zone.setAttribute("aria-label", name);
  }
  function tick() {
    queued = false;
    live();
    nameUpload();
    const turns = document.querySelectorAll("#chat .rag-turn");
    if (!turns.length) Object.keys(seen).forEach((id) => { delete seen[id]; });  // a new conversation
    turns.forEach((turn) => {
      const state = turn.dataset.state, before = seen[turn.id];
      seen[turn.id] = state;
      if (state === "writing" || state === before) return;
      // a turn first seen finished is news (a quick answer can start and finish between two frames), unless a
      // reload brought the conversation back
      const chat = turn.closest(".rag-chat");
      if (before === undefined && chat && chat.dataset.restored) return;
      const answer = turn.querySelector(".a");
      if (state === "done") announce("Answer finished: " + (answer.querySelector("p, li") || answer).textContent.slice(0, 300));
      else if (state === "failed") announce("Answer failed: " + (turn.querySelector(".error") || answer).textContent);
      else if (state === "stopped") announce("Answer stopped.");
    });
    if (follow) {
      const d = gap();
      if (d > 0) window.scrollBy(0, d);
    }
  }
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(tick); }
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
  window.addEventListener("scroll", () => {  // scrolling up stops following; back down to the end resumes it
    const y = window.scrollY;
    if (y < lastY - 2) follow = false;
    else if (y > lastY && gap() <= 40) follow = true;
    lastY = y;
  }, {passive: true});
  function asking() { follow = true; }
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && ev.target.closest && ev.target.closest("#question")) asking();
  }, true);
  function copy(text, button) {
    const done = () => {
      button.textContent = "Copied";
      announce("Answer copied with its references.");
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    };
    const fallback = () => {  // no clipboard API off https and localhost
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      button.focus();
      if (ok) done();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }
  function scrollerOf(el) {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowY;
      if ((o === "auto" || o === "scroll") && p.scrollHeight > p.clientHeight) return p;
    }
    return null;
  }
  function pick(turn, n) {
    const panel = document.querySelector("#sources .rag-sources");
    const section = panel && panel.querySelector("#turn-" + turn);
    if (!section) return;
    panel.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
    panel.classList.add("picked");
    section.classList.add("selected");
    let target = section;
    const card = n ? section.querySelector("#src-" + turn + "-" + n) : null;
    if (card) {
      card.classList.add("selected");
      const folded = card.closest("details");
      if (folded) folded.open = true;
      target = card;
    }
    const box = scrollerOf(target);
    if (box) box.scrollTop += target.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    const r = target.getBoundingClientRect();
    if (r.top < 0 || r.top > window.innerHeight) target.scrollIntoView({block: "nearest"});  // panel off screen (phone)
  }
  document.addEventListener("click", (ev) => {
    if (ev.target.closest && ev.target.closest("#ask, #retry")) asking();
    const cp = ev.target.closest && ev.target.closest("#chat button.copy");
    if (cp) {
      copy(cp.dataset.copy, cp);
      return;
    }
    const ex = ev.target.closest && ev.target.closest("#chat button.example");
    if (ex) {  // an example question fills the box (Gradio listens for input events), ready to Ask or edit
      const box = document.querySelector("#question textarea");
      if (box) {
        box.value = ex.dataset.q;
        box.dispatchEvent(new Event("input", {bubbles: true}));
        box.focus();
      }
      return;
    }
    const why = ev.target.closest && ev.target.closest("#chat button.badge");
    if (why) {  // ✗ or ?: show or hide the reason right after the sentence
      const text = why.nextElementSibling;
      if (text && text.classList.contains("why")) {
        text.hidden = !text.hidden;
        why.setAttribute("aria-expanded", String(!text.hidden));
      }
      return;
    }
    const b = ev.target.closest && ev.target.closest("#chat .cite, #chat .cite-turn");
    if (!b) return;
    ev.preventDefault();
    pick(b.dataset.turn, b.dataset.n);
  });
})();
</script>"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def safe_url(url: str | None) -> str | None:
    if not url:
        return None
    return url if urlparse(url).scheme in ("http", "https") else None


# -- chat ------------------------------------------------------------------------------------------------


def chat_html(turns: list[dict], examples: list[str] | tuple[str, ...] = (), restored: bool = False) -> str:
    """The conversation; with no turns yet, an invitation and ``examples``: buttons that fill the question box.
    ``restored``: brought back by a reload (the page's script then does not announce its answers again)."""
    if not turns:
        buttons = "".join(f'<button type="button" class="example" data-q="{esc(q)}">{esc(q)}</button>' for q in examples)
        shown = f'<div class="examples"><span>Try one:</span>{buttons}</div>' if buttons else ""
        return f'<div class="rag-chat"><div class="empty">Ask a question about the papers in the collection.{shown}</div></div>'
    parts = ['<div class="rag-chat" data-restored="1">' if restored else '<div class="rag-chat">']
    for t, turn in enumerate(turns, start=1):
        parts.append(f'<div class="rag-turn" id="turn-msg-{t}" data-state="{turn_state(turn)}">')
        parts.append(f'<div class="q">{esc(turn["question"])}</div>')
        parts.append(f'<div class="a">{turn_body(t, turn)}</div>')
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def turn_state(turn: dict) -> str:
    """``writing``, ``done``, ``failed`` or ``stopped``: the page's script follows and announces it."""
    if turn.get("error"):
        return "failed"
    if turn.get("stopped"):
        return "stopped"
    return "writing" if turn.get("pending") else "done"


def turn_body(t: int, turn: dict) -> str:
    answer = turn.get("answer") or {}
    text = answer.get("text") or turn.get("partial", "")
    if turn.get("error"):  # what was written before the failure stays, with the error under it
        kept = answer_html(t, text, {}, set()) if text else ""
        return kept + f'<p class="error">{esc(turn["error"])}</p><div class="meta">failed · Retry asks again</div>'
    if not text:
        return '<p class="preamble">Stopped.</p>' if turn.get("stopped") else '<p class="preamble">Searching the collection…</p>'
    valid = {s["number"]: s.get("title", "") for s in answer.get("sources", [])}
    body = answer_html(t, text, verdict_map(turn.get("verdicts")), valid)
    meta = []
    if turn.get("stopped"):
        meta.append("stopped")
    elif not turn.get("pending"):
        meta.append(esc(answer.get("backend", "")))
        if answer.get("sources"):
            meta.append(f'<button type="button" class="cite-turn" data-turn="{t}">sources</button>')
        meta.append(f'<button type="button" class="copy" data-copy="{esc(copy_text(answer))}" '
                    f'aria-label="Copy answer {t} with its references">Copy</button>')
        if answer.get("abstained"):
            meta.append("abstained: the evidence was too weak")
    else:
        meta.append("writing…")
    notes = legend(answer.get("backend", "")) if turn.get("verdicts") and not turn.get("pending") else ""
    if not turn.get("pending"):
        notes += answer_notes(turn["question"], answer)
    return body + f'<div class="meta">{" · ".join(meta)}</div>' + notes


#: How to read the badges, under every checked answer. An extractive answer quotes its sources, so its ✓
#: says the sentence was quoted, not that it answers the question.
LEGEND = "✓ supported by the cited source · ✗ the source says otherwise · ? not stated in the source"
LEGEND_EXTRACTIVE = "✓ = quoted from the source (not a judgement that it answers the question) · ? = cites no source"


def copy_text(answer: dict) -> str:
    """What an answer's Copy button puts on the clipboard: the text with its [n] markers, then its references."""
    by_number = {s["number"]: s for s in answer.get("sources", [])}
    refs = []
    for c in answer.get("citations", []):
        url = safe_url(by_number.get(c["number"], {}).get("url"))
        refs.append(f"[{c['number']}] {c['title']} ({c['paper_id']})" + (f" {url}" if url else ""))
    text = answer.get("text", "").strip()
    return text + ("\n\nReferences:\n" + "\n".join(refs) if refs else "")


def answer_notes(question: str, answer: dict) -> str:
    """What was done to the answer out of sight: citations removed, a follow-up searched as a rewritten query."""
    out = ""
    dropped = answer.get("dropped_citations") or []
    if dropped:
        numbers = ", ".join(f"[{int(n)}]" for n in dropped)
        out += f'<div class="dropped">{numbers} removed: not a source</div>'
    for note in answer.get("notes") or []:  # what the grounding step did: citations fixed, sentences marked
        if note.startswith(GROUNDING_NOTE):
            out += f'<div class="grounding">{esc(note[len(GROUNDING_NOTE):])}</div>'
    searched = (answer.get("search_query") or "").strip()
    if searched and " ".join(searched.split()).casefold() != " ".join(question.split()).casefold():
        out += f'<div class="searched">Searched for: {esc(searched)}</div>'
    return out


def legend(backend: str) -> str:
    text = LEGEND_EXTRACTIVE if backend == "extractive" else LEGEND
    return f'<div class="legend">{esc(text)}</div>'


def verdict_map(verdicts: list[dict] | None) -> dict[str, dict]:
    return {v["sentence"]: v for v in verdicts or []}


def answer_html(t: int, text: str, verdicts: dict[str, dict], valid: set[int] | dict[int, str]) -> str:
    """The answer with ``[n]`` as buttons showing turn ``t``'s sources and a support badge per sentence;
    ``valid`` holds the source numbers (or maps them to their titles, for the buttons' labels)."""
    from rag.support.statements import LIST_ITEM, parse_sentence

    out: list[str] = []
    in_list = False
    for raw in text.splitlines():
        line = raw.strip()
        item = LIST_ITEM.match(line)
        bullet = bool(item)
        if bullet != in_list:
            out.append("<ul>" if bullet else "</ul>")
            in_list = bullet
        if not line:
            continue
        if line == PREAMBLE:
            out.append(f'<p class="preamble">{esc(line)}</p>')
            continue
        content = line[item.end():] if item else line
        sentences = []
        for sent in split_sentences(content) or [content]:
            rendered = link_citations(t, esc(sent), valid)
            verdict = verdicts.get(parse_sentence(sent).text)
            sentences.append(rendered + (badge(verdict) if verdict is not None else ""))
        joined = " ".join(sentences)
        out.append(f"<li>{joined}</li>" if bullet else f"<p>{joined}</p>")
    if in_list:
        out.append("</ul>")
    return "".join(out)


def link_citations(t: int, escaped: str, valid: set[int] | dict[int, str]) -> str:
    titles = valid if isinstance(valid, dict) else {}

    def repl(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in valid:
            return m.group(0)
        label = f"Source {n}: {titles[n]}" if titles.get(n) else f"Source {n}"
        return f'<button type="button" class="cite" data-turn="{t}" data-n="{n}" aria-label="{esc(label)}">[{n}]</button>'

    return SIMPLE_MARKER.sub(repl, escaped)


def badge(verdict: dict) -> str:
    """✓ as a plain mark; ✗ and ? as a button (tap, click or keyboard) that shows why right after the sentence."""
    if verdict.get("supported") and verdict.get("cited"):
        why = f'supported by its sources (checker score {verdict.get("score", 0):.2f})'
        return f'<span class="badge ok" role="img" title="{why}" aria-label="✓ {why}">✓</span>'
    reasons = "; ".join(verdict.get("reasons") or [])
    if not verdict.get("cited"):
        kind, mark, why = "na", "?", reasons if NO_SOURCE_SUPPORTS in reasons else "cites no source"
    elif verdict.get("label") == "contradicted":
        kind, mark, why = "no", "✗", "contradicts the sources it cites: " + reasons
    else:
        kind, mark, why = "na", "?", "not stated in the sources it cites" + (": " + reasons if reasons else "")
    return (f'<button type="button" class="badge {kind}" aria-expanded="false" aria-label="{esc(mark + " " + why)}">{mark}</button>'
            f'<span class="why" hidden>({esc(why)})</span>')


# -- sources ------------------------------------------------------------------------------------------------


def sources_html(turns: list[dict]) -> str:
    if not any((turn.get("answer") or {}).get("sources") for turn in turns):
        return '<div class="rag-sources"><p class="hint">Sources of the selected answer appear here. Click a [n] in an answer to see that paper, with the sentences it was cited for highlighted.</p></div>'
    parts = ['<div class="rag-sources">']
    last = max(t for t, turn in enumerate(turns, start=1) if (turn.get("answer") or {}).get("sources"))
    for t, turn in enumerate(turns, start=1):
        answer = turn.get("answer") or {}
        sources = answer.get("sources") or []
        if not sources:
            continue
        cited = {c["number"] for c in answer.get("citations", [])}
        latest = " latest" if t == last else ""
        parts.append(f'<section class="turn-sources{latest}" id="turn-{t}">')
        parts.append(f"<h2>Sources for question {t}: {esc(_short(turn['question'], 80))}</h2>")
        highlights = {int(k): v for k, v in (turn.get("highlights") or {}).items()}
        for src in sources:
            if src["number"] in cited:
                parts.append(source_card(t, src, highlights.get(src["number"], [])))
        rest = [s for s in sources if s["number"] not in cited]
        if rest:
            label = "retrieved, not cited" if cited else "retrieved"
            parts.append(f"<details><summary>{len(rest)} more {label}</summary>")
            parts.extend(source_card(t, s, []) for s in rest)
            parts.append("</details>")
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def source_card(t: int, src: dict, highlight: list[str]) -> str:
    url = safe_url(src.get("url"))
    title = esc(src["title"])
    title_html = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
    meta = [esc(src["paper_id"])]
    if src.get("year"):
        meta.append(esc(src["year"]))
    authors = src.get("authors") or []
    if authors:
        meta.append(esc(", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")))
    evidence = src.get("evidence", 0) or 0
    numbers = f"evidence {evidence:.2f} (0..1) · retrieval score {src['score']:.4f} (fused rank score)"
    meta.append(f'<span class="relevance" title="{numbers}">{relevance(evidence)} match</span>')
    return (
        f'<article class="source" id="src-{t}-{src["number"]}">'
        f'<div class="title">[{src["number"]}] {title_html}</div>'
        f'<div class="smeta">{" · ".join(meta)}</div>'
        f'<div class="abstract">{highlighted(src.get("text", ""), highlight)}</div>'
        "</article>"
    )


#: Relevance words for a source's evidence score (0..1), highest first. The engine abstains when the best
#: source is below ``min_evidence`` (0.34 by default), so "weak" is anything within about 0.1 of that floor,
#: "good" clearly above it (>= 0.45) and "strong" well above it (>= 0.6). The raw numbers stay in a title.
RELEVANCE = ((0.6, "strong"), (0.45, "good"))


def relevance(evidence: float) -> str:
    return next((word for floor, word in RELEVANCE if evidence >= floor), "weak")


def highlighted(abstract: str, highlight: list[str]) -> str:
    """The abstract, escaped, with the sentences in ``highlight`` wrapped in ``<mark>``."""
    marked = " ".join(highlight)
    out = []
    for sent in split_sentences(abstract) or [abstract]:
        out.append(f"<mark>{esc(sent)}</mark>" if sent and sent in marked else esc(sent))
    return " ".join(out)


# -- export and collection -------------------------------------------------------------------------------------


def export_markdown(turns: list[dict], header: dict[str, str] | None = None) -> str:
    """The conversation as Markdown: a header (date, collection, settings), each answer with its
    sentences' ✓/✗/? verdicts and references; failed and stopped turns are kept and marked."""
    lines = ["# Conversation", ""]
    if header:
        lines += [f"- {key}: {value}" for key, value in header.items()] + [""]
    refs: dict[str, str] = {}
    for t, turn in enumerate(turns, start=1):
        answer = turn.get("answer") or {}
        lines += [f"## {t}. {turn['question']}", ""]
        settings = turn.get("settings") or {}
        asked_with = " · ".join(f"{k}={v}" for k, v in settings.items())
        if turn.get("error") or turn.get("stopped"):
            if turn.get("partial"):
                lines += [turn["partial"], ""]
            status = f"Failed: {turn['error']}" if turn.get("error") else "Stopped before the answer was finished."
            lines += [f"*{status}*" + (f" ({asked_with})" if asked_with else ""), ""]
            continue
        lines += [answer.get("text", ""), ""]
        if turn.get("verdicts"):
            lines.append("Checked sentences (✓ supported by what it cites, ✗ not supported, ? cites nothing):")
            lines += [f"- {_mark(v)} {v['sentence']}" for v in turn["verdicts"]]
            lines.append("")
        by_number = {s["number"]: s for s in answer.get("sources", [])}
        cites = answer.get("citations", [])
        if cites:
            lines.append("References:")
            for c in cites:
                src = by_number.get(c["number"], {})
                url = safe_url(src.get("url"))
                lines.append(f"- [{c['number']}] {c['title']} ({c['paper_id']})" + (f" {url}" if url else ""))
                refs[c["paper_id"]] = f"- {c['title']} ({c['paper_id']})" + (f" {url}" if url else "")
            lines.append("")
        lines.append(f"*Answered by {answer.get('backend', '?')}*" + (f" ({asked_with})" if asked_with else ""))
        lines.append("")
    if refs:
        lines += ["## All references", "", *sorted(refs.values()), ""]
    return "\n".join(lines)


def _mark(verdict: dict) -> str:
    """A sentence's verdict as one symbol, as its badge shows it."""
    if verdict.get("supported"):
        return "✓"
    return "✗" if verdict.get("cited") and verdict.get("label") == "contradicted" else "?"


def header_markdown(stats, collection: str) -> str:
    """The page header: the collection's name and size, then how to read the answers."""
    size = "empty" if stats.papers == 0 else f"{stats.papers} paper{'s' if stats.papers != 1 else ''}"
    return (f"# Ask the abstracts\nCollection **{esc(collection)}** · {size}. "
            "Answers cite the papers as [n]; click one to see the source. "
            "Each sentence is marked ✓ (supported by what it cites), ✗ (contradicts it) or ? (not stated there, or cites nothing).")


def stats_markdown(stats) -> str:
    if stats.papers == 0:
        return "**The collection is empty.** Load the bundled sample corpus or upload a file of abstracts."
    parts = [f"**{stats.papers} papers**, {stats.chunks} chunks · last ingest: {stats.last_ingest or 'unknown'}"]
    if stats.years:
        parts.append(f"years {stats.years[0]}–{stats.years[1]}")
    if stats.categories:
        parts.append(f"{len(stats.categories)} categories")
    return " · ".join(parts) + f"  \n`{stats.location}`"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"

"""Query rewriting, a role of its own: a follow-up made into a standalone question for retrieval.

With an LLM, :class:`LLMRewriter` asks it (``prompts/condense_question.txt``); without one,
:class:`HeuristicRewriter` prefixes the previous question when the new one looks like a
follow-up. Both implement :class:`rag.protocols.QueryRewriter`.
"""

from __future__ import annotations

import re
from pathlib import Path

from .llm import ChatClient
from .query import Query
from .templates import load_prompt

#: A question that continues the conversation: it opens with a continuation, or refers back
#: within its first words ("How big is it?", "Does their method scale?").
_CONTINUES = re.compile(
    r"^(and|but|also|so|what about|how about|what else|which one|which of them|tell me more|more on|compare)\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(
    r"\b(it(?! (is )?(possible|easier|harder|easy|hard|feasible|difficult|necessary|likely))|its|they|them|their|these|"
    r"those|(this|that|the) (paper|method|model|work|approach|one|study|system)|"
    r"the authors|the same|above|former|latter)\b",
    re.IGNORECASE,
)
SHORT_QUESTION_WORDS = 5


class HeuristicRewriter:
    """Without an LLM: a follow-up is searched together with the previous question."""

    name = "heuristic"

    def rewrite(self, query: Query) -> str:
        earlier = query.earlier_questions()
        if earlier and is_follow_up(query.question):
            return f"{earlier[-1]} {query.question}"
        return query.question


class LLMRewriter:
    """An LLM rewrites a follow-up from the last ``history_turns`` messages."""

    def __init__(self, chat: ChatClient, history_turns: int, prompts_dir: Path | None = None):
        self.chat = chat
        self.history_turns = history_turns
        self.condense = load_prompt("condense_question", prompts_dir)
        self.name = f"openai:{chat.model}"

    def rewrite(self, query: Query) -> str:
        if not query.earlier_questions():
            return query.question  # nothing to resolve against: no call
        convo = "\n".join(f"{t['role']}: {t['content']}" for t in query.recent_history(self.history_turns))
        text = self.chat.one_shot(self.condense.format(history=convo, question=query.question), max_tokens=120)
        return text.splitlines()[0].strip() if text else query.question


def is_follow_up(question: str) -> bool:
    """Without an LLM to rewrite it, is this question a follow-up to the previous one?"""
    words = question.split()
    return (
        len(words) <= SHORT_QUESTION_WORDS
        or bool(_CONTINUES.search(question))
        or bool(_REFERS_BACK.search(" ".join(words[:5])))
    )

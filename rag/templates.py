"""Prompt templates live in ``prompts/`` as text files with ``{named}`` placeholders.

Loading a template checks that its placeholders are exactly the ones the code fills,
so an edited prompt that lost ``{sources}`` fails loudly instead of answering blind.
``settings.prompts_dir`` overrides the bundled directory, file by file.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Every template the code uses, with the placeholders it fills.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "answer_system": frozenset(),
    "answer_user": frozenset({"sources", "question"}),
    "local_answer_system": frozenset(),  # the local backend's: short, for small models
    "local_answer_user": frozenset({"sources", "question"}),
    "condense_question": frozenset({"history", "question"}),
    "judge_claim": frozenset({"claim", "sources"}),
    "split_claims": frozenset({"sentence"}),
}


@dataclass(frozen=True)
class Prompt:
    name: str
    template: str

    def format(self, **values: str) -> str:
        return self.template.format(**values)


def load_prompt(name: str, prompts_dir: Path | None = None) -> Prompt:
    if name not in PLACEHOLDERS:
        raise KeyError(name)
    text = _read(name, prompts_dir)
    try:
        found = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:
        raise ConfigError(f"Prompt '{name}' is not a valid template ({exc}); write literal braces as {{{{ }}}}.") from None
    expected = PLACEHOLDERS[name]
    if found != expected:
        missing = ", ".join("{" + f + "}" for f in sorted(expected - found)) or "none"
        extra = ", ".join("{" + f + "}" for f in sorted(found - expected)) or "none"
        raise ConfigError(
            f"Prompt '{name}' must use the placeholders {sorted(expected) or 'none'}: "
            f"missing {missing}, unknown {extra}. Fix the template file."
        )
    return Prompt(name, text)


def _read(name: str, prompts_dir: Path | None) -> str:
    if prompts_dir is not None:
        custom = Path(prompts_dir) / f"{name}.txt"
        if custom.exists():
            return custom.read_text(encoding="utf-8")
    return (_bundled() / f"{name}.txt").read_text(encoding="utf-8")


def _bundled() -> Any:
    """The shipped templates: ``rag.prompts`` when installed, ``prompts/`` beside ``rag/`` in a plain checkout."""
    try:
        return resources.files("rag.prompts")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "prompts"

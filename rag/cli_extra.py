"""Subcommands whose code lives in rag.eval and rag.ui; registering them imports neither."""

from __future__ import annotations

REGISTER: list = []

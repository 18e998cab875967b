"""Prompt templates, one file each; installed as ``rag.prompts``. Loaded by rag/templates.py."""

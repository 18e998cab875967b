"""cl100k_base loads offline from llama-index's copy, the same encoding as tiktoken's, without touching os.environ."""

import os
from importlib.util import find_spec
from pathlib import Path

SAMPLES = [
    "hello world",
    "KV-cache   compression\n\n with [1] and [2-3]: 12345 tokens/s",
    "ünïcödé, 数学, emoji 🙂 and <|endoftext|> as plain text",
]


def test_loading_cl100k_never_writes_the_environment(monkeypatch):
    from rag import chunking

    writes = []

    class WatchedEnviron(dict):
        def __setitem__(self, key, value):
            writes.append(key)
            super().__setitem__(key, value)

        def __delitem__(self, key):
            writes.append(key)
            super().__delitem__(key)

    environ = WatchedEnviron(os.environ)
    environ.pop("TIKTOKEN_CACHE_DIR", None)
    monkeypatch.setattr(os, "environ", environ)
    chunking.cl100k.cache_clear()
    try:
        enc = chunking.cl100k()
    finally:
        chunking.cl100k.cache_clear()
    assert writes == []  # not even for the duration of the load: other threads read os.environ too
    assert enc.name == "cl100k_base" and enc.encode("hello world") == [15339, 1917]


def test_cl100k_is_tiktokens_own_encoding(monkeypatch):
    import tiktoken

    from rag import chunking

    ours = chunking.cl100k()
    cache = chunking._cached_cl100k_ranks()
    assert cache is not None, "llama-index's tiktoken cache was not found: cl100k() would download"
    # tiktoken itself, pointed at the same cache for this test only
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(Path(find_spec("llama_index.core").origin).parent / "_static" / "tiktoken_cache"))
    from tiktoken_ext.openai_public import cl100k_base

    theirs = tiktoken.Encoding(**cl100k_base())
    for text in SAMPLES:
        assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())
        assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.n_vocab == theirs.n_vocab and ours.special_tokens_set == theirs.special_tokens_set


def test_an_altered_cache_file_is_not_used(monkeypatch):
    from rag import chunking

    monkeypatch.setattr(chunking, "_CL100K_SHA256", "0" * 64)
    assert chunking._cached_cl100k_ranks() is None

"""Chunks and sentences, with llama-index's splitters and tiktoken's cl100k_base counts."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .types import Paper

CHUNKER_VERSION = "1"
#: Metadata keys kept out of the text that is embedded and BM25-indexed (only the title goes in).
_HIDDEN_KEYS = ["paper_id", "chunk", "content_hash", "year", "categories", "authors", "url", "abstract"]


_TIKTOKEN_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def cl100k() -> Any:
    """tiktoken's cl100k_base, loaded from the cache llama-index ships (works offline).

    tiktoken reads its cache location only from ``TIKTOKEN_CACHE_DIR``, so this sets it for
    the duration of the load (as llama-index does), under a lock, unless the user set it.
    """
    import llama_index.core
    import tiktoken

    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    with _TIKTOKEN_LOCK:
        if "TIKTOKEN_CACHE_DIR" in os.environ or not cache.is_dir():
            return tiktoken.get_encoding("cl100k_base")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
        try:
            return tiktoken.get_encoding("cl100k_base")
        finally:
            del os.environ["TIKTOKEN_CACHE_DIR"]


def count_tokens(text: str) -> int:
    return len(cl100k().encode(text, disallowed_special=()))


@lru_cache(maxsize=4)
def _splitter(chunk_tokens: int, overlap: int) -> Any:
    from llama_index.core.node_parser import SentenceSplitter

    tokenize: Callable[[str], list[int]] = lambda t: cl100k().encode(t, disallowed_special=())  # noqa: E731
    return SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=min(overlap, chunk_tokens // 2), tokenizer=tokenize)


def chunk_text(text: str, chunk_tokens: int, overlap: int) -> list[str]:
    """Split an abstract into sentence-aligned chunks of about ``chunk_tokens`` tokens."""
    return [c for c in _splitter(chunk_tokens, overlap).split_text(text) if c.strip()] or [text]


@lru_cache(maxsize=1)
def _sentence_tokenizer() -> Callable[[str], list[str]]:
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    return split_by_sentence_tokenizer()


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (NLTK punkt, as llama-index bundles it), stripped, in order."""
    return [s.strip() for s in _sentence_tokenizer()(text) if s.strip()]


def index_salt(chunk_tokens: int, overlap: int, embed_model: str) -> str:
    """Everything besides the paper itself that shapes its chunks and vectors."""
    return f"chunker={CHUNKER_VERSION};tokens={chunk_tokens};overlap={overlap};embed={embed_model}"


def make_nodes(paper: Paper, content_hash: str, chunk_tokens: int, overlap: int) -> list[Any]:
    """llama-index ``TextNode``s for one paper: the title rides along with every chunk."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    base: dict[str, Any] = {"paper_id": paper.paper_id, "title": paper.title, "content_hash": content_hash}
    if paper.year is not None:
        base["year"] = paper.year
    if paper.categories:
        base["categories"] = list(paper.categories)
    if paper.authors:
        base["authors"] = "; ".join(paper.authors)
    if paper.url:
        base["url"] = paper.url
    nodes = []
    for i, chunk in enumerate(chunk_text(paper.abstract, chunk_tokens, overlap)):
        meta = dict(base, chunk=i)
        if i == 0:
            meta["abstract"] = paper.abstract
        nodes.append(
            TextNode(
                id_=f"{paper.paper_id}#{content_hash[:8]}#{i}",
                text=chunk,
                metadata=meta,
                excluded_embed_metadata_keys=list(_HIDDEN_KEYS),
                excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=paper.paper_id)},
            )
        )
    return nodes

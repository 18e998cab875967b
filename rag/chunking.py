"""Chunks and sentences, with llama-index's splitters and tiktoken's cl100k_base counts."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .types import Paper

CHUNKER_VERSION = "1"
#: Metadata keys kept out of the text that is embedded and BM25-indexed (only the title goes in).
_HIDDEN_KEYS = ["paper_id", "chunk", "content_hash", "year", "categories", "authors", "url", "abstract"]


#: cl100k_base as tiktoken defines it (tiktoken_ext/openai_public.py), so it loads without a download.
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@lru_cache(maxsize=1)
def cl100k() -> Any:
    """tiktoken's cl100k_base, built from the copy of its BPE file that llama-index ships (offline).

    tiktoken finds a cache only through ``TIKTOKEN_CACHE_DIR``; rather than set that process-wide,
    this reads the cached file (named by the SHA-1 of its URL, checked against tiktoken's SHA-256)
    and builds the same ``Encoding``. A missing or altered file leaves it to tiktoken (its own
    cache, or a download)."""
    import tiktoken

    ranks = _cached_cl100k_ranks()
    if ranks is None:
        return tiktoken.get_encoding("cl100k_base")
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=dict(_CL100K_SPECIAL)
    )


def _cached_cl100k_ranks() -> dict[bytes, int] | None:
    import base64
    from importlib.util import find_spec

    spec = find_spec("llama_index.core")  # where the package is, without importing it
    if spec is None or spec.origin is None:
        return None
    cache = Path(spec.origin).parent / "_static" / "tiktoken_cache"
    try:
        data = (cache / hashlib.sha1(_CL100K_URL.encode()).hexdigest()).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != _CL100K_SHA256:
        return None
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


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

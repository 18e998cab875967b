"""The embedder's sentence memo (used by the extractive answerer) is exact and embeds a text once."""

import numpy as np

from rag.embedding import MiniLMEmbedding


def test_memo_gives_the_same_vectors_and_embeds_each_text_once(monkeypatch):
    embedder = MiniLMEmbedding()
    texts = ["Alpha beta gamma.", "A longer sentence about attention heads in language models.", "short", "short"]
    plain = embedder.embed(texts)
    seen: list[str] = []
    encoder = embedder._encoder  # the model itself (rag.minilm), shared by every embedder of the process
    encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda batch: (seen.extend(batch), encode(batch))[1])

    assert np.array_equal(embedder.embed_memo(texts), plain)
    assert sorted(seen) == sorted(set(texts))  # a repeated text is embedded once
    seen.clear()
    assert np.array_equal(embedder.embed_memo(texts[::-1]), plain[::-1])
    assert seen == []  # all remembered

"""`rag bench`: speed, memory and hit@5 of the engine on synthetic collections, beside baselines.

* :mod:`.corpus` generates the collections (seeded) from the sample's real sentences, with known-target queries.
* :mod:`.baselines` holds the comparison retrievers (plain llama-index, bm25s alone, numpy + bm25s + RRF).
* :mod:`.measure` runs one size and returns its figures; :mod:`.table` prints them.
* :mod:`.cli` registers the subcommand (through ``eval.commands``).
"""

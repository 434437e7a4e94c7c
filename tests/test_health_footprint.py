"""An idle jobs process does not hold the embedding model: the ai_index run that finds nothing
to do releases it, and the next one with work loads it again."""

from __future__ import annotations


def test_an_idle_index_run_releases_the_embedding_model(db: str) -> None:
    from crm_app.ai import runtime
    from crm_app.ai.embeddings import LocalMiniLM
    from jobs import ai_index

    LocalMiniLM().embed(["warm the model up"])
    assert runtime.models_loaded()
    assert not any(ai_index.run().values())  # nothing to index on empty tables
    assert not runtime.models_loaded()
    vector = LocalMiniLM().embed(["loaded again on demand"])
    assert vector.shape == (1, 384) and runtime.models_loaded()

"""The `ai_index` job: keep the retrieval store and message sentiment current.

A run drains the backlog in batches (resolved tickets, stale vectors, new client messages) until
it is empty or the run's time budget (`CRM_AI_INDEX_SECONDS`) is spent, so a backlog of
thousands of tickets drains run after run. The work runs in its own thread at low OS priority
(`CRM_AI_NICE`), with embedding threads capped (`CRM_AI_MAX_THREADS`): when agents need the CPU,
they get it first. A run that finds nothing to do releases the embedding model, so an idle
jobs process does not hold it (the next run with work loads it again).
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

TICKETS_PER_BATCH = 200
CHUNKS_PER_BATCH = 512
MESSAGES_PER_BATCH = 500


def drain(seconds: float) -> dict[str, int]:
    """Index batch after batch until nothing is left or `seconds` have passed."""
    from crm_app.ai import retrieval, sentiment
    from crm_app.ai.embeddings import get_provider

    provider = get_provider()
    deadline = time.monotonic() + seconds
    totals = {"tickets_indexed": 0, "chunks_reembedded": 0, "messages_scored": 0}
    while True:
        batch = {
            "tickets_indexed": retrieval.index_resolved_tickets(TICKETS_PER_BATCH, provider),
            "chunks_reembedded": retrieval.reembed_stale(CHUNKS_PER_BATCH, provider),
            "messages_scored": sentiment.score_new_client_messages(MESSAGES_PER_BATCH),
        }
        for key, done in batch.items():
            totals[key] += done
        if not any(batch.values()) or time.monotonic() >= deadline:
            return totals


def run() -> dict[str, int]:
    from crm_app.ai import runtime

    started = time.monotonic()
    result = runtime.run_in_background(lambda: drain(runtime.index_seconds()))
    if not any(result.values()) and runtime.models_loaded() and not runtime.keep_model_loaded():
        runtime.release_models()
        log.info("ai index idle: released the embedding model")
    log.info("ai index finished", extra={**result, "seconds": round(time.monotonic() - started, 2)})
    return result

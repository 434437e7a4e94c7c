"""The `ai_index` job: keep the retrieval store and message sentiment current.

Each run does bounded batches (resolved tickets, stale vectors, new client messages), so a
backlog drains over several runs without one run holding the CPU for long.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

TICKETS_PER_RUN = 200
CHUNKS_PER_RUN = 512
MESSAGES_PER_RUN = 500


def run() -> dict[str, int]:
    from crm_app.ai import retrieval, sentiment
    from crm_app.ai.embeddings import get_provider

    started = time.monotonic()
    provider = get_provider()
    result = {
        "tickets_indexed": retrieval.index_resolved_tickets(TICKETS_PER_RUN, provider),
        "chunks_reembedded": retrieval.reembed_stale(CHUNKS_PER_RUN, provider),
        "messages_scored": sentiment.score_new_client_messages(MESSAGES_PER_RUN),
    }
    log.info("ai index finished", extra={**result,
                                          "seconds": round(time.monotonic() - started, 2)})
    return result

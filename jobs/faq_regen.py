"""The `faq_regen` job: cluster the last 90 days of client questions into topics and draft an
FAQ entry (or an update to a published one) per topic, for a manager to review. Managers start
the same run on demand with "Generate now" on the FAQ page; a run already going is left alone.
First it brings the retrieval store's FAQ sources in line with the published entries."""

from __future__ import annotations

import logging

from crm_app.auth.permissions import SYSTEM
from crm_app.services import faq_generation
from crm_app.services.errors import Conflict
from crm_app.services.portal.knowledge import sync_published_to_retrieval

log = logging.getLogger(__name__)


def run() -> None:
    removed = sync_published_to_retrieval()
    log.info("faq sources synced to the retrieval store", extra={"removed": removed})
    try:
        result = faq_generation.generate(SYSTEM, faq_generation.DEFAULT_WINDOW_DAYS)
    except Conflict:
        log.info("faq generation already running: this pass is skipped")
        return
    log.info(
        "faq generation finished",
        extra={
            "run_id": result.id,
            "questions": result.questions,
            "topics": result.topics,
            "drafts_created": result.drafts_created,
            "updates_proposed": result.updates_proposed,
        },
    )


if __name__ == "__main__":
    run()

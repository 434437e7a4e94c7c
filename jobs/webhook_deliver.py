"""Deliver due webhooks (signed POSTs), retrying failures with backoff."""

from __future__ import annotations

import logging

from crm_app.services import webhooks

log = logging.getLogger(__name__)


def run() -> dict[str, int]:
    counts = webhooks.deliver_due()
    if any(counts.values()):
        log.info("webhooks delivered", extra=counts)
    return counts

"""The `sla_scan` job: keep every ticket's SLA due times and state current."""

from __future__ import annotations

import logging

from crm_app.services.sla import scan_open_tickets

log = logging.getLogger(__name__)


def run() -> None:
    """Scan all tickets once and log what changed (one summary line)."""
    result = scan_open_tickets()
    log.info("sla scan finished", extra=result.log_fields())

"""The `sla_scan` job: keep every open ticket's SLA state current (clocks recomputed after a
settings change, near-breach and breach recorded in the SLA history, escalation rules applied),
and warn each assignee once when one of their tickets comes near a breach."""

from __future__ import annotations

import logging

from crm_app.services.notifications import notify_sla_near_breach
from crm_app.services.sla import scan_open_tickets

log = logging.getLogger(__name__)


def run() -> None:
    """Scan all tickets once and log what changed (one summary line)."""
    result = scan_open_tickets()
    warned = notify_sla_near_breach()
    log.info("sla scan finished", extra={**result.log_fields(), "assignees_warned": warned})

"""The `dashboard_rollup` job: recompute the dashboard's daily rollups of the last two days
(all of history the first time), so dashboards never scan the ticket table."""

from __future__ import annotations

import logging

from crm_app.services.dashboard import refresh_rollups

log = logging.getLogger(__name__)


def run() -> None:
    result = refresh_rollups(days=2)
    log.info(
        "dashboard rollup finished",
        extra={"days": result.days, "rows": result.rows, "seconds": round(result.seconds, 3)},
    )

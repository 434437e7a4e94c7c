"""The `upload_cleanup` job: delete uploads nobody finished using, and the upload slots of
requests that died with their worker."""

from __future__ import annotations

import logging

from crm_app.services.uploads import cleanup_abandoned

log = logging.getLogger(__name__)


def run() -> None:
    log.info("upload cleanup finished", extra=cleanup_abandoned())

"""The `upload_cleanup` job: delete uploads nobody finished using, the upload slots of
requests that died with their worker, and resumable archive uploads left unfinished."""

from __future__ import annotations

import logging

from crm_app.services.archive_uploads import cleanup_abandoned_archive_uploads
from crm_app.services.uploads import cleanup_abandoned

log = logging.getLogger(__name__)


def run() -> None:
    removed = {**cleanup_abandoned(), "archive_uploads": cleanup_abandoned_archive_uploads()}
    log.info("upload cleanup finished", extra=removed)

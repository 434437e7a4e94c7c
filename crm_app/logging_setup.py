"""Structured logs: one JSON object per line, with any `extra=` fields included."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from crm_app.settings import get_settings

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# Never let these reach a log line, whatever a caller passes in `extra`.
_REDACT = {"password", "token", "secret", "api_key", "authorization"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = "[redacted]" if key.lower() in _REDACT else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(get_settings().log_level)
    for noisy in ("pgserver", "alembic.runtime.plugins", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

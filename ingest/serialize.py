"""Records as JSON-ready dicts (no attachment bytes: those live in the sink)."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

from .model import IngestRecord, ItemError, Message, NonMailItem


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def record_to_dict(record: IngestRecord) -> dict[str, Any]:
    kind = {Message: "message", NonMailItem: "non_mail", ItemError: "error"}[type(record)]
    data = _plain(record)
    data["record"] = kind
    if isinstance(record, Message):
        data["is_automated"] = record.is_automated
    return data

"""Mail and archive parsing: MIME, EML, mbox and PST/OST -> one normalized message shape.

No dependence on the web app or the database. Entry points:

- `parse_mime(raw_bytes)` -> `Message` (raises `IngestError` only)
- `iter_file(path)` / `iter_paths(paths)` -> `Message` | `NonMailItem` | `ItemError` records
- `iter_pst(path)`, `PstReader` (pypff in a child process), `iter_mbox(path)`
- `chunk_message(message)` -> retrieval chunks with provenance

Names are imported lazily: a PST child process (which imports `ingest.pst_child`) loads the
normalizer's HTML, reply and charset libraries only when it is given its first file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "IngestError": "errors",
    "Address": "model",
    "Attachment": "model",
    "Automation": "model",
    "DateSource": "model",
    "IngestRecord": "model",
    "ItemError": "model",
    "Message": "model",
    "NonMailItem": "model",
    "Provenance": "model",
    "SourceKind": "model",
    "AttachmentSink": "attachments",
    "DirectorySink": "attachments",
    "DiscardSink": "attachments",
    "parse_mime": "mime",
    "iter_mbox": "mbox",
    "PstReader": "pst",
    "iter_pst": "pst",
    "iter_file": "sources",
    "iter_paths": "sources",
    "Chunk": "chunks",
    "chunk_message": "chunks",
    "chunk_text": "chunks",
    "record_to_dict": "serialize",
}

__all__ = [
    "Address",
    "Attachment",
    "AttachmentSink",
    "Automation",
    "Chunk",
    "DateSource",
    "DirectorySink",
    "DiscardSink",
    "IngestError",
    "IngestRecord",
    "ItemError",
    "Message",
    "NonMailItem",
    "Provenance",
    "PstReader",
    "SourceKind",
    "chunk_message",
    "chunk_text",
    "iter_file",
    "iter_mbox",
    "iter_paths",
    "iter_pst",
    "parse_mime",
    "record_to_dict",
]

if TYPE_CHECKING:
    from .attachments import AttachmentSink, DirectorySink, DiscardSink
    from .chunks import Chunk, chunk_message, chunk_text
    from .errors import IngestError
    from .mbox import iter_mbox
    from .mime import parse_mime
    from .model import (
        Address,
        Attachment,
        Automation,
        DateSource,
        IngestRecord,
        ItemError,
        Message,
        NonMailItem,
        Provenance,
        SourceKind,
    )
    from .pst import PstReader, iter_pst
    from .serialize import record_to_dict
    from .sources import iter_file, iter_paths


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

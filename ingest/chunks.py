"""Normalized text split into overlapping chunks for retrieval, each with its provenance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .errors import IngestError
from .model import Message

_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkProvenance:
    source: str
    folder: str | None
    message_id: str | None
    dedup_key: str
    date: datetime
    participants: tuple[str, ...]
    subject: str


@dataclass(frozen=True)
class Chunk:
    text: str
    index: int
    token_count: int
    provenance: ChunkProvenance


def chunk_text(text: str, *, chunk_tokens: int = 200, overlap: int = 40) -> list[tuple[str, int]]:
    """(chunk, token count) windows of `chunk_tokens` whitespace tokens, `overlap` shared.

    Chunks are slices of the original text, so line breaks inside a chunk survive.
    """
    if chunk_tokens < 1 or not 0 <= overlap < chunk_tokens:
        raise IngestError("chunk_tokens must be >= 1 and 0 <= overlap < chunk_tokens")
    spans = [match.span() for match in _TOKEN.finditer(text)]
    chunks = []
    step = chunk_tokens - overlap
    for first in range(0, len(spans), step):
        window = spans[first : first + chunk_tokens]
        chunks.append((text[window[0][0] : window[-1][1]], len(window)))
        if first + chunk_tokens >= len(spans):
            break
    return chunks


def chunk_message(message: Message, *, chunk_tokens: int = 200, overlap: int = 40) -> list[Chunk]:
    """Chunks of a message's subject and full body, each naming where it came from."""
    provenance = ChunkProvenance(
        source=message.provenance.source,
        folder=message.provenance.folder,
        message_id=message.message_id,
        dedup_key=message.dedup_key,
        date=message.date,
        participants=tuple(str(address) for address in message.participants),
        subject=message.subject,
    )
    text = f"{message.subject}\n\n{message.text_body}" if message.subject else message.text_body
    return [
        Chunk(text=chunk, index=index, token_count=count, provenance=provenance)
        for index, (chunk, count) in enumerate(
            chunk_text(text, chunk_tokens=chunk_tokens, overlap=overlap)
        )
    ]

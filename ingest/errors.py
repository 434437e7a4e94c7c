"""The one error type the ingest library raises."""

from __future__ import annotations


class IngestError(Exception):
    """Input that cannot be ingested: not mail, not the format its name claims, unreadable.

    Every public entry point raises this and nothing else for bad input, so a job can catch
    one type and record the failure against the file or message it came from.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.reason = message
        self.source = source

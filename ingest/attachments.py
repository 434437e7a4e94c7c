"""Where attachment bytes go: streamed to a sink in blocks, hashed on the way, never held whole."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

BLOCK_SIZE = 1 << 20


class AttachmentWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    def finish(self, sha256: str) -> str | None:
        """Complete the write; return where the bytes are stored (None when not stored)."""
        ...

    def abort(self) -> None: ...


class AttachmentSink(Protocol):
    """Opens a writer per attachment. Must be picklable: PST parsing runs in a child process."""

    def open(self, filename: str | None, content_type: str) -> AttachmentWriter: ...


class _DiscardWriter:
    def write(self, data: bytes) -> None:
        pass

    def finish(self, sha256: str) -> str | None:
        return None

    def abort(self) -> None:
        pass


class DiscardSink:
    """Keeps no bytes (size and SHA-256 are still computed): for counting and indexing runs."""

    def open(self, filename: str | None, content_type: str) -> AttachmentWriter:
        return _DiscardWriter()


class _FileWriter:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        fd, name = tempfile.mkstemp(dir=directory, prefix=".part-")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def finish(self, sha256: str) -> str | None:
        self._file.close()
        final = self._directory / sha256
        self._tmp.replace(final)  # content-addressed: the same file stored twice is stored once
        return str(final)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class DirectorySink:
    """Stores each attachment as a file named by its SHA-256 in a directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def open(self, filename: str | None, content_type: str) -> AttachmentWriter:
        return _FileWriter(self.directory)


class HashingWriter:
    """Wraps a sink's writer: counts, hashes and forwards every block."""

    def __init__(self, writer: AttachmentWriter) -> None:
        self._writer = writer
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        if data:
            self._digest.update(data)
            self.size += len(data)
            self._writer.write(data)

    def finish(self) -> tuple[int, str, str | None]:
        sha = self._digest.hexdigest()
        return self.size, sha, self._writer.finish(sha)

    def abort(self) -> None:
        self._writer.abort()

"""Shared test data locations for the ingest tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
MIME_DIR = DATA / "mime"
SAMPLE_PST = DATA / "pst" / "outlook-sample.pst"


@pytest.fixture
def mime_bytes() -> Callable[[str], bytes]:
    def load(name: str) -> bytes:
        return (MIME_DIR / name).read_bytes()

    return load

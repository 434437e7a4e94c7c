"""Fuzzing: whatever bytes come in, only IngestError (or an ItemError record) comes out."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import IngestError, ItemError, Message, NonMailItem, PstReader, parse_mime

from .conftest import MIME_DIR, SAMPLE_PST

SEEDS = [p.read_bytes() for p in sorted(MIME_DIR.glob("*.eml"))]
PST_HEAD = SAMPLE_PST.read_bytes()[:400_000]


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buffer = bytearray(data)
    for position, value in edits:
        if buffer:
            buffer[position % len(buffer)] = value
    return bytes(buffer)


def _parse_only_ingest_error(raw: bytes) -> None:
    try:
        result = parse_mime(raw)
    except IngestError:
        return
    assert isinstance(result, Message)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_into_parse_mime_raise_only_ingest_error(raw):
    _parse_only_ingest_error(raw)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=40),
    st.integers(0, 10**6),
)
def test_mutated_real_mail_into_parse_mime_raises_only_ingest_error(seed, edits, cut):
    mutated = _mutate(seed, edits)
    _parse_only_ingest_error(mutated[: cut % (len(mutated) + 1)] if cut % 3 == 0 else mutated)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_random_headers_into_parse_mime_raise_only_ingest_error(header_soup):
    raw = f"Subject: {header_soup}\nFrom: {header_soup}\nContent-Type: {header_soup}\n\nbody"
    _parse_only_ingest_error(raw.encode("utf-8", "surrogateescape"))


@pytest.fixture(scope="module")
def pst_reader():
    with PstReader(idle_timeout=60) as reader:
        yield reader


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(512, len(PST_HEAD) - 1), st.integers(0, 255)), max_size=60),
    st.integers(600, len(PST_HEAD)),
)
def test_mutated_pst_yields_records_and_never_raises(pst_reader, tmp_path_factory, edits, cut):
    path = tmp_path_factory.mktemp("fuzz") / "mutated.pst"
    path.write_bytes(_mutate(PST_HEAD, edits)[:cut])
    for record in pst_reader.iter_file(path):
        assert isinstance(record, Message | NonMailItem | ItemError)


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_named_pst_give_an_error_record(tmp_path_factory, junk):
    path = tmp_path_factory.mktemp("junk") / "junk.pst"
    path.write_bytes(junk)
    with PstReader() as reader:
        records = list(reader.iter_file(path))
    assert all(isinstance(r, ItemError | Message | NonMailItem) for r in records)

"""Resumable archive uploads over the HTTP API (`/api/archive-uploads`): chunks at stated
offsets, a dropped connection resumed from the offset the server reports, the archive queued
once; only the creator touches an upload; sizes and sessions are enforced; cancelled and
abandoned uploads leave no bytes behind."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_app import routes
from crm_app.api import build_api
from crm_app.auth.cookies import SESSION_COOKIE
from crm_app.db import session_scope
from crm_app.services import archive_uploads, archives
from crm_app.services.archive_uploads import CHUNK_MAX_BYTES
from models.archive import Archive, ArchiveSource
from tests.factories import log_in, make_user

HEADERS = {"X-Archive-Upload": "1"}
CHUNK = 100_000


@pytest.fixture(autouse=True)
def _no_uploads_left_from_other_tests(db: str) -> None:
    # User ids restart with every test's database; another test's uploads would count as theirs.
    for path in (archives.upload_dir() / "incoming").glob("*"):
        path.unlink()


def _browser(email: str | None) -> TestClient:
    """A fresh API client (as after a worker restart), signed in as `email` when given."""
    client = TestClient(build_api())
    if email is not None:
        client.cookies.set(SESSION_COOKIE, log_in(email))
    return client


def _create(client: TestClient, size: int, name: str = "partner.mbox", **extra) -> str:
    response = client.post(
        routes.API_ARCHIVE_UPLOADS,
        json={"file_name": name, "total_bytes": size, **extra},
        headers=HEADERS,
    )
    assert response.status_code == 201, response.text
    assert response.headers["Upload-Offset"] == "0"
    return response.json()["upload_id"]


def _url(upload_id: str) -> str:
    return routes.API_ARCHIVE_UPLOAD.format(upload_id=upload_id)


def _send(client: TestClient, upload_id: str, offset: int, data: bytes) -> httpx.Response:
    return client.patch(
        _url(upload_id), content=data, headers={**HEADERS, "Upload-Offset": str(offset)}
    )


def _part_file(upload_id: str) -> Path:
    return archives.upload_dir() / "incoming" / f"{upload_id}.part"


def test_an_archive_sent_in_chunks_resumes_after_a_dropped_chunk_and_is_queued_once(
    db: str,
) -> None:
    manager = make_user("manager")
    source = os.urandom(3 * CHUNK - 1234)
    browser = _browser(manager.email)
    upload_id = _create(browser, len(source), label="Partner 2014")

    assert _send(browser, upload_id, 0, source[:CHUNK]).status_code == 204
    # The connection drops 40 kB into the second chunk: what arrived is kept.
    cut = _send(browser, upload_id, CHUNK, source[CHUNK : CHUNK + 40_000])
    assert cut.headers["Upload-Offset"] == str(CHUNK + 40_000)

    # A new worker (fresh client) gets the whole second chunk resent: refused with the offset.
    browser = _browser(manager.email)
    resent = _send(browser, upload_id, CHUNK, source[CHUNK : 2 * CHUNK])
    assert resent.status_code == 409
    assert resent.headers["Upload-Offset"] == str(CHUNK + 40_000)
    assert resent.json()["offset"] == CHUNK + 40_000
    asked = browser.head(_url(upload_id), headers=HEADERS)
    assert asked.status_code == 200
    assert asked.headers["Upload-Offset"] == str(CHUNK + 40_000)
    assert asked.headers["Upload-Length"] == str(len(source))

    # Completing early is refused; the browser goes on from the offset it was told.
    early = browser.post(f"{_url(upload_id)}/complete", headers=HEADERS)
    assert early.status_code == 409
    offset = CHUNK + 40_000
    for end in (2 * CHUNK, len(source)):
        answer = _send(browser, upload_id, offset, source[offset:end])
        assert answer.status_code == 204, answer.text
        offset = int(answer.headers["Upload-Offset"])
    assert offset == len(source)

    done = browser.post(f"{_url(upload_id)}/complete", headers=HEADERS)
    assert done.status_code == 200, done.text
    archive_id = done.json()["archive_id"]
    # The answer was lost and the browser completes again: the same archive, not a second.
    again = browser.post(f"{_url(upload_id)}/complete", headers=HEADERS)
    assert again.json()["archive_id"] == archive_id
    assert _send(browser, upload_id, offset, b"more").status_code == 409

    with session_scope() as session:
        queued = session.execute(select(Archive)).scalars().all()
    assert [(a.id, a.source, a.file_name, a.label) for a in queued] == [
        (archive_id, ArchiveSource.UPLOAD, "partner.mbox", "Partner 2014")
    ]
    stored = Path(queued[0].path)
    assert stored.parent == archives.upload_dir()  # where deleting the archive removes it
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(source).digest()
    assert queued[0].bytes_total == len(source)
    assert not _part_file(upload_id).exists()


def test_another_users_upload_does_not_exist_for_them(db: str) -> None:
    owner, other = make_user("manager"), make_user("manager")
    upload_id = _create(_browser(owner.email), 10)
    intruder = _browser(other.email)
    url = _url(upload_id)
    assert intruder.head(url, headers=HEADERS).status_code == 404
    assert _send(intruder, upload_id, 0, b"0123456789").status_code == 404
    assert intruder.post(f"{url}/complete", headers=HEADERS).status_code == 404
    assert intruder.delete(url, headers=HEADERS).status_code == 404
    assert _part_file(upload_id).stat().st_size == 0
    assert intruder.head(_url("../../etc/passwd"), headers=HEADERS).status_code == 404


def test_no_session_or_no_upload_header_is_refused(db: str) -> None:
    manager = make_user("manager")
    anonymous = _browser(None)
    body = {"file_name": "a.pst", "total_bytes": 10}
    assert anonymous.post(routes.API_ARCHIVE_UPLOADS, json=body, headers=HEADERS).status_code == 401
    forged = TestClient(build_api())
    forged.cookies.set(SESSION_COOKIE, "forged")
    assert forged.post(routes.API_ARCHIVE_UPLOADS, json=body, headers=HEADERS).status_code == 401
    # A cross-site form can post with the cookie but cannot add the header.
    assert _browser(manager.email).post(routes.API_ARCHIVE_UPLOADS, json=body).status_code == 403
    upload_id = _create(_browser(manager.email), 10)
    assert anonymous.head(_url(upload_id), headers=HEADERS).status_code == 401


def test_who_may_upload_follows_the_archive_rules(db: str) -> None:
    manager, agent = make_user("manager"), make_user("agent")
    browser = _browser(agent.email)
    body = {"file_name": "a.pst", "total_bytes": 10}
    assert browser.post(routes.API_ARCHIVE_UPLOADS, json=body, headers=HEADERS).status_code == 403
    archives.set_agents_may_import(manager, True)
    _create(browser, 10, name="a.pst")
    secret = {**body, "confidential": True}
    assert browser.post(routes.API_ARCHIVE_UPLOADS, json=secret, headers=HEADERS).status_code == 403
    wrong = {**body, "file_name": "notes.txt"}
    assert browser.post(routes.API_ARCHIVE_UPLOADS, json=wrong, headers=HEADERS).status_code == 422


def test_oversized_archives_and_chunks_are_refused(db: str) -> None:
    manager = make_user("manager")
    browser = _browser(manager.email)
    huge = {"file_name": "big.pst", "total_bytes": archives.ARCHIVE_UPLOAD_MAX_BYTES + 1}
    assert browser.post(routes.API_ARCHIVE_UPLOADS, json=huge, headers=HEADERS).status_code == 413
    upload_id = _create(browser, CHUNK_MAX_BYTES + 10, name="big.pst")
    too_long = _send(browser, upload_id, 0, b"x" * (CHUNK_MAX_BYTES + 1))
    assert too_long.status_code == 413
    assert _part_file(upload_id).stat().st_size == 0
    small = _create(browser, 10, name="small.eml")
    assert _send(browser, small, 0, b"x" * 11).status_code == 413
    assert _send(browser, small, 0, b"x" * 10).status_code == 204


def test_cancel_removes_the_part_file(db: str) -> None:
    manager = make_user("manager")
    browser = _browser(manager.email)
    upload_id = _create(browser, 100)
    assert _send(browser, upload_id, 0, b"y" * 50).status_code == 204
    assert _part_file(upload_id).exists()
    assert browser.delete(_url(upload_id), headers=HEADERS).status_code == 204
    assert not _part_file(upload_id).exists()
    assert browser.head(_url(upload_id), headers=HEADERS).status_code == 404
    with session_scope() as session:
        assert session.execute(select(Archive)).first() is None


def test_abandoned_uploads_are_cleaned_up_and_live_ones_kept(db: str) -> None:
    manager = make_user("manager")
    browser = _browser(manager.email)
    abandoned, live = _create(browser, 100), _create(browser, 100)
    assert _send(browser, abandoned, 0, b"z" * 10).status_code == 204
    old = time.time() - 3 * 24 * 3600
    folder = archives.upload_dir() / "incoming"
    for path in folder.glob(f"{abandoned}.*"):
        os.utime(path, (old, old))
    assert archive_uploads.cleanup_abandoned_archive_uploads() == 1
    assert not list(folder.glob(f"{abandoned}.*"))
    assert browser.head(_url(live), headers=HEADERS).status_code == 200

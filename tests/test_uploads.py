"""Uploads are refused before a byte is read unless the session may take the upload's action;
size and uploads in flight per user are capped; abandoned files are cleaned up by a job."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from crm_app.auth.permissions import Action
from crm_app.db import session_scope
from crm_app.services import uploads
from crm_app.services.errors import PermissionDenied, RateLimited
from crm_app.upload_guard import SESSION_COOKIE, UploadGuard
from models.upload import UploadSlot
from tests.factories import log_in, make_user, run_async

HANDLER = "test_state.receive_test_upload"
POLICY = uploads.UploadPolicy(
    purpose="test-upload",
    action=Action.EDIT_CLIENTS,
    max_file_bytes=1024 * 1024,
    suffixes=(".csv",),
)


class _StoringApp:
    """Stands in for Reflex's upload endpoint: streams the body to a file."""

    def __init__(self) -> None:
        self.calls = 0
        self.stored = 0
        self.disconnected = False

    async def __call__(self, scope: dict, receive, send) -> None:
        self.calls += 1
        path = uploads.new_upload_path(POLICY)
        with path.open("wb") as out:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.disconnected = True
                    path.unlink()
                    return
                out.write(message.get("body", b""))
                self.stored += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture
def guarded() -> tuple[_StoringApp, httpx.AsyncClient]:
    shutil.rmtree(uploads.uploads_root(), ignore_errors=True)
    uploads.register_handler(HANDLER, POLICY)
    inner = _StoringApp()

    async def the_uploaders_own_tab(tab_token: str, session_id: int) -> bool:
        return tab_token == "tab-token"

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=UploadGuard(inner, the_uploaders_own_tab)),
        base_url="http://crm.test",
    )
    return inner, client


def _post(
    client: httpx.AsyncClient,
    token: str | None,
    body: bytes | AsyncIterator[bytes],
    handler: str = HANDLER,
    tab: str = "tab-token",
) -> httpx.Response:
    cookies = {SESSION_COOKIE: token} if token else {}
    headers = {"reflex-client-token": tab, "reflex-event-handler": handler}
    client.cookies.clear()

    async def post() -> httpx.Response:
        return await client.post("/_upload", content=body, headers=headers, cookies=cookies)

    return run_async(post())


def _stored_files() -> list[Path]:
    return [p for p in uploads.uploads_root().rglob("*") if p.is_file()]


def test_upload_from_a_user_without_the_permission_is_refused_before_a_byte_is_read(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    no_role = make_user(None)
    marketing = make_user("marketing")
    for token in (log_in(no_role.email), log_in(marketing.email), None, "forged-token"):
        response = _post(client, token, b"x" * 500_000)
        assert response.status_code in (401, 403)
    assert inner.calls == 0 and _stored_files() == []


def test_upload_to_an_undeclared_handler_is_refused(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    agent = make_user("agent")
    response = _post(client, log_in(agent.email), b"x", handler="some_state.other_handler")
    assert response.status_code == 404 and inner.calls == 0


def test_a_permitted_upload_goes_through_and_frees_its_slot(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    agent = make_user("agent")
    response = _post(client, log_in(agent.email), b"name,email\n" * 1000)
    assert response.status_code == 202 and inner.stored == 11_000
    with session_scope() as session:
        assert session.execute(select(func.count()).select_from(UploadSlot)).scalar_one() == 0


def test_an_upload_into_a_tab_of_another_session_is_refused_unread(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    agent = make_user("agent")
    response = _post(client, log_in(agent.email), b"name,email\n", tab="a-managers-tab")
    assert response.status_code == 403 and inner.calls == 0
    assert "does not belong to your session" in response.json()["detail"]


def test_an_upload_announced_larger_than_the_cap_is_refused_unread(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    agent = make_user("agent")
    response = _post(client, log_in(agent.email), b"x" * (POLICY.max_request_bytes + 1))
    assert response.status_code == 413 and inner.calls == 0
    assert "at most 1 MB" in response.json()["detail"]


def test_a_streamed_upload_is_cut_off_at_the_cap(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    agent = make_user("agent")

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(100):
            yield b"x" * 64 * 1024

    response = _post(client, log_in(agent.email), endless())
    assert response.status_code == 413
    assert inner.disconnected and inner.stored <= POLICY.max_request_bytes
    assert _stored_files() == []


def test_uploads_in_flight_per_user_are_capped(
    db: str, guarded: tuple[_StoringApp, httpx.AsyncClient]
) -> None:
    inner, client = guarded
    agent = make_user("agent")
    held = [uploads.begin(agent, POLICY), uploads.begin(agent, POLICY)]  # the default cap is 2
    with pytest.raises(RateLimited):
        uploads.begin(agent, POLICY)
    response = _post(client, log_in(agent.email), b"x")
    assert response.status_code == 429 and inner.calls == 0
    # Another user is not held back, and a finished upload frees its slot.
    assert uploads.begin(make_user("agent"), POLICY)
    uploads.finish(held[0])
    assert uploads.begin(agent, POLICY)


def test_slots_of_dead_requests_stop_counting(db: str) -> None:
    agent = make_user("agent")
    uploads.begin(agent, POLICY)
    uploads.begin(agent, POLICY)
    with session_scope() as session:
        session.execute(
            update(UploadSlot).values(touched_at=UploadSlot.touched_at - timedelta(minutes=10))
        )
    assert uploads.begin(agent, POLICY)
    assert uploads.cleanup_abandoned()["slots"] == 2


def test_begin_checks_the_policy_action(db: str) -> None:
    with pytest.raises(PermissionDenied):
        uploads.begin(make_user("client"), POLICY)


def test_cleanup_job_deletes_abandoned_uploads_and_keeps_fresh_ones(db: str) -> None:
    from jobs import upload_cleanup

    old = uploads.new_upload_path(POLICY, ".csv")
    fresh = uploads.new_upload_path(POLICY, ".csv")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    upload_cleanup.run()
    assert not old.exists() and fresh.exists()


def test_uploaded_files_are_readable_only_by_the_service_user(db: str) -> None:
    path = uploads.new_upload_path(POLICY)
    assert path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0


def test_the_client_import_upload_handler_is_guarded() -> None:
    from reflex_base.utils.format import format_event_handler

    import pages.client_import

    name = format_event_handler(pages.client_import.ClientImportState.receive_upload)
    policy = uploads.policy_for_handler(name)
    assert policy is not None and policy.action == Action.EDIT_CLIENTS

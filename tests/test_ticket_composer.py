"""The reply composer's rules: a macro only drafts until the reply is sent, then its fields go
with the reply as one audited change; attachments are authorized before any byte is stored,
stored once by content, limited in size and number, and downloadable only by who may see them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_app.api import build_api
from crm_app.db import session_scope
from crm_app.services import attachments, macros, tickets
from crm_app.services.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from crm_app.settings import get_settings
from models.audit import AuditLog
from models.ticket import Attachment
from tests.factories import log_in, make_client, make_ticket, make_user


def _stage(actor, number: int, *files: tuple[str, bytes], chunk: int = 7):
    """Feed files to the upload sink the way Reflex delivers them: per-file offsets, chunks."""
    sink = attachments.start_upload(actor, number)
    for name, data in files:
        if not data:
            sink.write(name, 0, "text/plain", b"")
        for offset in range(0, len(data), chunk):
            sink.write(name, offset, "text/plain", data[offset : offset + chunk])
    return sink.finish()


def _audit_actions(ticket_number: int) -> list[tuple[str, dict]]:
    with session_scope() as session:
        return [
            (a, c)
            for a, c in session.execute(
                select(AuditLog.action, AuditLog.changes)
                .where(AuditLog.entity_type == "ticket")
                .order_by(AuditLog.id)
            ).all()
        ]


# --- macros ---------------------------------------------------------------------------------


def test_choosing_a_macro_changes_nothing_on_the_ticket(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    macro = macros.save_macro(
        agent,
        title="Done",
        body="All done, {client.first_name}.",
        set_status="resolved",
        set_priority="low",
    )
    before = tickets.get_ticket(agent, number).ticket
    draft = macros.draft_from_macro(agent, macro.id, number)
    after = tickets.get_ticket(agent, number).ticket
    assert (draft.set_status, draft.set_priority) == ("resolved", "low")
    assert (after.status, after.priority, after.version) == (
        before.status,
        before.priority,
        before.version,
    )


def test_macro_fields_apply_with_the_reply_as_one_audited_change(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    macro = macros.save_macro(
        agent, title="Done", body="All done.", set_status="pending", set_priority="high"
    )
    draft = macros.draft_from_macro(agent, macro.id, number)
    version = tickets.get_ticket(agent, number).ticket.version
    entries_before = len(_audit_actions(number))
    tickets.add_message(
        agent,
        number,
        draft.body,
        status=draft.set_status,
        priority=draft.set_priority,
        macro=draft.title,
        expected_version=version,
    )
    detail = tickets.get_ticket(agent, number)
    assert (detail.ticket.status, detail.ticket.priority) == ("pending", "high")
    assert detail.messages[-1].body_text == "All done."
    new_entries = _audit_actions(number)[entries_before:]
    assert len(new_entries) == 1
    action, changes = new_entries[0]
    assert action == "ticket.message_added"
    assert changes["status"] == ["new", "pending"] and changes["priority"] == ["normal", "high"]
    assert changes["macro"] == "Done"


def test_macro_fields_on_a_stale_view_write_neither_reply_nor_fields(db: str) -> None:
    alice, bob = make_user("agent", "Alice A"), make_user("agent", "Bob B")
    number = make_ticket(alice, make_client(alice))
    seen = tickets.get_ticket(alice, number).ticket.version
    tickets.update_ticket(bob, number, expected_version=seen, priority="urgent")
    with pytest.raises(Conflict):
        tickets.add_message(
            alice, number, "Closing this.", status="resolved", expected_version=seen
        )
    detail = tickets.get_ticket(alice, number)
    assert detail.ticket.status != "resolved" and detail.ticket.priority == "urgent"
    assert all(m.body_text != "Closing this." for m in detail.messages)


def test_a_client_cannot_change_fields_through_a_reply(db: str) -> None:
    agent, client_user = make_user("agent"), make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    with pytest.raises(PermissionDenied):
        tickets.add_message(client_user, number, "Close it", status="closed")


# --- attachments ----------------------------------------------------------------------------


def test_attachment_is_stored_once_by_content_and_shown_on_the_reply(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    data = b"IBAN statement " * 100
    first = _stage(agent, number, ("statement.pdf", data), ("empty.txt", b""))
    tickets.add_message(agent, number, "See the statement.", files=first)
    again = _stage(agent, number, ("copy of statement.pdf", data))
    tickets.add_message(agent, number, "", files=again, internal=True)
    digest = hashlib.sha256(data).hexdigest()
    blob = attachments.blob_path(digest)
    assert blob.read_bytes() == data
    assert blob.relative_to(get_settings().data_dir).parts[:3] == (
        "attachments",
        "sha256",
        digest[:2],
    )
    with session_scope() as session:
        paths = (
            session.execute(select(Attachment.storage_path).where(Attachment.sha256 == digest))
            .scalars()
            .all()
        )
    assert len(paths) == 2 and len(set(paths)) == 1  # two rows, one stored file
    shown = tickets.get_ticket(agent, number).messages
    names = [[(a.filename, a.size_label) for a in m.attachments] for m in shown[-2:]]
    assert names == [
        [("statement.pdf", "1 KB"), ("empty.txt", "0 B")],
        [("copy of statement.pdf", "1 KB")],
    ]
    assert not list((get_settings().data_dir / "attachments" / "tmp").glob("*.part"))


def test_upload_is_refused_before_any_byte_is_written_without_permission(db: str) -> None:
    agent, client_user, marketing = make_user("agent"), make_user("client"), make_user("marketing")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    for outsider in (client_user, marketing, None):
        with pytest.raises((PermissionDenied, NotAuthenticated)):
            attachments.start_upload(outsider, number)
    with pytest.raises(NotFound):
        attachments.start_upload(agent, 999_999)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch):
    """Attachments limited to 100 bytes (settings are read from the environment)."""
    monkeypatch.setenv("CRM_ATTACHMENT_MAX_MB", str(100 / 1024 / 1024))
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_oversized_file_is_refused_at_the_first_chunk_past_the_limit(db: str, small_limit) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    sink = attachments.start_upload(agent, number)
    sink.write("big.bin", 0, "application/octet-stream", b"x" * 60)
    with pytest.raises(InvalidInput) as refused:
        sink.write("big.bin", 60, "application/octet-stream", b"x" * 60)
    sink.abort()
    assert "big.bin" in refused.value.message and "100 B" in refused.value.message
    assert not list((small_limit.data_dir / "attachments" / "tmp").glob("*.part"))
    assert not attachments.blob_path(hashlib.sha256(b"x" * 60).hexdigest()).exists()


def test_more_files_than_the_limit_are_refused(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    limit = get_settings().attachment_max_files
    with pytest.raises(InvalidInput):
        _stage(agent, number, *[(f"f{i}.txt", f"file {i}".encode()) for i in range(limit + 1)])
    with pytest.raises(InvalidInput):
        attachments.start_upload(agent, number, already_staged=limit)


def _signed_in_client(email: str) -> TestClient:
    client = TestClient(build_api())
    client.cookies.set("crm_session", log_in(email))
    return client


def test_download_needs_a_session_and_sight_of_the_message(db: str) -> None:
    agent, client_user, other_client = make_user("agent"), make_user("client"), make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    public = _stage(agent, number, ('report "Q3"; ü.pdf', b"%PDF-1.4 public"))
    tickets.add_message(agent, number, "Your report.", files=public)
    hidden = _stage(agent, number, ("kyc-notes.txt", b"internal only"))
    tickets.add_message(agent, number, "KYC", files=hidden, internal=True)
    shown = {
        a.filename: a.url for m in tickets.get_ticket(agent, number).messages for a in m.attachments
    }
    public_url, hidden_url = shown['report "Q3"; ü.pdf'], shown["kyc-notes.txt"]

    assert TestClient(build_api()).get(public_url).status_code == 401
    staff = _signed_in_client(agent.email).get(hidden_url)
    assert staff.status_code == 200 and staff.content == b"internal only"
    assert staff.headers["x-content-type-options"] == "nosniff"
    assert staff.headers["content-disposition"].startswith("attachment;")
    assert staff.headers["content-type"].startswith("text/plain")
    owner = _signed_in_client(client_user.email)
    got = owner.get(public_url)
    assert got.status_code == 200 and got.content == b"%PDF-1.4 public"
    assert (
        "filename*=UTF-8''report%20%22Q3%22%3B%20%C3%BC.pdf" in got.headers["content-disposition"]
    )
    assert owner.get(hidden_url).status_code == 404  # an internal note's file: never
    assert _signed_in_client(other_client.email).get(public_url).status_code == 404
    assert (
        TestClient(build_api()).get(public_url, cookies={"crm_session": "forged"}).status_code
        == 401
    )


def test_a_client_never_sees_an_internal_notes_attachment_in_the_timeline(db: str) -> None:
    agent, client_user = make_user("agent"), make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    tickets.add_message(
        agent, number, "KYC", internal=True, files=_stage(agent, number, ("kyc.txt", b"secret"))
    )
    detail = tickets.get_ticket(client_user, number)
    assert all(not m.attachments for m in detail.messages)


def test_a_staged_file_missing_from_the_store_is_not_linked(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    staged = _stage(agent, number, ("a.txt", b"will vanish"))
    Path(attachments.blob_path(staged[0].sha256)).unlink()
    with pytest.raises(InvalidInput):
        tickets.add_message(agent, number, "See attached", files=staged)
    assert all(m.body_text != "See attached" for m in tickets.get_ticket(agent, number).messages)

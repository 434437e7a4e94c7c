"""Archived mail as knowledge: found beside tickets and FAQ, cited in suggested replies, opened
in the viewer, shown on the client's profile, and never beyond the archive's confidentiality."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.archive import write_mbox
from crm_app.ai import llm, suggestions
from crm_app.auth.permissions import SYSTEM
from crm_app.services import archives, knowledge
from crm_app.services.errors import NotFound, PermissionDenied
from jobs import pst_ingest
from tests.factories import make_client, make_ticket, make_user


@pytest.fixture
def library(db, tmp_path):
    """An all-staff archive of client mail and a managers-only one of board mail."""
    staff_box, board_box = tmp_path / "desk.mbox", tmp_path / "board.mbox"
    write_mbox(staff_box, 10, sender_domain="x.example")
    write_mbox(board_box, 5, seed=9, start=100)
    staff = archives.queue_archive(SYSTEM, staff_box, label="Desk 2020")
    board = archives.queue_archive(SYSTEM, board_box, label="Board", confidential=True)
    pst_ingest.drain(only=[staff, board])
    return staff, board


def _refs(hits) -> set[str]:
    return {hit.archives for hit in hits}


def test_agent_search_never_returns_managers_only_archives(library):
    agent, manager = make_user("agent"), make_user("manager")
    agent_hits = knowledge.search_knowledge(agent, "margin call deposit forced sale", k=20)
    manager_hits = knowledge.search_knowledge(manager, "margin call deposit forced sale", k=20)
    assert agent_hits and _refs(agent_hits) == {"Desk 2020"}
    assert "Board" in _refs(manager_hits)
    board_doc = next(h for h in manager_hits if h.archives == "Board").document_id
    with pytest.raises(NotFound):
        archives.get_archived_message(agent, board_doc)
    assert archives.get_archived_message(manager, board_doc).archive_labels == ["Board"]


def test_knowledge_hits_carry_provenance_and_open_in_the_viewer(library):
    agent = make_user("agent")
    hit = knowledge.search_knowledge(agent, "wire transfer SWIFT intermediary bank", k=3)[0]
    assert hit.kind == "archive_message" and hit.message_id.startswith("<gen-0-")
    assert hit.sender.endswith("@x.example") and hit.date.startswith("2020-")
    assert hit.link == f"/knowledge/messages/{hit.document_id}"
    view = archives.get_archived_message(agent, hit.document_id)
    assert view.subject == hit.title and "SWIFT" in view.body
    assert view.recipients == "Advisory Desk <desk@firm.example>" and view.archive_labels == [
        "Desk 2020"
    ]


def test_clients_and_marketing_cannot_search_or_read_archives(library):
    client_user, marketing = make_user("client"), make_user("marketing")
    for outsider in (client_user, marketing):
        with pytest.raises(PermissionDenied):
            knowledge.search_knowledge(outsider, "wire transfer")
        with pytest.raises(PermissionDenied):
            archives.get_archived_message(outsider, 1)


def test_suggested_reply_cites_an_archived_message_and_links_to_it(library):
    agent = make_user("agent", name="Sam Agent")
    client = make_client(agent, "Ada Lovelace")
    number = make_ticket(agent, client, subject="Margin call on my account")
    pending = suggestions.request_suggestion(agent, number)
    view = suggestions.generate_suggestion(agent, pending.id, config=llm.LlmConfig())
    cited = [s for s in view.sources if s["kind"] == "archive_message"]
    assert cited and all(s["link"].startswith("/knowledge/messages/") for s in cited)


def test_client_profile_lists_archived_correspondence_by_date(library):
    agent = make_user("agent")
    ada = make_client(agent, "Ada Lovelace")  # ada@x.example, the sender of every 5th mail
    rows, total = archives.client_correspondence(agent, ada)
    assert total == 2 and all(r.sender.startswith("Ada Lovelace") for r in rows)
    assert rows[0].date >= rows[1].date
    later, count = archives.client_correspondence(
        agent, ada, date_from=datetime.fromisoformat(rows[0].date).replace(tzinfo=UTC)
    )
    assert count == 1 and later[0].document_id == rows[0].document_id
    with pytest.raises(PermissionDenied):
        archives.client_correspondence(make_user("marketing"), ada)

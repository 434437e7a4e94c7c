"""Keyset pages: every row once, in order, however deep; a forged cursor is a clear refusal;
the paging state of a data table goes forward and back exactly (handlers called directly)."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from sqlmodel import col

from crm_app.components.tables import KeysetPaging
from crm_app.db import session_scope
from crm_app.services.campaigns import delivery, manage, results
from crm_app.services.errors import InvalidInput
from crm_app.services.pagination import (
    decode_cursor,
    encode_cursor,
    keyset_after,
    keyset_page,
)
from models.client import Client
from tests.factories import make_user
from tests.test_campaigns import _campaign, _clients, _segment
from tests.test_mail_out import add_mailbox


def test_a_cursor_carries_its_key_and_back() -> None:
    for key in [(7,), ("2026-12-01T10:00:00+00:00", 42), ("naïve | text", -1)]:
        assert decode_cursor(encode_cursor(key), len(key)) == key


@pytest.mark.parametrize(
    "forged",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"{not json").decode(),
        encode_cursor([1, 2]),  # the wrong number of values
        base64.urlsafe_b64encode(b'{"id": 1}').decode(),  # not a list
        base64.urlsafe_b64encode(b"[true]").decode(),  # a bool is not a key value
        base64.urlsafe_b64encode(b"[[1]]").decode(),  # nor a nested list
        base64.urlsafe_b64encode(b"[null]").decode(),
        "A" * 600,  # longer than any real cursor
    ],
)
def test_a_forged_cursor_is_refused_with_a_clear_message(forged: str) -> None:
    with pytest.raises(InvalidInput, match="start from the first page"):
        decode_cursor(forged, 1)


def test_pages_on_a_compound_descending_key_hold_every_row_once_even_with_ties(db: str) -> None:
    _clients(23)  # one INSERT: all 23 share created_at, so only the id orders them
    columns = (col(Client.created_at), col(Client.id))
    seen: list[int] = []
    cursor, pages = "", 0
    with session_scope() as session:
        while True:
            rows = session.execute(
                sa.select(Client.id, Client.created_at)
                .where(*keyset_after(columns, cursor, descending=True))
                .order_by(col(Client.created_at).desc(), col(Client.id).desc())
                .limit(5 + 1)
            ).all()
            page = keyset_page(rows, 5, key=lambda r: (r.created_at.isoformat(), r.id))
            seen += [r.id for r in page.items]
            pages += 1
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        everyone = session.execute(sa.select(Client.id)).scalars().all()
    assert pages == 5
    assert seen == sorted(everyone, reverse=True)


def _sent_campaign(count: int) -> tuple[object, int]:
    add_mailbox()
    marketer = make_user("marketing")
    _clients(count)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    manage.schedule(marketer, campaign_id)
    assert delivery.materialize(campaign_id)
    return marketer, campaign_id


def test_a_campaigns_recipients_are_read_page_after_page_by_keyset(db: str) -> None:
    marketer, campaign_id = _sent_campaign(120)
    emails: list[str] = []
    cursor, sizes = "", []
    while True:
        page = results.recipients(marketer, campaign_id, "all", after=cursor)
        assert page.total == 120
        emails += [r.email for r in page.items]
        sizes.append(len(page.items))
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sizes == [50, 50, 20]
    assert len(set(emails)) == 120
    assert results.recipients(marketer, campaign_id, "sent").total == 0
    with pytest.raises(InvalidInput):
        results.recipients(marketer, campaign_id, "all", after=encode_cursor(["12"]))


class _RecipientsTab:
    """A data table's paging state as Reflex runs it, minus the browser: the mixin's own
    functions on a plain object whose `_fetch_page` reads recipients."""

    _page_start = KeysetPaging._page_start
    _page_loaded = KeysetPaging._page_loaded
    _first_page = KeysetPaging._first_page
    next_page = KeysetPaging.next_page
    previous_page = KeysetPaging.previous_page

    def __init__(self, actor, campaign_id: int) -> None:
        self.actor, self.campaign_id = actor, campaign_id
        self.page, self.has_next, self._cursors, self._next_cursor = 1, False, [""], ""
        self.emails: list[str] = []

    def require_actor(self):
        return self.actor

    def _fetch_page(self) -> None:
        found = results.recipients(self.actor, self.campaign_id, after=self._page_start())
        self.emails = [r.email for r in found.items]
        self._page_loaded(found.next_cursor)


def test_next_and_previous_walk_the_pages_and_come_back_to_the_same_rows(db: str) -> None:
    marketer, campaign_id = _sent_campaign(120)
    tab = _RecipientsTab(marketer, campaign_id)
    tab._first_page()
    first = tab.emails
    tab.next_page()
    second = tab.emails
    tab.next_page()
    assert (tab.page, len(tab.emails), tab.has_next) == (3, 20, False)
    tab.next_page()  # past the last page: nothing moves
    assert tab.page == 3 and len(tab.emails) == 20
    tab.previous_page()
    assert tab.page == 2 and tab.emails == second
    tab.previous_page()
    tab.previous_page()  # before the first page: stays on it
    assert tab.page == 1 and tab.emails == first
    assert not set(first) & set(second)

"""A campaign's results: counts and rates, events over time, recipients page by page, the CSV
export, and the campaigns one client received. Reads only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.pagination import KeysetPage, decode_cursor, keyset_page

PAGE_SIZE = 50
STATUS_FILTERS = ("all", "queued", "sent", "failed", "cancelled", "opened", "clicked", "bounced")


@dataclass(frozen=True)
class CampaignStats:
    total: int
    queued: int
    sent: int
    failed: int
    cancelled: int
    unconfirmed: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    unsubscribed: int
    complained: int

    def rate(self, count: int) -> str:
        return f"{100 * count / self.sent:.1f}%" if self.sent else "–"

    @property
    def progress(self) -> int:
        done = self.sent + self.failed + self.cancelled
        return int(100 * done / self.total) if self.total else 0


def stats(actor: Actor, campaign_id: int) -> CampaignStats:
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        row = session.execute(
            text(
                """
                SELECT count(*) AS total,
                  count(*) FILTER (WHERE status IN ('queued', 'claimed')) AS queued,
                  count(*) FILTER (WHERE status IN ('sent', 'sending')) AS sent,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                  count(*) FILTER (WHERE unconfirmed) AS unconfirmed,
                  count(delivered_at) AS delivered, count(opened_at) AS opened,
                  count(clicked_at) AS clicked, count(bounced_at) AS bounced,
                  count(unsubscribed_at) AS unsubscribed, count(complained_at) AS complained
                FROM campaign_recipient WHERE campaign_id = :id
                """
            ),
            {"id": campaign_id},
        ).one()
        return CampaignStats(**row._mapping)


def timeline(actor: Actor, campaign_id: int) -> list[dict[str, int | str]]:
    """Per hour since the send started: messages sent and unique opens/clicks (first times),
    for the chart."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        rows = (
            session.execute(
                text(
                    """
                SELECT to_char(h, 'MM-DD HH24:00') AS hour, kind, count(*) AS n FROM (
                  SELECT date_trunc('hour', sent_at) h, 'sent' kind FROM campaign_recipient
                    WHERE campaign_id = :id AND sent_at IS NOT NULL
                  UNION ALL SELECT date_trunc('hour', opened_at), 'opened' FROM
                    campaign_recipient WHERE campaign_id = :id AND opened_at IS NOT NULL
                  UNION ALL SELECT date_trunc('hour', clicked_at), 'clicked' FROM
                    campaign_recipient WHERE campaign_id = :id AND clicked_at IS NOT NULL
                ) t GROUP BY h, kind ORDER BY h
                """
                ),
                {"id": campaign_id},
            )
            .tuples()
            .all()
        )
    points: dict[str, dict[str, int | str]] = {}
    for hour, kind, n in rows:
        point = points.setdefault(hour, {"hour": hour, "sent": 0, "opened": 0, "clicked": 0})
        point[kind] = n
    return list(points.values())


@dataclass(frozen=True)
class RecipientRow:
    id: int
    email: str
    name: str
    status: str
    sent_at: str
    activity: str
    error: str


_FILTER_SQL = {
    "all": "true",
    "queued": "status IN ('queued', 'claimed')",
    "sent": "status IN ('sent', 'sending')",
    "failed": "status = 'failed'",
    "cancelled": "status = 'cancelled'",
    "opened": "opened_at IS NOT NULL",
    "clicked": "clicked_at IS NOT NULL",
    "bounced": "bounced_at IS NOT NULL",
}
_SELECT_RECIPIENTS = """
    SELECT id, email, trim(first_name || ' ' || last_name) AS name, status, unconfirmed,
      to_char(sent_at, 'YYYY-MM-DD HH24:MI:SS') AS sent_at,
      delivered_at IS NOT NULL AS delivered, opened_at IS NOT NULL AS opened,
      clicked_at IS NOT NULL AS clicked, bounced_at IS NOT NULL AS bounced,
      unsubscribed_at IS NOT NULL AS unsubscribed, complained_at IS NOT NULL AS complained,
      coalesce(error, '') AS error, coalesce(provider_message_id, '') AS provider_message_id
    FROM campaign_recipient
"""


def _activity(row) -> str:
    flags = ("delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")
    words = [f for f in flags if getattr(row, f)]
    if row.unconfirmed:
        words.append("unconfirmed")
    return ", ".join(words)


def recipients(
    actor: Actor, campaign_id: int, status: str = "all", after: str = ""
) -> KeysetPage[RecipientRow]:
    """One page of recipients in id order after the keyset cursor `after`, with the filter's
    total: the last page of a 200,000-recipient campaign costs what the first costs."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    where = _FILTER_SQL.get(status, "true")
    after_id = decode_cursor(after, 1)[0] if after else 0
    if not isinstance(after_id, int):
        raise InvalidInput("That page link is no longer valid: start from the first page.")
    with session_scope() as session:
        total = session.scalars(
            text(f"SELECT count(*) FROM campaign_recipient WHERE campaign_id = :id AND {where}"),
            {"id": campaign_id},
        ).one()
        rows = session.execute(
            text(
                f"{_SELECT_RECIPIENTS} WHERE campaign_id = :id AND {where} AND id > :after "
                "ORDER BY id LIMIT :limit"
            ),
            {"id": campaign_id, "after": after_id, "limit": PAGE_SIZE + 1},
        ).all()
    page = keyset_page(rows, PAGE_SIZE, key=lambda r: (r.id,), total=total)
    return KeysetPage(
        [
            RecipientRow(r.id, r.email, r.name, r.status, r.sent_at or "", _activity(r), r.error)
            for r in page.items
        ],
        page.next_cursor,
        total,
    )


def export_csv(actor: Actor, campaign_id: int) -> Iterator[str]:
    """Every recipient with status and tracking, streamed (server-side cursor), for a CSV."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        if not session.execute(
            text("SELECT 1 FROM campaign WHERE id = :id"), {"id": campaign_id}
        ).first():
            raise NotFound("There is no such campaign.")

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            ["email", "name", "status", "sent_at", "activity", "provider_message_id", "error"]
        )
        with get_engine().connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(
                text(f"{_SELECT_RECIPIENTS} WHERE campaign_id = :id ORDER BY id"),
                {"id": campaign_id},
            )
            for row in result:
                # A leading =, +, - or @ would be a formula in a spreadsheet.
                cells = [row.email, row.name, row.status, row.sent_at or "", _activity(row)]
                cells += [row.provider_message_id, row.error]
                writer.writerow(
                    ["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in map(str, cells)]
                )
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return lines()


@dataclass(frozen=True)
class ReceivedCampaign:
    campaign_id: int
    name: str
    sent_at: str
    activity: str


def campaigns_of_client(actor: Actor, client_id: int) -> list[ReceivedCampaign]:
    """The campaigns a client was sent, newest first (their profile)."""
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        rows = session.execute(
            text(
                f"SELECT c.name AS campaign_name, c.id AS campaign_id, r.* FROM "
                f"({_SELECT_RECIPIENTS} WHERE client_id = :id AND status IN ('sent', 'sending')) r "
                "JOIN campaign_recipient cr ON cr.id = r.id JOIN campaign c ON c.id = "
                "cr.campaign_id ORDER BY r.sent_at DESC NULLS LAST LIMIT 50"
            ),
            {"id": client_id},
        ).all()
    return [
        ReceivedCampaign(r.campaign_id, r.campaign_name, r.sent_at or "", _activity(r))
        for r in rows
    ]

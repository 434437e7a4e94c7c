"""Who a campaign reaches: the clients of one or more saved segments, minus the clients of the
exclusion segments, minus everyone without marketing consent or an address, minus the
suppression list (which always wins), one message per address.

Segments are evaluated as the marketing role sees clients, whoever saved them: a campaign's
audience can never be built on a finance field."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import func, select, union
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.segments import segment_client_ids_query
from models.campaign import Suppression
from models.client import Client
from models.user import Role

# The audience is always computed with marketing's view of clients.
AUDIENCE_ACTOR = Actor(user_id=None, role=Role.MARKETING.value, name="Campaign audience")


@dataclass(frozen=True)
class AudienceCount:
    in_segments: int
    excluded: int
    no_consent: int
    no_email: int
    suppressed: int
    duplicates: int
    included: int

    def left_out(self) -> list[tuple[str, int]]:
        return [
            ("in an excluded segment", self.excluded),
            ("no marketing consent", self.no_consent),
            ("no email address", self.no_email),
            ("unsubscribed, bounced or complained", self.suppressed),
            ("same address as another client", self.duplicates),
        ]


def _members(session, segment_ids: list[int]) -> sa.Select | None:
    queries = [segment_client_ids_query(session, AUDIENCE_ACTOR, sid) for sid in segment_ids]
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else select(union(*queries).subquery().c.id)


def candidates(session, segment_ids: list[int], exclude_ids: list[int]) -> sa.Select:
    """Every client in the segments, with why each would be left out (NULL: included)."""
    members = _members(session, segment_ids)
    excluded = _members(session, exclude_ids)
    address = func.lower(func.trim(col(Client.email)))
    suppressed = (
        select(col(Suppression.email))
        .where(col(Suppression.email) == address)
        .exists()
        .correlate(Client)
    )
    reason = sa.case(
        (col(Client.id).in_(excluded) if excluded is not None else sa.false(), "excluded"),
        (col(Client.email).is_(None) | (func.trim(col(Client.email)) == ""), "no_email"),
        (col(Client.marketing_consent).is_not(True), "no_consent"),
        (suppressed, "suppressed"),
        else_=None,
    )
    base = select(
        col(Client.id).label("client_id"),
        address.label("email"),
        col(Client.name).label("name"),
        reason.label("reason"),
    )
    if members is None:
        return base.where(sa.false())
    return base.where(col(Client.id).in_(members), col(Client.erased_at).is_(None))


def count_audience(actor: Actor, segment_ids: list[int], exclude_ids: list[int]) -> AudienceCount:
    """The live count the compose page shows, with how many were left out and why."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope() as session:
        rows = candidates(session, segment_ids, exclude_ids).subquery()
        by_reason = dict(
            session.execute(select(rows.c.reason, func.count()).group_by(rows.c.reason)).all()
        )
        eligible = by_reason.get(None, 0)
        distinct = session.scalars(
            select(func.count(sa.distinct(rows.c.email))).where(rows.c.reason.is_(None))
        ).one()
    return AudienceCount(
        in_segments=sum(by_reason.values()),
        excluded=by_reason.get("excluded", 0),
        no_consent=by_reason.get("no_consent", 0),
        no_email=by_reason.get("no_email", 0),
        suppressed=by_reason.get("suppressed", 0),
        duplicates=eligible - distinct,
        included=distinct,
    )

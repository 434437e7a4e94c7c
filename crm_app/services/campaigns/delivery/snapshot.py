"""Starting a campaign: its audience is snapshotted once, in the transaction that marks it
`sending`."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app.db import session_scope
from crm_app.services.campaigns.audience import candidates
from crm_app.services.errors import ServiceError
from models.base import utcnow
from models.campaign import Campaign, CampaignRecipient, CampaignStatus

log = logging.getLogger(__name__)


def start_due_campaigns() -> list[int]:
    """Scheduled campaigns whose time has come: snapshot each audience (once) and start them."""
    with session_scope() as session:
        due = session.scalars(
            select(col(Campaign.id)).where(
                col(Campaign.status) == CampaignStatus.SCHEDULED,
                col(Campaign.scheduled_at) <= utcnow(),
            )
        )
        due_ids = [campaign_id for campaign_id in due if campaign_id is not None]  # all are
    started = []
    for campaign_id in due_ids:
        try:
            if materialize(campaign_id):
                started.append(campaign_id)
        except ServiceError as error:  # e.g. a segment deleted after scheduling
            log.error(
                "campaign not started", extra={"campaign_id": campaign_id, "error": error.message}
            )
    return started


def snapshots_in_progress() -> int:
    """Due campaigns another process is starting right now (`materialize` holds their row):
    a process that found nothing to send yet must not take that for the end of the work."""
    with session_scope() as session:
        due = list(
            session.scalars(
                select(col(Campaign.id)).where(
                    col(Campaign.status) == CampaignStatus.SCHEDULED,
                    col(Campaign.scheduled_at) <= utcnow(),
                )
            )
        )
        if not due:
            return 0
        free = session.scalars(
            select(col(Campaign.id))
            .where(col(Campaign.id).in_(due))
            .with_for_update(skip_locked=True)
        ).all()
        return len(due) - len(free)


def materialize(campaign_id: int) -> bool:
    """Freeze the recipient list with one INSERT … SELECT: in the same transaction as the
    status change, so a crash leaves either no snapshot or the whole of it."""
    with session_scope() as session:
        campaign = session.execute(
            select(Campaign)
            .where(col(Campaign.id) == campaign_id)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
            return False
        if campaign.materialized_at is None:
            eligible = candidates(
                session, campaign.segment_ids, campaign.exclude_segment_ids
            ).subquery()
            space = func.strpos(eligible.c.name, " ")
            picked = (
                select(
                    sa.literal(campaign_id).label("campaign_id"),
                    eligible.c.client_id,
                    eligible.c.email,
                    func.split_part(eligible.c.name, " ", 1),
                    sa.case((space > 0, func.substr(eligible.c.name, space + 1)), else_=""),
                    sa.literal("queued"),
                    sa.false(),
                )
                .where(eligible.c.reason.is_(None))
                .distinct(eligible.c.email)
                .order_by(eligible.c.email, eligible.c.client_id)
            )
            session.execute(
                sa.insert(CampaignRecipient).from_select(
                    [
                        "campaign_id",
                        "client_id",
                        "email",
                        "first_name",
                        "last_name",
                        "status",
                        "unconfirmed",
                    ],
                    picked,
                )
            )
            campaign.recipients_total = session.scalars(
                select(func.count()).where(col(CampaignRecipient.campaign_id) == campaign_id)
            ).one()
            campaign.materialized_at = utcnow()
        campaign.status = CampaignStatus.SENDING.value
        campaign.started_at = campaign.started_at or utcnow()
        campaign.updated_at = utcnow()
        return True

"""The built-in SLA setup (targets per priority, the default calendars and the default
policy), created when missing, and the state rule the demo seeder uses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from crm_app.db import session_scope
from crm_app.services.business_hours import STANDARD_HOURS
from crm_app.services.sla.config import (
    DEFAULT_CALENDAR_NAME,
    DEFAULT_POLICY_NAME,
    DEFAULT_TARGETS,
    OFFICE_CALENDAR_NAME,
)
from crm_app.settings import get_settings
from models.business_hours import BusinessCalendar
from models.sla import SlaConfig, SlaPolicy, SlaSettings, SlaTarget
from models.ticket import OPEN_STATUSES, SlaState


def ensure_default_targets() -> None:
    """Create the built-in targets, the default calendar and the default policy when missing
    (idempotent, race-safe: several processes start at once)."""
    rows = [
        {"priority": priority.value, "first_response_minutes": first, "resolution_minutes": res}
        for priority, (first, res) in DEFAULT_TARGETS.items()
    ]
    with session_scope() as session:
        session.execute(
            insert(SlaConfig).values(rows).on_conflict_do_nothing(index_elements=["priority"])
        )
        session.execute(
            insert(SlaSettings)
            .values(id=1, version=1)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        always = {str(d): [["00:00", "24:00"]] for d in range(7)}
        session.execute(
            insert(BusinessCalendar)
            .values(
                [
                    {
                        "name": DEFAULT_CALENDAR_NAME,
                        "time_zone": "UTC",
                        "hours": always,
                        "holidays": [],
                        "is_default": True,
                    },
                    {
                        "name": OFFICE_CALENDAR_NAME,
                        "time_zone": "Europe/Zurich",
                        "hours": STANDARD_HOURS,
                        "holidays": [],
                        "is_default": False,
                    },
                ]
            )
            .on_conflict_do_nothing()
        )
        has_default: int = session.execute(
            select(func.count()).select_from(SlaPolicy).where(col(SlaPolicy.is_default).is_(True))
        ).scalar_one()
        if not has_default:
            targets = {
                config.priority: {
                    SlaTarget.FIRST_RESPONSE.value: config.first_response_minutes,
                    SlaTarget.NEXT_RESPONSE.value: max(config.first_response_minutes // 2, 15),
                    SlaTarget.RESOLUTION.value: config.resolution_minutes,
                }
                for config in session.scalars(select(SlaConfig))
            }
            session.execute(
                insert(SlaPolicy)
                .values(
                    name=DEFAULT_POLICY_NAME,
                    position=1000,
                    is_default=True,
                    calendar_id=None,
                    conditions={},
                    targets=targets,
                    near_breach_share=get_settings().sla_near_breach_share,
                )
                .on_conflict_do_nothing()
            )


def sla_targets() -> dict[str, tuple[int, int]]:
    """The built-in (first response, resolution) minutes per priority."""
    with session_scope() as session:
        rows = (
            session.execute(
                select(
                    col(SlaConfig.priority),
                    col(SlaConfig.first_response_minutes),
                    col(SlaConfig.resolution_minutes),
                )
            )
            .tuples()
            .all()
        )
    return {priority: (first, res) for priority, first, res in rows}


def sla_state_for(
    *,
    status: str,
    created_at: datetime,
    first_response_due_at: datetime,
    resolution_due_at: datetime,
    first_responded_at: datetime | None,
    finished_at: datetime | None,
    now: datetime,
    near_breach_share: float,
) -> SlaState:
    """The state of one ticket on an around-the-clock calendar with no pauses (the rule the
    demo seeder uses, so a scan right after seeding changes nothing)."""
    if status in OPEN_STATUSES:
        if (first_responded_at or now) > first_response_due_at or now > resolution_due_at:
            return SlaState.BREACHED
        first_share = created_at + (first_response_due_at - created_at) * near_breach_share
        resolution_share = created_at + (resolution_due_at - created_at) * near_breach_share
        if (first_responded_at is None and now >= first_share) or now >= resolution_share:
            return SlaState.NEAR_BREACH
        return SlaState.ON_TRACK
    finished = finished_at or now
    if (first_responded_at or finished) > first_response_due_at or finished > resolution_due_at:
        return SlaState.BREACHED
    return SlaState.MET

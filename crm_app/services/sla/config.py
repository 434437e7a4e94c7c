"""SLA configuration: the built-in targets and labels, client tiers, and the calendars and
policies of one configuration version (`load_setup`, cached per process), with the version
that a change of calendars, policies or rules bumps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from crm_app.services.business_hours import Calendar
from models.base import utcnow
from models.business_hours import BusinessCalendar
from models.sla import SlaPolicy, SlaSettings, SlaTarget
from models.ticket import TicketPriority

log = logging.getLogger(__name__)

# Minutes to first response and to resolution, per priority (a manager can change them).
DEFAULT_TARGETS: dict[TicketPriority, tuple[int, int]] = {
    TicketPriority.URGENT: (30, 4 * 60),
    TicketPriority.HIGH: (2 * 60, 24 * 60),
    TicketPriority.NORMAL: (8 * 60, 3 * 24 * 60),
    TicketPriority.LOW: (24 * 60, 7 * 24 * 60),
}
# Next response: half the first-response target by default.
DEFAULT_POLICY_NAME = "Standard"
DEFAULT_CALENDAR_NAME = "Around the clock"
OFFICE_CALENDAR_NAME = "Office hours"
TARGETS: tuple[SlaTarget, ...] = (
    SlaTarget.FIRST_RESPONSE,
    SlaTarget.NEXT_RESPONSE,
    SlaTarget.RESOLUTION,
)
TARGET_LABELS = {
    SlaTarget.FIRST_RESPONSE: "First response",
    SlaTarget.NEXT_RESPONSE: "Next response",
    SlaTarget.RESOLUTION: "Resolution",
}

# Client tiers, from net worth in the reporting currency (a policy may target a tier).
TIERS: tuple[tuple[str, Decimal], ...] = (
    ("private_banking", Decimal(5_000_000)),
    ("premier", Decimal(1_000_000)),
    ("retail", Decimal(0)),
)
TIER_LABELS = {"private_banking": "Private banking", "premier": "Premier", "retail": "Retail"}
NO_TIER = "none"
TIER_SQL = (
    "CASE WHEN {nw} IS NULL THEN 'retail' WHEN {nw} >= 5000000 THEN 'private_banking' "
    "WHEN {nw} >= 1000000 THEN 'premier' ELSE 'retail' END"
)


def client_tier(net_worth_reporting: Decimal | float | None) -> str:
    """The client's service tier: private banking, premier or retail."""
    if net_worth_reporting is None:
        return "retail"
    amount = Decimal(str(net_worth_reporting))
    return next(name for name, floor in TIERS if amount >= floor)


@dataclass(frozen=True)
class PolicySpec:
    id: int
    name: str
    position: int
    is_default: bool
    calendar_id: int | None
    tiers: frozenset[str]
    segment_ids: tuple[int, ...]
    channels: frozenset[str]
    priorities: frozenset[str]
    targets: dict[str, dict[str, int]]
    near_breach_share: float

    def minutes(self, priority: str, target: SlaTarget) -> int | None:
        value = (self.targets.get(priority) or {}).get(target.value)
        return int(value) if value else None


@dataclass
class SlaSetup:
    """Calendars and policies of one configuration version (cached per process)."""

    version: int
    policies: list[PolicySpec]
    calendars: dict[int, Calendar]
    calendar_names: dict[int, str]
    default_calendar_id: int | None

    def calendar_for(self, policy: PolicySpec | None) -> Calendar:
        calendar_id = (policy.calendar_id if policy else None) or self.default_calendar_id
        return self.calendars.get(calendar_id or -1) or Calendar.always_open()

    def calendar_name(self, policy: PolicySpec | None) -> str:
        calendar_id = (policy.calendar_id if policy else None) or self.default_calendar_id
        return self.calendar_names.get(calendar_id or -1, "Around the clock")

    def policy(self, policy_id: int | None) -> PolicySpec | None:
        return next((p for p in self.policies if p.id == policy_id), None)


_setup_cache: dict[tuple[int, datetime | None], SlaSetup] = {}


def config_version(session: Session) -> int:
    version = session.execute(
        select(col(SlaSettings.version)).where(col(SlaSettings.id) == 1)
    ).scalar()
    return int(version or 0)


def _config_stamp(session: Session) -> tuple[int, datetime | None]:
    row = session.execute(
        select(col(SlaSettings.version), col(SlaSettings.updated_at)).where(
            col(SlaSettings.id) == 1
        )
    ).first()
    return (int(row[0]), row[1]) if row else (0, None)


def bump_version(session: Session) -> int:
    """Mark the configuration changed: the next scan recomputes open tickets' clocks."""
    stmt = insert(SlaSettings).values(id=1, version=2, updated_at=utcnow())
    upsert = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"version": col(SlaSettings.version) + 1, "updated_at": utcnow()},
    ).returning(col(SlaSettings.version))
    return int(session.execute(upsert).scalar_one())


def load_setup(session: Session) -> SlaSetup:
    stamp = _config_stamp(session)
    version = stamp[0]
    cached = _setup_cache.get(stamp)
    if cached is not None:
        return cached
    calendars: dict[int, Calendar] = {}
    names: dict[int, str] = {}
    default_calendar_id = None
    for row in session.scalars(select(BusinessCalendar)):
        assert row.id is not None  # a stored row
        try:
            calendars[row.id] = Calendar.from_config(row.time_zone, row.hours, row.holidays)
        except Exception:  # a broken row (edited by hand) must not stop every ticket
            log.exception("calendar skipped", extra={"calendar_id": row.id})
            continue
        names[row.id] = row.name
        if row.is_default:
            default_calendar_id = row.id
    policies = []
    for policy in session.scalars(
        select(SlaPolicy).order_by(
            col(SlaPolicy.is_default), col(SlaPolicy.position), col(SlaPolicy.id)
        )
    ):
        assert policy.id is not None  # a stored row
        conditions = policy.conditions or {}
        policies.append(
            PolicySpec(
                id=policy.id,
                name=policy.name,
                position=policy.position,
                is_default=policy.is_default,
                calendar_id=policy.calendar_id,
                tiers=frozenset(conditions.get("tiers") or ()),
                segment_ids=tuple(int(s) for s in conditions.get("segment_ids") or ()),
                channels=frozenset(conditions.get("channels") or ()),
                priorities=frozenset(conditions.get("priorities") or ()),
                targets=policy.targets or {},
                near_breach_share=policy.near_breach_share,
            )
        )
    setup = SlaSetup(version, policies, calendars, names, default_calendar_id)
    if len(_setup_cache) > 8:
        _setup_cache.clear()
    _setup_cache[stamp] = setup
    return setup

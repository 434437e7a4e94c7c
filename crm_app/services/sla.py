"""SLA engine: policies chosen per ticket, clocks in business time that pause while a ticket
waits on its client, and the set-based scan that flags near-breach and breached tickets.

How a ticket's clocks are kept (one `ticket_sla` row per ticket):

- at each event (ticket created, a reply, a status or priority change) the ticket action calls
  `on_ticket_event` in its own transaction: it picks the policy (first match wins, then the
  default), starts, pauses, resumes or stops each target's clock, and precomputes the due and
  near-breach instants on the policy's business-hours calendar;
- the scan (`scan_open_tickets`) therefore only compares instants in SQL: rows whose
  `next_alarm_at` passed are picked through an index, their near-breach/breach events are
  inserted once (ON CONFLICT), the alarm moves on, and tickets whose state changed are updated
  and audited, all in one statement; escalation rules then act on the events it returned;
- a change of calendars, policies or rules bumps the configuration version: the next scan
  recomputes the clocks of open tickets on an older version (the only per-row work it does).

Targets: first response (from creation of a client-opened ticket to the first public staff
reply), next response (from each client message after a staff answer to the next staff reply)
and resolution (from creation to resolved). Pending pauses every running clock; the client's
answer (the ticket reopens) resumes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from crm_app.auth.permissions import SYSTEM, Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services import audit, bulk
from crm_app.services.business_hours import STANDARD_HOURS, Calendar
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.settings import get_settings
from models.base import utcnow
from models.business_hours import BusinessCalendar
from models.client import Client
from models.sla import (
    SlaClock,
    SlaConfig,
    SlaEventKind,
    SlaPolicy,
    SlaSettings,
    SlaTarget,
    TicketSla,
    TicketSlaEvent,
)
from models.ticket import OPEN_STATUSES, SlaState, Ticket, TicketPriority, TicketStatus

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
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
_FINISHED = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})
# Tickets per batch when the clocks of open tickets are rebuilt after a configuration change.
REBUILD_BATCH_SIZE = 2_000
SCAN_BATCH_SIZE = 50_000  # rows per alarm statement: short transactions

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


# --- configuration ---------------------------------------------------------------------------


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


# --- policy matching -------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFacts:
    """What policy conditions look at."""

    client_id: int | None
    tier: str
    channel: str
    priority: str


def _segment_members(session: Session, segment_ids: Sequence[int], client_id: int) -> set[int]:
    """The segments (of `segment_ids`) that `client_id` belongs to."""
    from crm_app.services.segments import segment_where
    from models.segment import Segment

    found: set[int] = set()
    for segment in session.scalars(select(Segment).where(col(Segment.id).in_(segment_ids))):
        assert segment.id is not None  # a stored row
        try:
            where = segment_where(session, SYSTEM, segment.rules)
        except Exception:  # a segment whose rules no longer compile matches no one
            log.warning("segment rules unusable for SLA", extra={"segment_id": segment.id})
            continue
        hit = session.execute(
            select(col(Client.id)).where(col(Client.id) == client_id, where).limit(1)
        ).first()
        if hit:
            found.add(segment.id)
    return found


def match_policy(session: Session, setup: SlaSetup, facts: TicketFacts) -> PolicySpec | None:
    """The first policy (by position) whose conditions all hold, else the default."""
    segments: set[int] | None = None
    for policy in setup.policies:
        if policy.is_default:
            continue
        if policy.tiers and facts.tier not in policy.tiers:
            continue
        if policy.channels and facts.channel not in policy.channels:
            continue
        if policy.priorities and facts.priority not in policy.priorities:
            continue
        if policy.segment_ids:
            if facts.client_id is None:
                continue
            if segments is None:
                wanted = {s for p in setup.policies for s in p.segment_ids}
                segments = _segment_members(session, sorted(wanted), facts.client_id)
            if not segments.intersection(policy.segment_ids):
                continue
        return policy
    return next((p for p in setup.policies if p.is_default), None)


def _facts(
    session: Session, ticket: Ticket, net_worths: dict[int, Any] | None = None
) -> TicketFacts:
    """What the conditions look at; `net_worths` (client id -> amount) saves a query each."""
    net_worth = None
    if net_worths is not None and ticket.client_id is not None:
        net_worth = net_worths.get(ticket.client_id)
    elif ticket.client_id is not None:
        net_worth = session.execute(
            select(col(Client.net_worth_reporting)).where(col(Client.id) == ticket.client_id)
        ).scalar()
    tier = client_tier(net_worth) if ticket.client_id is not None else NO_TIER
    return TicketFacts(ticket.client_id, tier, ticket.channel, ticket.priority)


# --- clocks ----------------------------------------------------------------------------------


def _get(s: TicketSla, target: SlaTarget, name: str) -> Any:
    return getattr(s, f"{target.value}_{name}")


def _set(s: TicketSla, target: SlaTarget, name: str, value: Any) -> None:
    setattr(s, f"{target.value}_{name}", value)


def _cycle(s: TicketSla, target: SlaTarget) -> int:
    return s.next_response_cycle if target is SlaTarget.NEXT_RESPONSE else 0


class _Clocks:
    """Operations on one ticket's clocks inside the caller's transaction; records history."""

    def __init__(
        self, session: Session | None, s: TicketSla, calendar: Calendar, now: datetime
    ) -> None:
        self.session, self.s, self.calendar, self.now = session, s, calendar, now

    def event(self, target: SlaTarget, kind: SlaEventKind, detail: str = "") -> None:
        s = self.s
        assert self.session is not None
        if kind in (SlaEventKind.NEAR_BREACH, SlaEventKind.BREACHED):
            self.session.execute(
                insert(TicketSlaEvent)
                .values(
                    ticket_id=s.ticket_id,
                    target=target.value,
                    kind=kind.value,
                    cycle=_cycle(s, target),
                    at=self.now,
                    due_at=_get(s, target, "due_at"),
                    detail=detail,
                )
                .on_conflict_do_nothing()
            )
            return
        self.session.add(
            TicketSlaEvent(
                ticket_id=s.ticket_id,
                target=target.value,
                kind=kind.value,
                cycle=_cycle(s, target),
                at=self.now,
                due_at=_get(s, target, "due_at"),
                detail=detail[:300],
            )
        )

    def refresh(self, target: SlaTarget) -> None:
        """Due and near-breach instants of a running clock, from its length and use so far."""
        s = self.s
        minutes = _get(s, target, "minutes")
        since = _get(s, target, "since")
        if _get(s, target, "clock") != SlaClock.RUNNING or not minutes or since is None:
            # A paused or stopped clock keeps the due time it last had (history, display).
            _set(s, target, "near_at", None)
            if not minutes:
                _set(s, target, "due_at", None)
            return
        used = _get(s, target, "used")
        _set(s, target, "due_at", self.calendar.add_business_minutes(since, max(minutes - used, 0)))
        near = max(minutes * s.near_breach_share - used, 0)
        _set(s, target, "near_at", self.calendar.add_business_minutes(since, near))

    def start(self, target: SlaTarget) -> None:
        s = self.s
        if not _get(s, target, "minutes"):
            return
        if target is SlaTarget.NEXT_RESPONSE:
            s.next_response_cycle += 1
        _set(s, target, "clock", SlaClock.RUNNING)
        _set(s, target, "used", 0.0)
        _set(s, target, "since", self.now)
        self.refresh(target)
        self.event(target, SlaEventKind.STARTED)

    def pause(self, target: SlaTarget, reason: str) -> None:
        s = self.s
        if _get(s, target, "clock") != SlaClock.RUNNING:
            return
        since = _get(s, target, "since")
        used = _get(s, target, "used") + self.calendar.business_minutes_between(since, self.now)
        self._judge(target)
        _set(s, target, "used", used)
        _set(s, target, "since", None)
        _set(s, target, "clock", SlaClock.PAUSED)
        self.event(target, SlaEventKind.PAUSED, reason)
        self.refresh(target)

    def resume(self, target: SlaTarget, reason: str) -> None:
        s = self.s
        if _get(s, target, "clock") != SlaClock.PAUSED:
            return
        _set(s, target, "clock", SlaClock.RUNNING)
        _set(s, target, "since", self.now)
        self.refresh(target)
        self.event(target, SlaEventKind.RESUMED, reason)

    def _judge(self, target: SlaTarget) -> bool:
        """Record a breach that happened before this moment (the scan may not have run)."""
        due = _get(self.s, target, "due_at")
        if due is not None and due < self.now:
            self.event(target, SlaEventKind.BREACHED)
            self.s.breached = True
            return True
        return False

    def stop(self, target: SlaTarget, *, met: bool, reason: str = "") -> float | None:
        """Stop a running or paused clock; returns the business minutes it ran."""
        s = self.s
        clock = _get(s, target, "clock")
        if clock not in (SlaClock.RUNNING, SlaClock.PAUSED):
            return None
        used = _get(s, target, "used")
        if clock == SlaClock.RUNNING:
            used += self.calendar.business_minutes_between(_get(s, target, "since"), self.now)
            late = self._judge(target)
        else:
            late = used > (_get(s, target, "minutes") or 0)
        _set(s, target, "used", used)
        _set(s, target, "clock", SlaClock.STOPPED)
        _set(s, target, "since", None)
        if met:
            self.event(
                target,
                SlaEventKind.MET,
                (f"late, after {_minutes_text(used)}" if late else f"in {_minutes_text(used)}"),
            )
        else:
            self.event(target, SlaEventKind.PAUSED, reason or "stopped")
        _set(s, target, "near_at", None)
        return used

    def settle(self) -> None:
        """Flags and the next alarm from the running clocks."""
        s, now = self.s, self.now
        alarms: list[datetime] = []
        near = False
        for target in TARGETS:
            if _get(s, target, "clock") != SlaClock.RUNNING:
                continue
            due, near_at = _get(s, target, "due_at"), _get(s, target, "near_at")
            if due is not None:
                alarms.append(due)
                if due <= now:
                    s.breached = True
            if near_at is not None:
                alarms.append(near_at)
                near = near or near_at <= now
        s.near_breach = near
        # Past instants included: the next scan records their events (once) and moves on.
        s.next_alarm_at = min(alarms) if alarms else None
        paused = any(_get(s, t, "clock") == SlaClock.PAUSED for t in TARGETS)
        s.paused_at = (s.paused_at or now) if paused else None
        s.updated_at = now


def _minutes_text(minutes: float) -> str:
    minutes = round(minutes)
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if mins or not parts:
        parts.append(f"{mins}m")
    return ("-" if minutes < 0 else "") + " ".join(parts)


def _left_text(minutes: float) -> str:
    """Business time left on a target, or how long it is overdue."""
    if minutes < 0:
        return "overdue " + _minutes_text(-minutes)
    return _minutes_text(minutes) + " left"


def _assign_policy(s: TicketSla, policy: PolicySpec | None, priority: str, version: int) -> None:
    s.policy_id = policy.id if policy else None
    s.config_version = version
    s.near_breach_share = (
        policy.near_breach_share if policy else get_settings().sla_near_breach_share
    )
    for target in TARGETS:
        _set(s, target, "minutes", policy.minutes(priority, target) if policy else None)


def _mirror(ticket: Ticket, s: TicketSla) -> None:
    """The ticket's own SLA columns (the queue sorts on them) follow the clocks."""
    if ticket.status in _OPEN:
        # A paused clock keeps the due time it had when it paused (shown, not counted).
        if s.first_response_due_at is not None:
            ticket.first_response_due_at = s.first_response_due_at
        if s.resolution_due_at is not None:
            ticket.resolution_due_at = s.resolution_due_at
        if s.breached:
            ticket.sla_state = SlaState.BREACHED
        elif s.near_breach:
            ticket.sla_state = SlaState.NEAR_BREACH
        else:
            ticket.sla_state = SlaState.ON_TRACK
    elif ticket.status in _FINISHED:
        ticket.sla_state = SlaState.BREACHED if s.breached else SlaState.MET


def _new_clocks(
    session: Session, ticket: Ticket, setup: SlaSetup, net_worths: dict[int, Any] | None = None
) -> TicketSla:
    assert ticket.id is not None  # clocks are made for a flushed ticket
    s = TicketSla(ticket_id=ticket.id)
    policy = match_policy(session, setup, _facts(session, ticket, net_worths))
    _assign_policy(s, policy, ticket.priority, setup.version)
    session.add(s)
    return s


def on_ticket_event(
    session: Session,
    ticket: Ticket,
    now: datetime,
    *,
    status_before: str | None = None,
    priority_before: str | None = None,
    message: str | None = None,
    created: bool = False,
) -> None:
    """Move a ticket's SLA clocks for what just happened to it (inside the action's
    transaction, after its changes are applied to `ticket`).

    `message`: "client" or "staff" for a public message just added (internal notes: None);
    `created`: the ticket was just opened (`message` says who wrote the first message).
    """
    setup = load_setup(session)
    s = session.get(TicketSla, ticket.id)
    if s is None:
        s = _new_clocks(session, ticket, setup)
        if not created:  # a ticket from before the SLA engine: start from its creation
            _adopt(s, ticket, setup, now)
    policy = setup.policy(s.policy_id)
    clocks = _Clocks(session, s, setup.calendar_for(policy), now)
    if created:
        # As the queue always has: the first response is due from creation, whoever wrote
        # the opening message (a staff-opened ticket awaits its follow-up reply).
        clocks.start(SlaTarget.FIRST_RESPONSE)
        clocks.start(SlaTarget.RESOLUTION)
    if priority_before is not None and priority_before != ticket.priority:
        policy = match_policy(session, setup, _facts(session, ticket))
        _assign_policy(s, policy, ticket.priority, setup.version)
        clocks.calendar = setup.calendar_for(policy)
        for target in TARGETS:
            clocks.refresh(target)
    if message == "staff" and not created:
        spent = clocks.stop(SlaTarget.FIRST_RESPONSE, met=True)
        if spent is not None:
            s.first_response_business_minutes = spent
        clocks.stop(SlaTarget.NEXT_RESPONSE, met=True)
    if message == "client" and not created:
        answered = ticket.first_responded_at is not None
        if answered and s.next_response_clock not in (SlaClock.RUNNING, SlaClock.PAUSED):
            clocks.start(SlaTarget.NEXT_RESPONSE)
    status = ticket.status
    if status_before is not None and status_before != status:
        if status in _FINISHED and status_before not in _FINISHED:
            spent = clocks.stop(SlaTarget.RESOLUTION, met=True)
            if spent is not None:
                s.resolution_business_minutes = spent
            for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE):
                clocks.stop(target, met=False, reason="ticket solved")
        elif (
            status_before in _FINISHED
            and status in _OPEN
            and s.resolution_minutes
            and s.resolution_clock == SlaClock.STOPPED
        ):
            # Reopened: resolution runs again from where it stopped.
            s.resolution_clock = SlaClock.PAUSED
            s.resolution_business_minutes = None
            clocks.resume(SlaTarget.RESOLUTION, "ticket reopened")
        if status == TicketStatus.PENDING and status_before != TicketStatus.PENDING:
            for target in TARGETS:
                clocks.pause(target, "pending on the client")
        elif status_before == TicketStatus.PENDING and status in _OPEN:
            reason = "client answered" if message == "client" else "no longer pending"
            for target in TARGETS:
                clocks.resume(target, reason)
    clocks.settle()
    _anchor(s, ticket)
    _mirror(ticket, s)


class _PlainClocks:
    """A `ticket_sla` row as plain attributes (the column defaults): what `_Clocks` works on
    when a batch writes its rows set-wise instead of through the ORM."""

    def __init__(self) -> None:
        # SQLModel's metaclass sets __table__ on table models; mypy does not see it.
        for column in TicketSla.__table__.columns:  # type: ignore[attr-defined]
            default = column.default
            value = None
            if default is not None and default.is_scalar:
                value = default.arg
            setattr(self, column.key, str(value) if isinstance(value, StrEnum) else value)

    def row(self) -> dict[str, Any]:
        columns = TicketSla.__table__.columns  # type: ignore[attr-defined]  # (see __init__)
        return {column.key: getattr(self, column.key) for column in columns}


class _CollectingClocks(_Clocks):
    """`_Clocks` that collects its history rows instead of adding them to a session."""

    def __init__(self, s: Any, calendar: Calendar, now: datetime) -> None:
        super().__init__(None, s, calendar, now)
        self.history: list[dict[str, Any]] = []

    def event(self, target: SlaTarget, kind: SlaEventKind, detail: str = "") -> None:
        self.history.append(
            {
                "target": target.value,
                "kind": kind.value,
                "cycle": _cycle(self.s, target),
                "at": self.now,
                "due_at": _get(self.s, target, "due_at"),
                "detail": detail[:300],
            }
        )


@dataclass(frozen=True)
class NewTicketFacts:
    """A ticket about to be opened in bulk (mail intake), as its clocks need it."""

    client_id: int | None
    net_worth_reporting: Decimal | None
    channel: str
    priority: str
    status: str
    created_at: datetime


@dataclass
class NewTicketClocks:
    """What `on_ticket_event(created=True)` would write for one ticket, as plain rows:
    `sla` (ticket_sla) and `history` (ticket_sla_event) still without their ticket_id, and
    `ticket`, the ticket's own SLA columns."""

    sla: dict[str, Any]
    history: list[dict[str, Any]]
    ticket: dict[str, Any]


def clocks_for_new_tickets(
    session: Session, tickets: Sequence[NewTicketFacts], now: datetime
) -> list[NewTicketClocks]:
    """The clocks of tickets about to be opened, computed set-wise: one configuration read for
    the whole batch instead of ORM loads per ticket. Same rules as `on_ticket_event(created=
    True)`; the caller writes the rows (`write_new_ticket_clocks`) once it has the ids."""
    setup = load_setup(session)
    planned: list[NewTicketClocks] = []
    # Tickets with the same facts get the same clocks (one `now`): computed once each. Only
    # segment conditions look at the client itself.
    by_client = any(p.segment_ids for p in setup.policies)
    known: dict[tuple[Any, ...], NewTicketClocks] = {}
    for facts in tickets:
        tier = client_tier(facts.net_worth_reporting) if facts.client_id is not None else NO_TIER
        key = (
            facts.client_id if by_client else None,
            tier,
            facts.channel,
            facts.priority,
            facts.status,
            facts.created_at,
        )
        if key in known:
            planned.append(known[key])
            continue
        s: Any = _PlainClocks()
        policy = match_policy(
            session, setup, TicketFacts(facts.client_id, tier, facts.channel, facts.priority)
        )
        _assign_policy(s, policy, facts.priority, setup.version)
        clocks = _CollectingClocks(s, setup.calendar_for(policy), now)
        clocks.start(SlaTarget.FIRST_RESPONSE)
        clocks.start(SlaTarget.RESOLUTION)
        clocks.settle()
        s.anchor_created_at, s.anchor_priority = facts.created_at, facts.priority
        mirror = SimpleNamespace(
            status=facts.status, first_response_due_at=None, resolution_due_at=None, sla_state=None
        )
        _mirror(mirror, s)  # type: ignore[arg-type]
        known[key] = NewTicketClocks(
            sla=s.row(),
            history=clocks.history,
            ticket={
                "first_response_due_at": mirror.first_response_due_at,
                "resolution_due_at": mirror.resolution_due_at,
                "sla_state": str(mirror.sla_state or SlaState.NONE),
            },
        )
        planned.append(known[key])
    return planned


def write_new_ticket_clocks(
    session: Session, planned: Sequence[NewTicketClocks], ticket_ids: Sequence[int]
) -> None:
    """Insert the rows of `clocks_for_new_tickets` for the tickets now written (same order)."""
    sla_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for plan, ticket_id in zip(planned, ticket_ids, strict=True):
        sla_rows.append({**plan.sla, "ticket_id": ticket_id})
        history.extend({**row, "ticket_id": ticket_id} for row in plan.history)
    bulk.insert_rows(session, TicketSla.__tablename__, sla_rows)
    bulk.insert_rows(session, TicketSlaEvent.__tablename__, history)


def _anchor(s: TicketSla, ticket: Ticket) -> None:
    s.anchor_created_at, s.anchor_priority = ticket.created_at, ticket.priority


def _adopt(s: TicketSla, ticket: Ticket, setup: SlaSetup, now: datetime) -> None:
    """Clocks for a ticket that has none (made before the SLA engine, or by bulk import):
    they run from its creation, the first response stops at the recorded one."""
    calendar = setup.calendar_for(setup.policy(s.policy_id))
    s.breached = s.near_breach = False
    s.next_response_clock, s.next_response_since = SlaClock.NONE, None
    s.first_response_business_minutes = s.resolution_business_minutes = None
    for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION):
        if not _get(s, target, "minutes"):
            _set(s, target, "clock", SlaClock.NONE)
            continue
        _set(s, target, "since", ticket.created_at)
        _set(s, target, "used", 0.0)
        _set(s, target, "clock", SlaClock.RUNNING)
    if ticket.first_responded_at is not None and s.first_response_clock == SlaClock.RUNNING:
        s.first_response_clock = SlaClock.STOPPED
        s.first_response_used = calendar.business_minutes_between(
            ticket.created_at, ticket.first_responded_at
        )
        s.first_response_business_minutes = s.first_response_used
        s.first_response_since = None
        if s.first_response_minutes:
            s.first_response_due_at = calendar.add_business_minutes(
                ticket.created_at, s.first_response_minutes
            )
        if s.first_response_minutes and s.first_response_used > s.first_response_minutes:
            s.breached = True
    clocks = _Clocks(None, s, calendar, now)  # refresh only: no events written
    for target in TARGETS:
        clocks.refresh(target)


def _rebuild(
    session: Session,
    ticket: Ticket,
    s: TicketSla | None,
    setup: SlaSetup,
    now: datetime,
    net_worths: dict[int, Any],
) -> None:
    """Bring one open ticket's clocks to the current configuration (policy, targets, calendar)."""
    if s is None:
        s = _new_clocks(session, ticket, setup, net_worths)
        _adopt(s, ticket, setup, now)
    else:
        policy = match_policy(session, setup, _facts(session, ticket, net_worths))
        _assign_policy(s, policy, ticket.priority, setup.version)
        if s.anchor_created_at != ticket.created_at:
            _adopt(s, ticket, setup, now)  # edited outside the actions: start from its record
    _anchor(s, ticket)
    clocks = _Clocks(session, s, setup.calendar_for(setup.policy(s.policy_id)), now)
    for target in TARGETS:
        clocks.refresh(target)
    clocks.settle()
    _mirror(ticket, s)


# --- the scan --------------------------------------------------------------------------------


@dataclass
class ScanResult:
    """What one SLA scan changed."""

    due_times_set: int = 0
    state_changes: dict[str, int] = field(default_factory=dict)
    events: list[tuple[int, str, str, int]] = field(default_factory=list)  # ticket, target, kind
    escalations: int = 0
    batches: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(self.state_changes.values())

    def log_fields(self) -> dict[str, object]:
        return {
            "due_times_set": self.due_times_set,
            "state_changes": dict(self.state_changes),
            "changed": self.changed,
            "events": len(self.events),
            "escalations": self.escalations,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
        }


def _running(target: str, instant: str) -> str:
    return f"s.{target}_clock = 'running' AND s.{target}_{instant} <= :now"


def _future(target: str, instant: str) -> str:
    return (
        f"CASE WHEN s.{target}_clock = 'running' AND s.{target}_{instant} > :now "
        f"THEN s.{target}_{instant} END"
    )


def _cycle_sql(target: SlaTarget) -> str:
    return "s.next_response_cycle" if target is SlaTarget.NEXT_RESPONSE else "0"


_EVENT_BRANCHES = "\n  UNION ALL\n".join(
    f"""  SELECT s.ticket_id, '{t.value}', '{kind}', {_cycle_sql(t)},
         :now, s.{t.value}_due_at, ''
  FROM alarmed s WHERE {_running(t.value, instant)}"""
    for t in TARGETS
    for kind, instant in (("near_breach", "near_at"), ("breached", "due_at"))
)
_ANY_DUE = " OR ".join(f"({_running(t.value, 'due_at')})" for t in TARGETS)
_ANY_NEAR = " OR ".join(f"({_running(t.value, 'near_at')})" for t in TARGETS)
_NEXT_ALARM = (
    "least("
    + ", ".join(_future(t.value, instant) for t in TARGETS for instant in ("near_at", "due_at"))
    + ")"
)
_OPEN_SQL = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
SLA_AUDIT_ACTION = "ticket.sla_state_changed"
_STATE_OF = (
    f"CASE WHEN m.breached THEN '{SlaState.BREACHED.value}' "
    f"WHEN m.near_breach THEN '{SlaState.NEAR_BREACH.value}' ELSE '{SlaState.ON_TRACK.value}' END"
)

# One statement per batch: the rows whose alarm passed (an index range, so a quiet queue reads
# almost nothing at a million tickets), their events once each, the alarm moved on, and the
# tickets whose state changed updated and audited.
_ALARMS = f"""
WITH alarmed AS (
  SELECT s.* FROM ticket_sla s
  WHERE s.next_alarm_at <= :now
  ORDER BY s.next_alarm_at
  LIMIT :batch
  FOR UPDATE SKIP LOCKED
), fired AS (
  INSERT INTO ticket_sla_event (ticket_id, target, kind, cycle, at, due_at, detail)
{_EVENT_BRANCHES}
  ON CONFLICT DO NOTHING
  RETURNING ticket_id, target, kind, cycle
), moved AS (
  UPDATE ticket_sla AS t
  SET breached = s.breached OR {_ANY_DUE},
      near_breach = {_ANY_NEAR},
      next_alarm_at = {_NEXT_ALARM}
  FROM alarmed s
  WHERE t.ticket_id = s.ticket_id
  RETURNING t.ticket_id, t.breached, t.near_breach
), changed AS (
  UPDATE ticket AS tk
  SET sla_state = {_STATE_OF}
  FROM ticket AS prev, moved m
  WHERE prev.id = tk.id AND m.ticket_id = tk.id AND tk.status IN ({_OPEN_SQL})
    AND tk.sla_state IS DISTINCT FROM ({_STATE_OF})
  RETURNING tk.id, prev.sla_state AS state_before, tk.sla_state AS state_after
), audited AS (
  INSERT INTO audit_log (actor_id, action, entity_type, entity_id, changes, created_at)
  SELECT NULL, '{SLA_AUDIT_ACTION}', 'ticket', id,
         jsonb_build_object('sla_state', jsonb_build_array(state_before, state_after)), now()
  FROM changed
)
SELECT 'event' AS what, ticket_id, target, kind, cycle FROM fired
UNION ALL
SELECT 'state', id, state_after, '', 0 FROM changed
UNION ALL
SELECT 'row', count(*)::int, '', '', 0 FROM moved
"""


def _stopped(target: SlaTarget) -> str:
    column = f"{target.value}_clock"
    return (
        f"{column} = CASE WHEN {column} IN ('running', 'paused') THEN 'stopped' ELSE {column} END"
    )


# A ticket finished outside the ticket actions (a merge closes the duplicate directly): its
# clocks stop when their alarm comes, instead of breaching a closed ticket.
_STOP_FINISHED = f"""
UPDATE ticket_sla AS s
SET next_alarm_at = NULL, near_breach = false, {", ".join(_stopped(t) for t in TARGETS)}
FROM ticket AS t
WHERE t.id = s.ticket_id AND s.next_alarm_at <= :now AND t.status NOT IN ({_OPEN_SQL})
"""


def _stale_open_ids(conn: Any, version: int, after: int, limit: int) -> list[int]:
    rows = conn.execute(
        text(
            f"""
            SELECT t.id FROM ticket t LEFT JOIN ticket_sla s ON s.ticket_id = t.id
            WHERE t.status IN ({_OPEN_SQL}) AND t.id > :after
              AND (s.ticket_id IS NULL OR s.config_version <> :version
                   OR s.anchor_created_at IS DISTINCT FROM t.created_at
                   OR s.anchor_priority IS DISTINCT FROM t.priority)
            ORDER BY t.id LIMIT :limit
            """
        ),
        {"after": after, "version": version, "limit": limit},
    )
    return [row[0] for row in rows]


def rebuild_open_clocks(now: datetime, batch_size: int = REBUILD_BATCH_SIZE) -> int:
    """Open tickets with no clocks or clocks of an older configuration get them recomputed;
    returns how many tickets' due times changed. Per-row work, but only after a change."""
    engine = get_engine()
    changed = 0
    after = 0
    while True:
        with engine.connect() as conn:
            with session_scope() as session:
                version = config_version(session)
            ids = _stale_open_ids(conn, version, after, batch_size)
        if not ids:
            return changed
        with session_scope() as session:
            setup = load_setup(session)
            locked = session.scalars(
                select(Ticket).where(col(Ticket.id).in_(ids)).with_for_update(skip_locked=True)
            )
            clocks = {
                s.ticket_id: s
                for s in session.scalars(select(TicketSla).where(col(TicketSla.ticket_id).in_(ids)))
            }
            tickets = list(locked)
            client_ids = {t.client_id for t in tickets if t.client_id is not None}
            net_worths = dict(
                session.execute(
                    select(col(Client.id), col(Client.net_worth_reporting)).where(
                        col(Client.id).in_(client_ids)
                    )
                ).all()
            )
            for ticket in tickets:
                assert ticket.id is not None  # a stored row
                before = (ticket.first_response_due_at, ticket.resolution_due_at, ticket.sla_state)
                with session.no_autoflush:  # one flush per batch, not one per ticket
                    _rebuild(session, ticket, clocks.get(ticket.id), setup, now, net_worths)
                if (ticket.first_response_due_at, ticket.resolution_due_at) != before[:2]:
                    changed += 1
                if ticket.sla_state != before[2]:
                    session.add(_state_audit(ticket.id, before[2], ticket.sla_state))
        after = ids[-1]


def _state_audit(ticket_id: int, before: str, after: str):
    from models.audit import AuditLog

    return AuditLog(
        actor_id=None,
        action=SLA_AUDIT_ACTION,
        entity_type="ticket",
        entity_id=ticket_id,
        changes={"sla_state": [before, after]},
    )


def scan_open_tickets(
    now: datetime | None = None,
    *,
    batch_size: int = SCAN_BATCH_SIZE,
    escalate: bool = True,
) -> ScanResult:
    """Bring every open ticket's SLA state up to date and escalate what came near or past a
    breach since the last scan.

    Side effects: recomputes the clocks of open tickets whose configuration changed (or that
    have none yet); records near-breach and breach events in the SLA history (once each);
    writes `sla_state` on tickets whose state changes, each change audited (the ticket's
    history shows it, by "System"); then applies the escalation rules to the new events.
    Does not touch `updated_at` (the scan is not activity on the ticket).
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    started = time.monotonic()
    result = ScanResult()
    result.due_times_set = rebuild_open_clocks(now)
    statement = text(_ALARMS)
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(text(_STOP_FINISHED), {"now": now})
    while True:
        moved = 0
        with engine.begin() as conn:
            for what, ticket_id, a, b, cycle in conn.execute(
                statement, {"now": now, "batch": batch_size}
            ).tuples():
                if what == "event":
                    result.events.append((ticket_id, a, b, cycle))
                elif what == "state":
                    result.state_changes[a] = result.state_changes.get(a, 0) + 1
                else:
                    moved = ticket_id
        result.batches += 1
        if moved < batch_size:
            break
    if escalate and result.events:
        from crm_app.services.escalation import escalate_events

        result.escalations = escalate_events(result.events, now)
    result.seconds = time.monotonic() - started
    return result


# --- reading: the ticket's SLA panel ---------------------------------------------------------


@dataclass(frozen=True)
class SlaTargetRow:
    target: str
    label: str
    minutes: str  # the target, "8h"
    clock: str  # running / paused / stopped / none
    due_at: str
    time_left: str  # business time: "1h 20m left", "overdue 2h"
    status: str  # on_track / near_breach / breached / met / paused / not measured


@dataclass(frozen=True)
class SlaEventRow:
    at: str
    target: str
    kind: str
    detail: str


@dataclass(frozen=True)
class TicketSlaView:
    policy: str
    calendar: str
    targets: list[SlaTargetRow]
    history: list[SlaEventRow]


def _fmt(moment: datetime | None) -> str:
    """ISO 8601 in UTC ("" for none): the page shows it in the reader's zone."""
    return moment.astimezone(UTC).isoformat() if moment else ""


def ticket_sla(actor: Actor | None, number: int, now: datetime | None = None) -> TicketSlaView:
    """The ticket's policy, each target with its time left in business time, and its SLA
    history (newest first). Staff only."""
    require(actor, Action.VIEW_TICKETS)
    now = now or utcnow()
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(col(Ticket.number) == int(number))).scalar()
        if ticket is None:
            raise NotFound(f"There is no ticket #{number}.")
        setup = load_setup(session)
        s = session.get(TicketSla, ticket.id)
        if s is None:
            return TicketSlaView("No SLA yet (set by the next scan)", "", [], [])
        policy = setup.policy(s.policy_id)
        calendar = setup.calendar_for(policy)
        breached = {
            (row.target, row.cycle)
            for row in session.scalars(
                select(TicketSlaEvent).where(
                    TicketSlaEvent.ticket_id == ticket.id,
                    col(TicketSlaEvent.kind) == SlaEventKind.BREACHED.value,
                )
            )
        }
        rows: list[SlaTargetRow] = []
        for target in TARGETS:
            minutes = _get(s, target, "minutes")
            clock = _get(s, target, "clock")
            due = _get(s, target, "due_at")
            near = _get(s, target, "near_at")
            used = _get(s, target, "used")
            left = ""
            if not minutes:
                status = "not measured"
            elif clock == SlaClock.RUNNING and due is not None:
                left = _left_text(calendar.business_minutes_between(now, due))
                status = (
                    "breached"
                    if due <= now
                    else "near_breach"
                    if near and near <= now
                    else "on_track"
                )
            elif clock == SlaClock.PAUSED:
                left = _left_text(minutes - used) + " (paused)"
                status = "paused"
            elif clock == SlaClock.STOPPED:
                late = (target.value, _cycle(s, target)) in breached or used > minutes
                status = "breached" if late else "met"
            else:
                status = "not started"
            rows.append(
                SlaTargetRow(
                    target.value,
                    TARGET_LABELS[target],
                    _minutes_text(minutes) if minutes else "—",
                    clock,
                    _fmt(due),
                    left,
                    status,
                )
            )
        history = [
            SlaEventRow(
                _fmt(e.at),
                TARGET_LABELS.get(SlaTarget(e.target), e.target)
                if e.target in {t.value for t in TARGETS}
                else e.target,
                e.kind,
                e.detail,
            )
            for e in session.scalars(
                select(TicketSlaEvent)
                .where(col(TicketSlaEvent.ticket_id) == ticket.id)
                .order_by(col(TicketSlaEvent.id).desc())
                .limit(50)
            )
        ]
        return TicketSlaView(
            policy.name if policy else "No policy", setup.calendar_name(policy), rows, history
        )


__all__ = [
    "DEFAULT_TARGETS",
    "TARGETS",
    "ScanResult",
    "TicketSlaView",
    "client_tier",
    "ensure_default_targets",
    "load_setup",
    "match_policy",
    "on_ticket_event",
    "scan_open_tickets",
    "sla_state_for",
    "sla_targets",
    "ticket_sla",
]


# --- settings: calendars and policies (managers) ---------------------------------------------

MAX_TARGET_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class CalendarRow:
    id: int
    name: str
    time_zone: str
    hours: dict[str, list[list[str]]]
    holidays: list[str]
    is_default: bool
    summary: str  # "Mon–Fri 09:00–18:00"


@dataclass(frozen=True)
class PolicyRow:
    id: int
    name: str
    position: int
    is_default: bool
    calendar_id: int | None
    calendar: str
    tiers: list[str]
    segment_ids: list[int]
    channels: list[str]
    priorities: list[str]
    targets: dict[str, dict[str, int]]
    near_breach_share: float
    conditions: str  # "tier: private banking; channel: email"


def _hours_summary(hours: dict[str, Any]) -> str:
    from crm_app.services.business_hours import WEEKDAYS

    parts = []
    for day in range(7):
        intervals = hours.get(str(day)) or []
        if intervals:
            spans = ", ".join(f"{a}–{b}" for a, b in intervals)
            parts.append(f"{WEEKDAYS[day][:3]} {spans}")
    return "; ".join(parts) or "closed"


def list_calendars(actor: Actor | None) -> list[CalendarRow]:
    require(actor, Action.MANAGE_SLA)
    with session_scope() as session:
        return [
            CalendarRow(
                cast(int, c.id),  # a stored row
                c.name,
                c.time_zone,
                c.hours,
                list(c.holidays or []),
                c.is_default,
                _hours_summary(c.hours),
            )
            for c in session.scalars(
                select(BusinessCalendar).order_by(
                    col(BusinessCalendar.is_default).desc(), col(BusinessCalendar.name)
                )
            )
        ]


def _name(value: Any, what: str) -> str:
    name = " ".join(str(value or "").split())
    if not name or len(name) > 100:
        raise InvalidInput(f"A {what} needs a name (up to 100 characters).")
    return name


def save_calendar(
    actor: Actor | None,
    calendar_id: int | None,
    *,
    name: str,
    time_zone: str,
    hours: dict[str, Any],
    holidays: Sequence[str] = (),
    is_default: bool = False,
) -> int:
    """Create or change a business-hours calendar (validated: time zone, hours, holidays).
    Audited; open tickets' due times follow from the next scan."""
    from crm_app.services.business_hours import normalize_holidays, normalize_hours

    require(actor, Action.MANAGE_SLA)
    name = _name(name, "calendar")
    normalized = normalize_hours(hours)
    days = normalize_holidays(holidays)
    Calendar.from_config(time_zone, normalized, days)  # the time zone, checked
    with session_scope() as session:
        row = (
            session.get(BusinessCalendar, calendar_id)
            if calendar_id
            else BusinessCalendar(name=name)
        )
        if row is None:
            raise NotFound("That calendar is gone.")
        clash = session.execute(
            select(col(BusinessCalendar.id)).where(
                col(BusinessCalendar.name) == name, col(BusinessCalendar.id) != (calendar_id or 0)
            )
        ).first()
        if clash:
            raise InvalidInput(f"There is already a calendar named {name!r}.")
        if row.is_default and not is_default:
            raise InvalidInput("Make another calendar the default instead.")
        if is_default and not row.is_default:
            session.execute(
                update(BusinessCalendar)
                .where(col(BusinessCalendar.is_default).is_(True))
                .values(is_default=False)
            )
            session.flush()
        before = {"time_zone": row.time_zone, "hours": row.hours} if calendar_id else {}
        row.name, row.time_zone, row.hours, row.holidays = name, time_zone, normalized, days
        row.is_default, row.updated_at = bool(is_default), utcnow()
        session.add(row)
        session.flush()
        bump_version(session)
        audit.record(
            session,
            actor,
            "sla.calendar_saved",
            "business_calendar",
            row.id,
            {
                "before": before,
                "name": name,
                "time_zone": time_zone,
                "hours": normalized,
                "holidays": days,
                "is_default": bool(is_default),
            },
        )
        assert row.id is not None
        return row.id


def delete_calendar(actor: Actor | None, calendar_id: int) -> None:
    require(actor, Action.MANAGE_SLA)
    with session_scope() as session:
        row = session.get(BusinessCalendar, int(calendar_id))
        if row is None:
            raise NotFound("That calendar is gone.")
        if row.is_default:
            raise InvalidInput("The default calendar cannot be deleted.")
        used = session.scalars(
            select(col(SlaPolicy.name)).where(col(SlaPolicy.calendar_id) == row.id)
        ).all()
        if used:
            raise InvalidInput(f"Used by the policy {used[0]!r}: choose another calendar there.")
        audit.record(
            session, actor, "sla.calendar_deleted", "business_calendar", row.id, {"name": row.name}
        )
        session.delete(row)
        bump_version(session)


def _conditions_text(p: PolicySpec) -> str:
    parts = []
    if p.tiers:
        parts.append("tier: " + ", ".join(TIER_LABELS.get(t, t) for t in sorted(p.tiers)))
    if p.segment_ids:
        parts.append(f"segments: {len(p.segment_ids)}")
    if p.channels:
        parts.append("channel: " + ", ".join(sorted(p.channels)))
    if p.priorities:
        parts.append("priority: " + ", ".join(sorted(p.priorities)))
    return "; ".join(parts) or ("every other ticket" if p.is_default else "every ticket")


def list_policies(actor: Actor | None) -> list[PolicyRow]:
    """Policies in the order they are tried (the default last)."""
    require(actor, Action.MANAGE_SLA)
    with session_scope() as session:
        setup = load_setup(session)
        return [
            PolicyRow(
                id=p.id,
                name=p.name,
                position=p.position,
                is_default=p.is_default,
                calendar_id=p.calendar_id,
                calendar=setup.calendar_name(p),
                tiers=sorted(p.tiers),
                segment_ids=list(p.segment_ids),
                channels=sorted(p.channels),
                priorities=sorted(p.priorities),
                targets=p.targets,
                near_breach_share=p.near_breach_share,
                conditions=_conditions_text(p),
            )
            for p in setup.policies
        ]


def _choices(values: Any, allowed: Iterable[str], label: str) -> list[str]:
    allowed = set(allowed)
    chosen = sorted({str(v) for v in values or []})
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise InvalidInput(f"Unknown {label}: {', '.join(unknown)}.")
    return chosen


def save_policy(actor: Actor | None, policy_id: int | None, fields: dict[str, Any]) -> int:
    """Create or change an SLA policy: conditions (tiers, segments, channels, priorities),
    targets per priority in business minutes, calendar and near-breach share. Validated;
    audited; applies to open tickets from the next scan."""
    from models.segment import Segment
    from models.ticket import Channel

    require(actor, Action.MANAGE_SLA)
    name = _name(fields.get("name"), "policy")
    try:
        position = int(fields.get("position") or 0)
        share = float(fields.get("near_breach_share") or 0.8)
        calendar_id = int(fields["calendar_id"]) if fields.get("calendar_id") else None
        segment_ids = sorted({int(s) for s in fields.get("segment_ids") or []})
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Position, share, calendar and segments must be numbers.") from exc
    if not 0 < share < 1:
        raise InvalidInput("The near-breach share is a fraction between 0 and 1 (e.g. 0.8).")
    conditions = {
        "tiers": _choices(fields.get("tiers"), TIER_LABELS, "tier"),
        "channels": _choices(fields.get("channels"), [c.value for c in Channel], "channel"),
        "priorities": _choices(
            fields.get("priorities"), [p.value for p in TicketPriority], "priority"
        ),
        "segment_ids": segment_ids,
    }
    targets: dict[str, dict[str, int]] = {}
    raw_targets = fields.get("targets") or {}
    for priority in TicketPriority:
        given = raw_targets.get(priority.value) or {}
        targets[priority.value] = {}
        for target in TARGETS:
            value: Any = given.get(target.value)  # as the form sent it
            try:
                minutes = int(value) if value not in (None, "") else 0
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"{priority.value.title()} {TARGET_LABELS[target].lower()}: minutes."
                ) from exc
            if not 0 <= minutes <= MAX_TARGET_MINUTES:
                raise InvalidInput(
                    f"{priority.value.title()} {TARGET_LABELS[target].lower()}: "
                    "between 0 (not measured) and a year."
                )
            targets[priority.value][target.value] = minutes
        first = targets[priority.value][SlaTarget.FIRST_RESPONSE.value]
        resolution = targets[priority.value][SlaTarget.RESOLUTION.value]
        if first and resolution and resolution < first:
            raise InvalidInput(
                f"{priority.value.title()}: resolution cannot be due before the first response."
            )
    if not any(m for row in targets.values() for m in row.values()):
        raise InvalidInput("Set at least one target.")
    with session_scope() as session:
        row = session.get(SlaPolicy, policy_id) if policy_id else SlaPolicy(name=name)
        if row is None:
            raise NotFound("That policy is gone.")
        if row.is_default and any(conditions[k] for k in conditions):
            raise InvalidInput("The default policy applies when no other matches: no conditions.")
        if not row.is_default and not any(conditions[k] for k in conditions):
            raise InvalidInput("Give the policy a condition (the default covers every ticket).")
        if calendar_id is not None and session.get(BusinessCalendar, calendar_id) is None:
            raise InvalidInput("That calendar does not exist.")
        if segment_ids:
            found: int = session.execute(
                select(func.count()).select_from(Segment).where(col(Segment.id).in_(segment_ids))
            ).scalar_one()
            if found != len(segment_ids):
                raise InvalidInput("One of the segments does not exist.")
        clash = session.execute(
            select(col(SlaPolicy.id)).where(
                col(SlaPolicy.name) == name, col(SlaPolicy.id) != (policy_id or 0)
            )
        ).first()
        if clash:
            raise InvalidInput(f"There is already a policy named {name!r}.")
        before = (
            {"conditions": row.conditions, "targets": row.targets, "calendar_id": row.calendar_id}
            if policy_id
            else {}
        )
        row.name, row.position, row.calendar_id = name, position, calendar_id
        row.conditions, row.targets, row.near_breach_share = conditions, targets, share
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        bump_version(session)
        audit.record(
            session,
            actor,
            "sla.policy_saved",
            "sla_policy",
            row.id,
            {
                "before": before,
                "name": name,
                "conditions": conditions,
                "targets": targets,
                "calendar_id": calendar_id,
                "near_breach_share": share,
            },
        )
        assert row.id is not None
        return row.id


def delete_policy(actor: Actor | None, policy_id: int) -> None:
    require(actor, Action.MANAGE_SLA)
    with session_scope() as session:
        row = session.get(SlaPolicy, int(policy_id))
        if row is None:
            raise NotFound("That policy is gone.")
        if row.is_default:
            raise InvalidInput("The default policy cannot be deleted.")
        audit.record(session, actor, "sla.policy_deleted", "sla_policy", row.id, {"name": row.name})
        session.delete(row)
        bump_version(session)

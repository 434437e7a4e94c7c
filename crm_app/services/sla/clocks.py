"""The clock engine: one ticket's SLA clocks started, paused, resumed and stopped at each
ticket event (`on_ticket_event`), their due and near-breach instants computed in business
time, the ticket's own SLA columns mirrored, and clocks rebuilt after a configuration change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from crm_app.services.business_hours import Calendar
from crm_app.services.sla.config import TARGETS, PolicySpec, SlaSetup, load_setup
from crm_app.services.sla.matching import _facts, match_policy
from crm_app.settings import get_settings
from models.sla import SlaClock, SlaEventKind, SlaTarget, TicketSla, TicketSlaEvent
from models.ticket import OPEN_STATUSES, SlaState, Ticket, TicketStatus

_OPEN = frozenset(s.value for s in OPEN_STATUSES)
_FINISHED = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})


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

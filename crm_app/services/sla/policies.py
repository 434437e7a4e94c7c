"""SLA settings as managers edit them: business-hours calendars and SLA policies, listed,
saved (validated, audited) and deleted; each change bumps the configuration version so the
next scan recomputes open tickets' clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.business_hours import Calendar
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.sla.config import (
    TARGET_LABELS,
    TARGETS,
    TIER_LABELS,
    PolicySpec,
    bump_version,
    load_setup,
)
from models.base import utcnow
from models.business_hours import BusinessCalendar
from models.sla import SlaPolicy, SlaTarget
from models.ticket import TicketPriority

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

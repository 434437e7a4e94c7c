"""Escalation rules: what happens when a ticket comes near an SLA breach or breaches it.

A rule matches an event of the scan (near breach or breached, optionally one target and one
policy) and may notify the assignee and the managers in the app (the bell), email them through
the CRM's own mail, raise the ticket's priority, and reassign it to the least-loaded member of
a group of staff. Every escalation is written to the ticket's history (audit) and its SLA
history. Rules are edited by managers on the SLA settings page (`save_rule`, `delete_rule`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlmodel import col

from crm_app import routes
from crm_app.auth.permissions import SYSTEM, Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, system_mail
from crm_app.services.errors import InvalidInput, NotFound
from models.notification import Notification
from models.sla import (
    EscalationTrigger,
    SlaEscalationRule,
    SlaEventKind,
    SlaPolicy,
    SlaTarget,
    TicketSla,
    TicketSlaEvent,
)
from models.ticket import OPEN_STATUSES, Ticket, TicketPriority
from models.user import Role, User

log = logging.getLogger(__name__)

NOTIFICATION_KIND = "sla_escalation"
ESCALATION_AUDIT_ACTION = "ticket.sla_escalated"
_PRIORITY_UP = {
    TicketPriority.LOW.value: TicketPriority.NORMAL.value,
    TicketPriority.NORMAL.value: TicketPriority.HIGH.value,
    TicketPriority.HIGH.value: TicketPriority.URGENT.value,
}
_TARGET_WORDS = {
    SlaTarget.FIRST_RESPONSE.value: "first response",
    SlaTarget.NEXT_RESPONSE.value: "next response",
    SlaTarget.RESOLUTION.value: "resolution",
}
# Per scan, at most this many escalations act (a backlog after downtime is not a mail storm:
# the rest stay recorded in the SLA history and on the warning board).
MAX_PER_SCAN = 500


@dataclass(frozen=True)
class RuleRow:
    id: int
    name: str
    position: int
    is_active: bool
    policy_id: int | None
    policy: str
    trigger: str
    target: str
    notify_assignee: bool
    notify_managers: bool
    send_email: bool
    raise_priority: bool
    reassign_to: list[int]
    actions: str


def _describe(rule: SlaEscalationRule) -> str:
    parts = []
    if rule.notify_assignee:
        parts.append("notify assignee")
    if rule.notify_managers:
        parts.append("notify managers")
    if rule.send_email:
        parts.append("email")
    if rule.raise_priority:
        parts.append("raise priority")
    if rule.reassign_to:
        parts.append(f"reassign to a group of {len(rule.reassign_to)}")
    return ", ".join(parts) or "record only"


def list_rules(actor: Actor | None) -> list[RuleRow]:
    require(actor, Action.MANAGE_SLA)
    with session_scope() as session:
        policies = dict(session.execute(select(col(SlaPolicy.id), col(SlaPolicy.name))).all())
        return [
            RuleRow(
                id=cast(int, r.id),  # a stored row
                name=r.name,
                position=r.position,
                is_active=r.is_active,
                policy_id=r.policy_id,
                policy=policies.get(r.policy_id, "Any policy") if r.policy_id else "Any policy",
                trigger=r.trigger,
                target=r.target or "",
                notify_assignee=r.notify_assignee,
                notify_managers=r.notify_managers,
                send_email=r.send_email,
                raise_priority=r.raise_priority,
                reassign_to=list(r.reassign_to or []),
                actions=_describe(r),
            )
            for r in session.scalars(
                select(SlaEscalationRule).order_by(
                    col(SlaEscalationRule.position), col(SlaEscalationRule.id)
                )
            )
        ]


def save_rule(actor: Actor | None, rule_id: int | None, fields: dict[str, Any]) -> int:
    """Create or change an escalation rule. Validated; audited; open tickets see it from the
    next scan."""
    from crm_app.services.sla import bump_version

    require(actor, Action.MANAGE_SLA)
    name = " ".join(str(fields.get("name") or "").split())
    if not name or len(name) > 100:
        raise InvalidInput("A rule needs a name (up to 100 characters).")
    trigger = str(fields.get("trigger") or "")
    if trigger not in {t.value for t in EscalationTrigger}:
        raise InvalidInput("Choose when the rule acts: near breach or breached.")
    target = str(fields.get("target") or "") or None
    if target is not None and target not in _TARGET_WORDS:
        raise InvalidInput("Unknown SLA target.")
    flags = {
        key: bool(fields.get(key))
        for key in ("notify_assignee", "notify_managers", "send_email", "raise_priority")
    }
    try:
        reassign = sorted({int(v) for v in fields.get("reassign_to") or []})
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Reassign to staff members chosen from the list.") from exc
    if flags["send_email"] and not (flags["notify_assignee"] or flags["notify_managers"]):
        raise InvalidInput("Email goes to the assignee or the managers: choose who.")
    if not (any(flags.values()) or reassign):
        raise InvalidInput("A rule must do something: notify, raise priority or reassign.")
    try:
        position = int(fields.get("position") or 0)
        policy_id = int(fields["policy_id"]) if fields.get("policy_id") else None
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Position and policy must be numbers.") from exc
    with session_scope() as session:
        if policy_id is not None and session.get(SlaPolicy, policy_id) is None:
            raise InvalidInput("That policy does not exist.")
        if reassign:
            found: int = session.execute(
                select(func.count())
                .select_from(User)
                .where(
                    col(User.id).in_(reassign),
                    col(User.is_active).is_(True),
                    col(User.role).in_((Role.AGENT.value, Role.MANAGER.value)),
                )
            ).scalar_one()
            if found != len(reassign):
                raise InvalidInput("Reassign only to active agents or managers.")
        rule = session.get(SlaEscalationRule, rule_id) if rule_id else SlaEscalationRule(name=name)
        if rule is None:
            raise NotFound("That rule is gone.")
        before = {"name": rule.name, "trigger": rule.trigger} if rule_id else {}
        rule.name, rule.trigger, rule.target = name, trigger, target
        rule.position, rule.policy_id = position, policy_id
        rule.is_active = bool(fields.get("is_active", True))
        rule.notify_assignee = flags["notify_assignee"]
        rule.notify_managers = flags["notify_managers"]
        rule.send_email = flags["send_email"]
        rule.raise_priority = flags["raise_priority"]
        rule.reassign_to = reassign
        session.add(rule)
        session.flush()
        bump_version(session)
        audit.record(
            session,
            actor,
            "sla.rule_saved",
            "sla_escalation_rule",
            rule.id,
            {"before": before, "name": name, "trigger": trigger, "actions": _describe(rule)},
        )
        assert rule.id is not None
        return rule.id


def delete_rule(actor: Actor | None, rule_id: int) -> None:
    from crm_app.services.sla import bump_version

    require(actor, Action.MANAGE_SLA)
    with session_scope() as session:
        rule = session.get(SlaEscalationRule, int(rule_id))
        if rule is None:
            raise NotFound("That rule is gone.")
        audit.record(
            session, actor, "sla.rule_deleted", "sla_escalation_rule", rule.id, {"name": rule.name}
        )
        session.delete(rule)
        bump_version(session)


def _least_loaded(session, members: Sequence[int], exclude: int | None) -> int | None:
    """The active member of the group with the fewest open tickets (not the current one)."""
    candidates = [m for m in members if m != exclude]
    if not candidates:
        return None
    load = func.count(col(Ticket.id))
    rows = session.execute(
        select(col(User.id), load)
        .outerjoin(
            Ticket,
            (col(Ticket.assignee_id) == col(User.id))
            & col(Ticket.status).in_([s.value for s in OPEN_STATUSES]),
        )
        .where(col(User.id).in_(candidates), col(User.is_active).is_(True))
        .group_by(col(User.id))
        .order_by(load, col(User.id))
    ).first()
    return rows[0] if rows else None


def escalate_events(events: Sequence[tuple[int, str, str, int]], now: datetime) -> int:
    """Apply the active rules to the scan's new near-breach/breach events; returns how many
    escalations acted. Side effects: notifications, mail, priority and assignee changes (each
    through the ticket action, audited as by System), an audit entry and an SLA history entry
    per escalation. Best effort per ticket: one failure is logged and never stops the rest."""
    from crm_app.services import tickets as ticket_actions

    with session_scope() as session:
        rules = list(
            session.scalars(
                select(SlaEscalationRule)
                .where(col(SlaEscalationRule.is_active).is_(True))
                .order_by(col(SlaEscalationRule.position), col(SlaEscalationRule.id))
            )
        )
        if not rules:
            return 0
        ids = sorted({e[0] for e in events})
        facts = {
            row.id: row
            for row in session.execute(
                select(
                    col(Ticket.id),
                    col(Ticket.number),
                    col(Ticket.subject),
                    col(Ticket.priority),
                    col(Ticket.status),
                    col(Ticket.assignee_id),
                    col(TicketSla.policy_id),
                )
                .join(TicketSla, col(TicketSla.ticket_id) == col(Ticket.id))
                .where(col(Ticket.id).in_(ids))
            )
        }
        managers = session.execute(
            select(col(User.id), col(User.email)).where(
                col(User.role) == Role.MANAGER.value, col(User.is_active).is_(True)
            )
        ).all()
        emails = dict(
            session.execute(
                select(col(User.id), col(User.email))
                .where(col(User.role).isnot(None))
                .where(col(User.id).in_({f.assignee_id for f in facts.values() if f.assignee_id}))
            ).all()
        )
    acted = 0
    for ticket_id, target, kind, cycle in events:
        fact = facts.get(ticket_id)
        if fact is None or fact.status not in {s.value for s in OPEN_STATUSES}:
            continue
        for rule in rules:
            if rule.trigger != kind or (rule.target and rule.target != target):
                continue
            if rule.policy_id and rule.policy_id != fact.policy_id:
                continue
            if acted >= MAX_PER_SCAN:
                log.warning("escalations capped for this scan", extra={"cap": MAX_PER_SCAN})
                return acted
            try:
                _act(ticket_actions, rule, fact, target, kind, cycle, now, managers, emails)
                acted += 1
            except Exception:
                log.exception("escalation failed", extra={"ticket_id": ticket_id, "rule": rule.id})
    return acted


def _act(ticket_actions, rule, fact, target, kind, cycle, now, managers, emails) -> None:
    words = "breached" if kind == EscalationTrigger.BREACHED.value else "near breach"
    title = f"SLA {words} on #{fact.number} ({_TARGET_WORDS.get(target, target)}): {fact.subject}"
    link = routes.ticket(fact.number)
    done: list[str] = []
    recipients: set[int] = set()
    if rule.notify_assignee and fact.assignee_id:
        recipients.add(fact.assignee_id)
    if rule.notify_managers:
        recipients.update(uid for uid, _ in managers)
    if rule.reassign_to:
        with session_scope() as session:
            chosen = _least_loaded(session, rule.reassign_to, fact.assignee_id)
        if chosen is not None:
            ticket_actions.update_ticket(
                SYSTEM, fact.number, expected_version=None, assignee_id=chosen
            )
            done.append(f"reassigned (user {chosen})")
    if rule.raise_priority and fact.priority in _PRIORITY_UP:
        ticket_actions.update_ticket(
            SYSTEM, fact.number, expected_version=None, priority=_PRIORITY_UP[fact.priority]
        )
        done.append(f"priority {fact.priority} → {_PRIORITY_UP[fact.priority]}")
    with session_scope() as session:
        session.add_all(
            Notification(
                user_id=uid,
                kind=NOTIFICATION_KIND,
                title=title[:300],
                link=link,
                ticket_id=fact.id,
                created_at=now,
            )
            for uid in sorted(recipients)
        )
        if recipients:
            done.append(f"notified {len(recipients)}")
        session.add(
            TicketSlaEvent(
                ticket_id=fact.id,
                target=target,
                kind=SlaEventKind.ESCALATED.value,
                cycle=cycle,
                at=now,
                detail=f"{rule.name}: {', '.join(done) or 'recorded'}"[:300],
            )
        )
        audit.record(
            session,
            SYSTEM,
            ESCALATION_AUDIT_ACTION,
            "ticket",
            fact.id,
            {"rule": rule.name, "target": target, "trigger": kind, "actions": done},
        )
    if rule.send_email:
        addresses = set()
        if rule.notify_assignee and fact.assignee_id and emails.get(fact.assignee_id):
            addresses.add(emails[fact.assignee_id])
        if rule.notify_managers:
            addresses.update(email for _, email in managers if email)
        for address in sorted(addresses):
            system_mail.queue(
                system_mail.SystemMail(
                    to=address,
                    subject=title[:200],
                    body=f"{title}\n\nOpen the ticket: {link}\nRule: {rule.name}\n",
                )
            )

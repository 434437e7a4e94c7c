"""The SLA scan: open tickets' clocks recomputed after a configuration change, then, set-wise
in SQL, near-breach and breach events recorded once, alarms moved on, states updated and
audited; escalation rules act on the events it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlmodel import col

from crm_app.db import get_engine, session_scope
from crm_app.services.sla.clocks import _rebuild
from crm_app.services.sla.config import TARGETS, config_version, load_setup
from models.base import utcnow
from models.client import Client
from models.sla import SlaTarget, TicketSla
from models.ticket import OPEN_STATUSES, SlaState, Ticket

# Tickets per batch when the clocks of open tickets are rebuilt after a configuration change.
REBUILD_BATCH_SIZE = 2_000
SCAN_BATCH_SIZE = 50_000  # rows per alarm statement: short transactions


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

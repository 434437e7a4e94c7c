"""SLA targets per priority, and the scan that keeps every open ticket's SLA state current.

The rule the scan applies (and the demo seeder mirrors, see `sla_state_for`):

- an open ticket (new, open, pending) has its due times set from `sla_config` for its current
  priority, counted from `created_at`, so a priority change or a new target moves them;
- it is `breached` once a due time passed unmet (no first response by its due time, a late first
  response, or not resolved by the resolution due time), `near_breach` once the elapsed share of a
  running target reaches `CRM_SLA_NEAR_BREACH_SHARE`, else `on_track`;
- a resolved or closed ticket ends as `met` or `breached` and keeps that verdict.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from crm_app.db import get_engine, session_scope
from crm_app.settings import get_settings
from models.base import utcnow
from models.sla import SlaConfig
from models.ticket import OPEN_STATUSES, SlaState, Ticket, TicketPriority

log = logging.getLogger(__name__)

# Minutes to first response and to resolution, per priority (a manager can change them).
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    TicketPriority.URGENT: (30, 4 * 60),
    TicketPriority.HIGH: (2 * 60, 24 * 60),
    TicketPriority.NORMAL: (8 * 60, 3 * 24 * 60),
    TicketPriority.LOW: (24 * 60, 7 * 24 * 60),
}

# Tickets per UPDATE (an id range): short transactions, so agents' edits never wait long.
SCAN_BATCH_SIZE = 50_000

_OPEN = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
_FINAL = f"'{SlaState.MET.value}', '{SlaState.BREACHED.value}'"
_FIRST_RESPONSE_TARGET = "t.created_at + c.first_response_minutes * interval '1 minute'"
_RESOLUTION_TARGET = "t.created_at + c.resolution_minutes * interval '1 minute'"

# Open tickets follow their current priority's targets; finished ones only get missing times.
_SET_DUE_TIMES = f"""
UPDATE ticket AS t
SET first_response_due_at = CASE WHEN t.status IN ({_OPEN}) THEN {_FIRST_RESPONSE_TARGET}
                                 ELSE coalesce(t.first_response_due_at, {_FIRST_RESPONSE_TARGET})
                            END,
    resolution_due_at = CASE WHEN t.status IN ({_OPEN}) THEN {_RESOLUTION_TARGET}
                             ELSE coalesce(t.resolution_due_at, {_RESOLUTION_TARGET})
                        END
FROM sla_config AS c
WHERE c.priority = t.priority
  AND t.id > :after AND t.id <= :upto
  AND CASE WHEN t.status IN ({_OPEN})
           THEN t.first_response_due_at IS DISTINCT FROM {_FIRST_RESPONSE_TARGET}
                OR t.resolution_due_at IS DISTINCT FROM {_RESOLUTION_TARGET}
           ELSE t.sla_state NOT IN ({_FINAL})
                AND (t.first_response_due_at IS NULL OR t.resolution_due_at IS NULL)
      END
"""

# When a finished ticket has no resolved_at/closed_at, its last update stands in for them.
_FINISHED_AT = "coalesce(t.resolved_at, t.closed_at, t.updated_at)"
_STATE = f"""
CASE
  WHEN t.status IN ({_OPEN}) THEN
    CASE
      WHEN coalesce(t.first_responded_at, :now) > t.first_response_due_at
           OR :now > t.resolution_due_at THEN '{SlaState.BREACHED.value}'
      WHEN (t.first_responded_at IS NULL
            AND :now >= t.created_at + (t.first_response_due_at - t.created_at) * :share)
           OR :now >= t.created_at + (t.resolution_due_at - t.created_at) * :share
        THEN '{SlaState.NEAR_BREACH.value}'
      ELSE '{SlaState.ON_TRACK.value}'
    END
  WHEN coalesce(t.first_responded_at, {_FINISHED_AT}) > t.first_response_due_at
       OR {_FINISHED_AT} > t.resolution_due_at THEN '{SlaState.BREACHED.value}'
  ELSE '{SlaState.MET.value}'
END
"""

# Only rows whose state actually changes are written: a scan of a quiet queue writes nothing.
# Each change is audited in the same statement (one INSERT ... SELECT over the changed rows), so
# a manager sees it in the ticket's history; `prev` is the row as it was before the update.
SLA_AUDIT_ACTION = "ticket.sla_state_changed"
_SET_STATES = f"""
WITH changed AS (
  UPDATE ticket AS t
  SET sla_state = {_STATE}
  FROM ticket AS prev
  WHERE prev.id = t.id
    AND t.id > :after AND t.id <= :upto
    AND t.first_response_due_at IS NOT NULL AND t.resolution_due_at IS NOT NULL
    AND (t.status IN ({_OPEN}) OR t.sla_state NOT IN ({_FINAL}))
    AND t.sla_state IS DISTINCT FROM ({_STATE})
  RETURNING t.id, prev.sla_state AS state_before, t.sla_state AS state_after
), audited AS (
  INSERT INTO audit_log (actor_id, action, entity_type, entity_id, changes, created_at)
  SELECT NULL, '{SLA_AUDIT_ACTION}', 'ticket', id,
         jsonb_build_object('sla_state', jsonb_build_array(state_before, state_after)), now()
  FROM changed
)
SELECT state_after FROM changed
"""


@dataclass
class ScanResult:
    """What one SLA scan changed."""

    due_times_set: int = 0
    state_changes: dict[str, int] = field(default_factory=dict)
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
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
        }


def ensure_default_targets() -> None:
    """Create the default target for any priority that has none (idempotent, race-safe)."""
    rows = [
        {"priority": priority.value, "first_response_minutes": first, "resolution_minutes": res}
        for priority, (first, res) in DEFAULT_TARGETS.items()
    ]
    with session_scope() as session:
        # Several processes start at once (web, jobs): ON CONFLICT keeps them from colliding.
        session.execute(
            insert(SlaConfig).values(rows).on_conflict_do_nothing(index_elements=["priority"])
        )


def sla_targets() -> dict[str, tuple[int, int]]:
    """The configured (first response, resolution) minutes per priority."""
    with session_scope() as session:
        rows = session.execute(
            select(
                SlaConfig.priority, SlaConfig.first_response_minutes, SlaConfig.resolution_minutes
            )
        ).all()
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
    """The state the scan gives one ticket: the same rule as `_STATE`, for one row in Python."""
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


def scan_open_tickets(
    now: datetime | None = None,
    *,
    near_breach_share: float | None = None,
    batch_size: int = SCAN_BATCH_SIZE,
) -> ScanResult:
    """Bring every ticket's SLA due times and state up to date, in set-based batches by id.

    Side effects: writes `first_response_due_at`, `resolution_due_at` and `sla_state` on tickets
    whose values change, and one audit entry per state change (the ticket's history shows it,
    by "System"); each batch commits on its own. Does not touch `updated_at` (the scan is
    not activity on the ticket).
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    share = get_settings().sla_near_breach_share if near_breach_share is None else near_breach_share
    if not 0 < share <= 1:
        raise ValueError("the near-breach share must be in (0, 1]")
    started = time.monotonic()
    result = ScanResult()
    engine = get_engine()
    with engine.connect() as conn:
        low, high = conn.execute(select(func.min(Ticket.id), func.max(Ticket.id))).one()
    if low is None:
        result.seconds = time.monotonic() - started
        return result
    set_due_times, set_states = text(_SET_DUE_TIMES), text(_SET_STATES)
    after = low - 1
    while after < high:
        upto = after + batch_size
        with engine.begin() as conn:
            result.due_times_set += conn.execute(
                set_due_times, {"after": after, "upto": upto}
            ).rowcount
            for (state,) in conn.execute(
                set_states, {"after": after, "upto": upto, "now": now, "share": share}
            ):
                result.state_changes[state] = result.state_changes.get(state, 0) + 1
        result.batches += 1
        after = upto
    result.seconds = time.monotonic() - started
    return result

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

One import for callers, `from crm_app.services import sla`; by what the code does:
- `config`: targets, labels and tiers; the calendars and policies of one configuration
  version (cached) and the version a change bumps
- `defaults`: the built-in targets, calendars and default policy; the demo seeder's state rule
- `matching`: which policy applies to a ticket
- `clocks`: the clock engine (`on_ticket_event`), due and near-breach instants, rebuilds
- `batch`: the clocks of a batch of new tickets (mail intake), as plain rows
- `scan`: the scan job's work (`scan_open_tickets`)
- `panel`: the ticket's SLA panel (a read)
- `policies`: calendars and policies as managers list, save and delete them
"""

from crm_app.services.sla.batch import (
    NewTicketClocks,
    NewTicketFacts,
    clocks_for_new_tickets,
    write_new_ticket_clocks,
)
from crm_app.services.sla.clocks import on_ticket_event
from crm_app.services.sla.config import (
    DEFAULT_CALENDAR_NAME,
    DEFAULT_POLICY_NAME,
    DEFAULT_TARGETS,
    NO_TIER,
    OFFICE_CALENDAR_NAME,
    TARGET_LABELS,
    TARGETS,
    TIER_LABELS,
    TIER_SQL,
    TIERS,
    PolicySpec,
    SlaSetup,
    bump_version,
    client_tier,
    config_version,
    load_setup,
)
from crm_app.services.sla.defaults import ensure_default_targets, sla_state_for, sla_targets
from crm_app.services.sla.matching import TicketFacts, match_policy
from crm_app.services.sla.panel import SlaEventRow, SlaTargetRow, TicketSlaView, ticket_sla
from crm_app.services.sla.policies import (
    MAX_TARGET_MINUTES,
    CalendarRow,
    PolicyRow,
    delete_calendar,
    delete_policy,
    list_calendars,
    list_policies,
    save_calendar,
    save_policy,
)
from crm_app.services.sla.scan import (
    REBUILD_BATCH_SIZE,
    SCAN_BATCH_SIZE,
    SLA_AUDIT_ACTION,
    ScanResult,
    rebuild_open_clocks,
    scan_open_tickets,
)

__all__ = [
    "DEFAULT_CALENDAR_NAME",
    "DEFAULT_POLICY_NAME",
    "DEFAULT_TARGETS",
    "MAX_TARGET_MINUTES",
    "NO_TIER",
    "OFFICE_CALENDAR_NAME",
    "REBUILD_BATCH_SIZE",
    "SCAN_BATCH_SIZE",
    "SLA_AUDIT_ACTION",
    "TARGETS",
    "TARGET_LABELS",
    "TIERS",
    "TIER_LABELS",
    "TIER_SQL",
    "CalendarRow",
    "NewTicketClocks",
    "NewTicketFacts",
    "PolicyRow",
    "PolicySpec",
    "ScanResult",
    "SlaEventRow",
    "SlaSetup",
    "SlaTargetRow",
    "TicketFacts",
    "TicketSlaView",
    "bump_version",
    "client_tier",
    "clocks_for_new_tickets",
    "config_version",
    "delete_calendar",
    "delete_policy",
    "ensure_default_targets",
    "list_calendars",
    "list_policies",
    "load_setup",
    "match_policy",
    "on_ticket_event",
    "rebuild_open_clocks",
    "save_calendar",
    "save_policy",
    "scan_open_tickets",
    "sla_state_for",
    "sla_targets",
    "ticket_sla",
    "write_new_ticket_clocks",
]

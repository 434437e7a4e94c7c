"""Tickets: the agent queue (keyset pages, filters, views), opening a ticket, replies and notes,
field changes under optimistic locking, bulk actions and merge. Every write is audited and
emits its event after the commit (`crm_app.services.events`).

One import for callers, `from crm_app.services import tickets`; by what the code does:
- `listing`: the queue and the portal's list (reads)
- `view`: opening one ticket (a read) and marking it read (the write that goes with opening)
- `actions`: create, reply or note, change fields, mark unread
- `bulk`: bulk changes and merge
- `cc`: the CC list agents edit in the reply composer
- `rows`: the rows returned and the helpers the modules share
"""

from crm_app.services.staff import staff_choices
from crm_app.services.tickets.actions import (
    UNSET,
    add_message,
    create_ticket,
    set_unread,
    update_ticket,
)
from crm_app.services.tickets.bulk import BULK_LIMIT, BulkResult, bulk_update, merge_tickets
from crm_app.services.tickets.cc import check_cc
from crm_app.services.tickets.listing import (
    BUILTIN_VIEWS,
    QUEUE_COUNT_CAP,
    QueueFilters,
    QueuePage,
    portal_tickets,
    queue,
    queue_conditions,
    queue_count_query,
    queue_page_query,
)
from crm_app.services.tickets.rows import (
    LOGGED_FOR_CLIENT_CHANNELS,
    MAX_BODY,
    ClientProfile,
    HistoryRow,
    MessageRow,
    TicketDetail,
    TicketRow,
)
from crm_app.services.tickets.tags import clean_tag
from crm_app.services.tickets.tags import suggest as suggest_tags
from crm_app.services.tickets.view import get_ticket, mark_read

__all__ = [
    "BUILTIN_VIEWS",
    "BULK_LIMIT",
    "LOGGED_FOR_CLIENT_CHANNELS",
    "MAX_BODY",
    "QUEUE_COUNT_CAP",
    "UNSET",
    "BulkResult",
    "ClientProfile",
    "HistoryRow",
    "MessageRow",
    "QueueFilters",
    "QueuePage",
    "TicketDetail",
    "TicketRow",
    "add_message",
    "bulk_update",
    "check_cc",
    "clean_tag",
    "create_ticket",
    "get_ticket",
    "mark_read",
    "merge_tickets",
    "portal_tickets",
    "queue",
    "queue_conditions",
    "queue_count_query",
    "queue_page_query",
    "set_unread",
    "staff_choices",
    "suggest_tags",
    "update_ticket",
]

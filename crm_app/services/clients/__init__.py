"""Clients: the record, the searchable list, the profile, notes and the record's history.

Marketing reads clients but never their net worth, assets under management or KYC fields:
every function here that returns client data blanks them unless the actor may
`VIEW_CLIENT_FINANCES`, and refuses filters or sorting on them.

One import for callers, `from crm_app.services import clients`; `reads` holds the list,
profile and history, `columns` each user's list columns, `writes` the audited changes and
`verification` the confirming of clients made from incoming messages.
"""

from crm_app.services.clients.columns import (
    DEFAULT_LIST_COLUMNS,
    LIST_COLUMNS,
    MAX_LIST_COLUMNS,
    list_columns,
    save_list_columns,
)
from crm_app.services.clients.reads import (
    EDITABLE,
    MAX_NOTE,
    SORTS,
    ClientDetail,
    ClientRow,
    ClientTicket,
    HistoryEntry,
    NoteRow,
    client_history,
    client_list_query,
    client_tickets,
    filters_to_rules,
    get_client,
    has_trigram_search,
    list_clients,
    list_notes,
    search_clause,
)
from crm_app.services.clients.verification import (
    confirm_client,
    count_unverified,
    unverified_origin,
)
from crm_app.services.clients.writes import (
    add_note,
    create_client,
    delete_client,
    restore_client,
    update_client,
)

__all__ = [
    "DEFAULT_LIST_COLUMNS",
    "EDITABLE",
    "LIST_COLUMNS",
    "MAX_LIST_COLUMNS",
    "MAX_NOTE",
    "SORTS",
    "ClientDetail",
    "ClientRow",
    "ClientTicket",
    "HistoryEntry",
    "NoteRow",
    "add_note",
    "client_history",
    "client_list_query",
    "client_tickets",
    "confirm_client",
    "count_unverified",
    "create_client",
    "delete_client",
    "filters_to_rules",
    "get_client",
    "has_trigram_search",
    "list_clients",
    "list_columns",
    "list_notes",
    "restore_client",
    "save_list_columns",
    "search_clause",
    "unverified_origin",
    "update_client",
]

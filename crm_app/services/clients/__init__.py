"""Clients: the record, the searchable list, the profile, notes and the record's history.

Marketing reads clients but never their net worth, assets under management or KYC fields:
every function here that returns client data blanks them unless the actor may
`VIEW_CLIENT_FINANCES`, and refuses filters or sorting on them.

One import for callers, `from crm_app.services import clients`; `reads` holds the list,
profile and history, `writes` the audited changes.
"""

from crm_app.services.clients.reads import (
    DEFAULT_LIST_COLUMNS,
    EDITABLE,
    LIST_COLUMNS,
    MAX_LIST_COLUMNS,
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
    list_columns,
    list_notes,
    save_list_columns,
    search_clause,
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
    "update_client",
]

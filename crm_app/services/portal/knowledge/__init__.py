"""Knowledge before a ticket: the help centre's FAQ entries, their manager, suggestions while a
client writes a request, and deflection (the client read a suggestion and left without opening
a ticket), so the FAQ's effect can be measured.

Clients read published entries only; managers (`MANAGE_FAQ`) write entries by hand or review
the drafts the `faq_regen` job made (`crm_app.services.faq_generation`): edit, publish, reject,
merge two, unpublish. Every change is kept as a version and audited. Published entries are
also FAQ sources of the retrieval store (suggested replies cite them); leaving "published"
removes them from it.

One import for callers, `from crm_app.services.portal import knowledge`; by what the code does:
- `reading`: the help centre, suggestions, views, votes and the request's outcome (clients)
- `review`: entries for review, versions and deflection figures (the manager's reads)
- `entries`: create, edit, change status, merge, delete (the manager's writes)
- `indexing`: published entries kept in line with the retrieval store's FAQ sources
- `rows`: the rows returned
"""

from crm_app.services.portal.knowledge.entries import (
    delete_entry,
    merge_entries,
    record_version,
    save_entry,
    set_status,
)
from crm_app.services.portal.knowledge.indexing import sync_published_to_retrieval
from crm_app.services.portal.knowledge.reading import (
    SEARCH_LIMIT,
    SUGGESTION_LIMIT,
    help_centre,
    record_request_outcome,
    suggest,
    view_entry,
    vote,
)
from crm_app.services.portal.knowledge.review import deflection_figures, list_entries, versions
from crm_app.services.portal.knowledge.rows import (
    DeflectionFigures,
    FaqReviewRow,
    FaqRow,
    VersionRow,
)

__all__ = [
    "SEARCH_LIMIT",
    "SUGGESTION_LIMIT",
    "DeflectionFigures",
    "FaqReviewRow",
    "FaqRow",
    "VersionRow",
    "deflection_figures",
    "delete_entry",
    "help_centre",
    "list_entries",
    "merge_entries",
    "record_request_outcome",
    "record_version",
    "save_entry",
    "set_status",
    "suggest",
    "sync_published_to_retrieval",
    "versions",
    "view_entry",
    "vote",
]

"""Mail archives as the firm's knowledge: queue a file, follow its import, cancel, delete, read
its messages.

Who may do what: managers (`MANAGE_AI`) bring in and remove archives, and only they may mark
one "managers only" or see what such an archive holds; agents may import all-staff archives
when a manager has allowed it (`ArchivePolicy`). The ingest job (`jobs/pst_ingest.py`) does the
reading and writes each batch through `store_batch` here.

One import for callers, `from crm_app.services import archives`; by what the code does:
- `policy`: who may bring archives in, and which archives an actor sees
- `actions`: queue a file, cancel, delete (writes)
- `listing`: archives and their import errors as pages show them (reads)
- `ingest`: what the ingest job writes, batch by batch
- `messages`: an archived message, and a client's archived correspondence (reads)
- `uploads`: files uploaded through the browser, streamed to disk and queued
- `rows`: the limits and the rows returned
"""

from crm_app.services.archives.actions import (
    cancel_archive,
    delete_archive,
    queue_archive,
    recompute_audience,
    upload_dir,
)
from crm_app.services.archives.ingest import (
    ArchivedMessageInput,
    BatchInput,
    BatchOutcome,
    known_messages,
    source_ref_for,
    store_batch,
)
from crm_app.services.archives.listing import (
    get_archive,
    item_errors,
    list_archives,
    list_archives_by_id,
)
from crm_app.services.archives.messages import client_correspondence, get_archived_message
from crm_app.services.archives.policy import (
    agents_may_import,
    may_manage_archives,
    set_agents_may_import,
)
from crm_app.services.archives.rows import (
    ARCHIVE_LOCK_CLASS,
    ARCHIVE_SUFFIXES,
    MAX_ANSWER_CHARS,
    MAX_BODY_CHARS,
    MAX_SOURCE_REF,
    ArchivedMessageView,
    ArchiveRow,
    CorrespondenceRow,
    ItemErrorRow,
)
from crm_app.services.archives.uploads import (
    ARCHIVE_UPLOAD_MAX_BYTES,
    ARCHIVE_UPLOAD_MAX_FILES,
    find_client_by_email,
)

__all__ = [
    "ARCHIVE_LOCK_CLASS",
    "ARCHIVE_SUFFIXES",
    "ARCHIVE_UPLOAD_MAX_BYTES",
    "ARCHIVE_UPLOAD_MAX_FILES",
    "MAX_ANSWER_CHARS",
    "MAX_BODY_CHARS",
    "MAX_SOURCE_REF",
    "ArchiveRow",
    "ArchivedMessageInput",
    "ArchivedMessageView",
    "BatchInput",
    "BatchOutcome",
    "CorrespondenceRow",
    "ItemErrorRow",
    "agents_may_import",
    "cancel_archive",
    "client_correspondence",
    "delete_archive",
    "find_client_by_email",
    "get_archive",
    "get_archived_message",
    "item_errors",
    "known_messages",
    "list_archives",
    "list_archives_by_id",
    "may_manage_archives",
    "queue_archive",
    "recompute_audience",
    "set_agents_may_import",
    "source_ref_for",
    "store_batch",
    "upload_dir",
]

"""The firm's mailboxes: managers add, edit, test, disable and remove them; the poller reads
their settings and reports each poll here.

Passwords and API keys are write-only: a save encrypts them (`crm_app.crypto`), rows returned
to a page only say whether one is set, and only the connection code gets them decrypted. Every
change is audited (a secret's change is recorded as "changed", never its value).

One import for callers, `from crm_app.services import mailboxes`; by what the code does:
- `listing`: mailboxes with their health, and failed imports (reads)
- `actions`: add or edit, enable or disable, remove (writes)
- `form`: the checks and cleaning of a mailbox's form, secrets encrypted
- `connection`: the IMAP and SMTP accounts, decrypted, and the connection tests
- `poller`: what the poller reads and reports, for the system
- `rows`: the rows returned
"""

from crm_app.services.mailboxes.actions import remove_mailbox, save_mailbox, set_enabled
from crm_app.services.mailboxes.connection import smtp_account, test_incoming, test_outgoing
from crm_app.services.mailboxes.form import MIN_POLL_SECONDS, SECRET_FIELDS
from crm_app.services.mailboxes.listing import (
    FAILED_PAGE,
    failed_imports,
    get_mailbox,
    list_mailboxes,
)
from crm_app.services.mailboxes.poller import (
    due_for_poll,
    folder_position,
    mark_folder,
    poll_config,
    record_poll,
)
from crm_app.services.mailboxes.rows import (
    DueMailbox,
    FailedImportRow,
    FolderPosition,
    MailboxRow,
    PollConfig,
)

__all__ = [
    "FAILED_PAGE",
    "MIN_POLL_SECONDS",
    "SECRET_FIELDS",
    "DueMailbox",
    "FailedImportRow",
    "FolderPosition",
    "MailboxRow",
    "PollConfig",
    "due_for_poll",
    "failed_imports",
    "folder_position",
    "get_mailbox",
    "list_mailboxes",
    "mark_folder",
    "poll_config",
    "record_poll",
    "remove_mailbox",
    "save_mailbox",
    "set_enabled",
    "smtp_account",
    "test_incoming",
    "test_outgoing",
]

"""Email channel: mail in (IMAP) and mail out (outbox)."""

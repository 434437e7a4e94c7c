"""The email channel: mailboxes and their IMAP/SMTP connections, mail in (the intake) and mail out
(the outbox)."""

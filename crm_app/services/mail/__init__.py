"""The email channel: IMAP connections, the SMTP connection test and the mail intake."""

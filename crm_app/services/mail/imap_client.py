"""Opening an IMAP connection to a mailbox, and the "Test connection" check for it.

No Reflex, no database: the caller hands in an `ImapAccount` with the password already
decrypted, and gets back an `imapclient.IMAPClient` logged in (or a `MailConnectionError` whose
text a manager can act on).
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from models.mailbox import ConnectionSecurity

DEFAULT_TIMEOUT = 30.0


class MailConnectionError(Exception):
    """A mail server could not be reached or refused us; the text says why, for a manager."""


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    security: str
    user: str
    password: str
    folders: tuple[str, ...] = ("INBOX",)

    def __repr__(self) -> str:  # never the password, in logs or tracebacks
        return f"ImapAccount({self.user}@{self.host}:{self.port}, {self.security})"


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str


def parse_folders(text: str) -> tuple[str, ...]:
    """Folders as a manager types them: one per line (or comma-separated); INBOX if none."""
    names = [part.strip() for line in (text or "").splitlines() for part in line.split(",")]
    unique = list(dict.fromkeys(name for name in names if name))
    return tuple(unique) or ("INBOX",)


def connect(account: ImapAccount, *, timeout: float = DEFAULT_TIMEOUT) -> IMAPClient:
    """A logged-in client (not yet in any folder). Raises MailConnectionError."""
    where = f"{account.host}:{account.port}"
    try:
        context = ssl.create_default_context()
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.security == ConnectionSecurity.TLS,
            ssl_context=context,
            timeout=timeout,
        )
    except (OSError, IMAPClientError) as error:
        raise MailConnectionError(f"Could not reach the IMAP server {where}: {error}") from error
    try:
        if account.security == ConnectionSecurity.STARTTLS:
            client.starttls(ssl_context=context)
        client.login(account.user, account.password)
    except LoginError as error:
        _close(client)
        raise MailConnectionError(
            f"The IMAP server {where} refused the user name or password."
        ) from error
    except (OSError, IMAPClientError, ssl.SSLError) as error:
        _close(client)
        raise MailConnectionError(f"IMAP session with {where} failed: {error}") from error
    return client


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError):
        with contextlib.suppress(OSError):
            client.shutdown()


def disconnect(client: IMAPClient) -> None:
    """Log out, or drop the socket when the server no longer answers."""
    _close(client)


def test_connection(account: ImapAccount, *, timeout: float = 15.0) -> ConnectionReport:
    """Log in and select every configured folder read-only; nothing is fetched or changed."""
    try:
        client = connect(account, timeout=timeout)
    except MailConnectionError as error:
        return ConnectionReport(False, str(error))
    try:
        counts = []
        for folder in account.folders:
            try:
                info = client.select_folder(folder, readonly=True)
            except IMAPClientError as error:
                return ConnectionReport(
                    False, f"Signed in, but the folder “{folder}” cannot be opened: {error}"
                )
            counts.append(f"{folder}: {int(info.get(b'EXISTS', 0)):,} messages")
        idle = "IDLE supported" if client.has_capability("IDLE") else "no IDLE: polled"
        return ConnectionReport(True, f"IMAP OK: signed in; {'; '.join(counts)} ({idle}).")
    except (OSError, IMAPClientError) as error:
        return ConnectionReport(False, f"IMAP session failed: {error}")
    finally:
        _close(client)

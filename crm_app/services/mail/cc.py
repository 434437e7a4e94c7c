"""Who is copied on an email thread (Zendesk's CCs): the addresses a client's mail was also sent
to, and the list an agent's reply goes to in Cc.

One rule for mail in and mail out: a Cc entry is one plain address (no display name, no line
break, no list), stored lower-cased; the firm's own mailbox addresses are never copied (a reply
cc'd to ourselves would come back in as new mail). Pure helpers, but `own_addresses`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.utils import parseaddr

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.services.errors import InvalidInput
from crm_app.services.mail.compose import valid_address
from crm_app.settings import get_settings
from ingest.model import Message
from models.mailbox import Mailbox

MAX_CC = 50  # addresses on one ticket's CC list (Zendesk allows 48)
MAX_ADDRESS = 254  # the longest address SMTP carries (RFC 5321 path limit)
MAX_TYPED = 10_000  # characters the composer's Cc field may send at once
# One address as typed: letters (any script), digits and the atext signs; a dotted domain.
_ADDRESS = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~-]+(\.[\w!#$%&'*+/=?^`{|}~-]+)*"
    r"@[^\W_]([\w-]*[^\W_])?(\.[^\W_]([\w-]*[^\W_])?)+"
)
# What separates addresses typed or pasted together ("a@x.example, b@y.example; c@z.example").
_SEPARATORS = re.compile(r"[,;\s]+")


def plain_address(value: str) -> str | None:
    """`value` as a Cc entry (stripped, lower-cased), or None when it is not one address."""
    address = value.strip().lower()
    if not address or len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        return None
    return address if valid_address(address) else None


def clean_addresses(values: object) -> list[str]:
    """The Cc list an agent gave, checked: each entry one plain address, at most `MAX_CC`,
    duplicates dropped (first kept). Raises InvalidInput saying which entry is wrong."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidInput("The Cc list was not understood: send a list of addresses.")
    if len(values) > MAX_CC * 4:
        raise InvalidInput(f"At most {MAX_CC} people can be copied on a ticket.")
    cleaned: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput("The Cc list was not understood: send a list of addresses.")
        if not value.strip():
            continue
        address = plain_address(value)
        if address is None:
            raise InvalidInput(f"“{_shown(value)}” is not an email address (name@example.com).")
        if address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > MAX_CC:
        raise InvalidInput(f"At most {MAX_CC} people can be copied on a ticket.")
    return cleaned


def split_typed(text: object) -> list[str]:
    """What an agent typed or pasted into the Cc field, as addresses (checked)."""
    if not isinstance(text, str):
        raise InvalidInput("The Cc address was not understood.")
    if len(text) > MAX_TYPED:
        raise InvalidInput("That is too much text for the Cc field: paste fewer addresses.")
    return clean_addresses([part for part in _SEPARATORS.split(text) if part])


def _shown(value: str) -> str:
    """An entry as an error message may quote it: one line, bounded."""
    flat = " ".join(value.split())
    return flat if len(flat) <= 60 else flat[:57] + "…"


def own_addresses(session: Session) -> set[str]:
    """The firm's own addresses, lower-cased: every mailbox's, and the product's own sender."""
    own = {address.lower() for address in session.scalars(select(col(Mailbox.address)))}
    sender = parseaddr(get_settings().mail_from)[1].lower()
    return own | ({sender} if sender else set())


def refuse_own(addresses: Iterable[str], own: set[str]) -> None:
    """An agent's Cc naming one of the firm's mailboxes: said plainly, nothing saved."""
    for address in addresses:
        if address in own:
            raise InvalidInput(
                f"{address} is one of the firm's own mailboxes: it cannot be copied on a reply."
            )


def copied_on(message: Message, own: set[str]) -> list[str]:
    """Who else a received mail went to: its Cc and its To but the firm's own addresses and the
    sender, as plain addresses (entries that are not one are left out), at most `MAX_CC`."""
    sender = (message.sender.email if message.sender else "").strip().lower()
    found: list[str] = []
    for entry in [*message.to, *message.cc]:
        address = plain_address(entry.email or "")
        if address and address not in own and address != sender and address not in found:
            found.append(address)
            if len(found) >= MAX_CC:
                break
    return found


def merged(current: Sequence[str], added: Iterable[str], exclude: set[str]) -> list[str]:
    """A ticket's CC list with new addresses appended (none of `exclude`), at most `MAX_CC`."""
    result = list(current)
    for address in added:
        if len(result) >= MAX_CC:
            break
        if address not in exclude and address not in result:
            result.append(address)
    return result

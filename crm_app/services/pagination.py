"""Pages of a list: numbered pages with a total (`Page`), and keyset pages (`KeysetPage`).

A keyset page is read after the sort key of the last row shown, so page 8,000 of a list costs
what page 1 costs (OFFSET reads and throws away every row before the page). The cursor that
carries the key to the browser and back is opaque and checked: a forged or stale one gets a
clear "start from the first page", never a database error.

    rows = session.execute(
        select(...).where(*where, *keyset_after((T.c.id,), cursor, descending=True))
        .order_by(T.c.id.desc()).limit(page_size + 1)
    ).all()
    page = keyset_page(rows, page_size, key=lambda r: (r.id,))
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from crm_app.services.errors import InvalidInput

T = TypeVar("T")
KeyValue = int | str
_CURSOR_MAX = 512  # characters: a key of a few ints and strings never comes near


@dataclass(frozen=True)
class Page:
    items: list[Any] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 25

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One keyset page: its rows and the cursor of the next page ("" on the last one)."""

    items: list[T]
    next_cursor: str = ""
    total: int = 0


def encode_cursor(key: Sequence[KeyValue]) -> str:
    """The opaque cursor of a sort key (ints and strings: pass datetimes as ISO text)."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> tuple[KeyValue, ...]:
    """The sort key inside a cursor made by `encode_cursor`; InvalidInput when it is not one."""
    stale = InvalidInput("That page link is no longer valid: start from the first page.")
    if not isinstance(cursor, str) or len(cursor) > _CURSOR_MAX:
        raise stale
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise stale from None
    if (
        not isinstance(key, list)
        or len(key) != arity
        or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in key)
    ):
        raise stale
    return tuple(key)


def keyset_after(
    columns: Sequence[sa.ColumnElement[Any]], cursor: str, *, descending: bool = False
) -> list[sa.ColumnElement[bool]]:
    """The WHERE condition of the page after `cursor` (none for the first page).

    `columns` are the ORDER BY columns, all in the same direction, ending with a unique one
    (the id), none of them NULL: a row-value comparison then walks the matching index.
    """
    if not cursor:
        return []
    key = decode_cursor(cursor, len(columns))
    left = sa.tuple_(*columns)
    pairs = zip(key, columns, strict=True)
    right = sa.tuple_(*(sa.cast(sa.literal(value), column.type) for value, column in pairs))
    return [left < right if descending else left > right]


def keyset_page(
    rows: Sequence[T], page_size: int, *, key: Callable[[T], Sequence[KeyValue]], total: int = 0
) -> KeysetPage[T]:
    """The page from rows read with `LIMIT page_size + 1`: the extra row says there is a next."""
    items = list(rows[:page_size])
    more = len(rows) > page_size and bool(items)
    return KeysetPage(items, encode_cursor(key(items[-1])) if more else "", total)

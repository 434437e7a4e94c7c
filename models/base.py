"""Column helpers every table shares: timezone-aware UTC timestamps and short enum strings."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

ENUM_WIDTH = 32


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_field(
    *, nullable: bool = False, index: bool = False, default_now: bool = True
) -> Any:
    """A `timestamptz` column; new rows get the current UTC time unless told otherwise."""
    kwargs: dict[str, Any] = {"sa_type": sa.DateTime(timezone=True), "index": index}
    if default_now:
        kwargs["default_factory"] = utcnow
    else:
        kwargs["default"] = None
    kwargs["nullable"] = nullable
    return Field(**kwargs)


def enum_field(enum: type[StrEnum], default: StrEnum | None, *, index: bool = False) -> Any:
    """A short string column holding one value of `enum` (checked by the services)."""
    assert all(len(member.value) <= ENUM_WIDTH for member in enum)
    return Field(
        default=default.value if default is not None else None,
        sa_type=sa.String(ENUM_WIDTH),
        index=index,
        nullable=default is None,
    )

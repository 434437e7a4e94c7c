"""One page of a list, with the total the pager shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list[Any] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 25

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))

"""What the seeder's modules share: the demo constants, the progress and result rows, and
the helpers that turn values into COPY text fast."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEMO_DOMAIN = "demo.example.com"  # marks demo staff: its presence means "already seeded"
DEMO_PASSWORD = "demo-password-change-me"
DEMO_MANAGER_EMAIL = f"manager@{DEMO_DOMAIN}"
HISTORY_DAYS = 730  # tickets spread over the last two years
CLIENT_HISTORY_DAYS = 3 * 365


NULL = "\\N"

ProgressCallback = Callable[["SeedProgress"], None]


@dataclass(frozen=True)
class SeedProgress:
    stage: str  # "clients" or "tickets"
    done: int
    total: int
    messages: int
    seconds: float


@dataclass(frozen=True)
class SeedResult:
    agents_created: int
    manager_created: bool
    clients: int
    tickets: int
    messages: int
    seconds: float


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _weighted(choices: Sequence[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values = [value for value, _ in choices]
    cumulative, total = [], 0.0
    for _, weight in choices:
        total += weight
        cumulative.append(total)
    return values, [c / total for c in cumulative]


class _Timestamps:
    """Formats epoch seconds as UTC `timestamptz` text quickly (the hot loop's biggest cost)."""

    def __init__(self, first: int, last: int) -> None:
        self.base = first - first % 86400
        days = (last - self.base) // 86400 + 2
        start = datetime.fromtimestamp(self.base, UTC)
        self.days = [(start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days)]

    def __call__(self, moment: int) -> str:
        day, seconds = divmod(moment - self.base, 86400)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{self.days[day]} {hours:02d}:{minutes:02d}:{seconds:02d}+00"

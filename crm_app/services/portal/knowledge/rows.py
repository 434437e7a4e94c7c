"""The frozen rows the help centre and the FAQ manager's page are given."""

from __future__ import annotations

from dataclasses import dataclass

from crm_app.services.tickets.rows import fmt
from models.faq import FaqEntry


@dataclass(frozen=True)
class FaqRow:
    id: int
    question: str
    answer: str
    category: str
    position: int
    status: str
    views: int
    updated_at: str
    published_at: str


def _row(entry: FaqEntry) -> FaqRow:
    assert entry.id is not None
    return FaqRow(
        id=entry.id,
        question=entry.question,
        answer=entry.answer,
        category=entry.category,
        position=entry.position,
        status=entry.status,
        views=entry.views,
        updated_at=fmt(entry.updated_at),
        published_at=fmt(entry.published_at),
    )


@dataclass(frozen=True)
class DeflectionFigures:
    days: int
    deflected: int
    submitted: int

    @property
    def deflection_rate(self) -> float:
        total = self.deflected + self.submitted
        return self.deflected / total if total else 0.0


@dataclass(frozen=True)
class FaqReviewRow:
    """An entry as the manager's page shows it: what clients see, where a generated draft came
    from, its compliance flags and its measures."""

    id: int
    question: str
    answer: str
    category: str
    position: int
    status: str
    origin: str
    updated_at: str
    topic_size: int
    sample_questions: list[str]
    source_tickets: list[int]
    flags: list[str]
    updates_entry_id: int
    updates_question: str
    version: int
    views: int
    search_hits: int
    helpful_yes: int
    helpful_no: int
    deflected: int


@dataclass(frozen=True)
class VersionRow:
    version: int
    change: str
    question: str
    answer: str
    category: str
    status: str
    changed_by: str
    created_at: str

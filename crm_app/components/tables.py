"""Data tables: a table with its header, rows, empty state and footer, and keyset paging.

    class SentState(KeysetPaging, AppState):
        rows: list[Row] = []

        def _fetch_page(self) -> None:
            page = service.rows(self.require_actor(), after=self._page_start())
            self.rows = page.items
            self._page_loaded(page.next_cursor)

    data_table(["Date", "To"], SentState.rows, _row, empty=empty_state(...),
               footer=paging_bar(SentState, SentState.total_label))

The state keeps the cursor that starts each page seen so far, so "previous" goes back exactly
and "next" continues after the last row shown: page 8,000 costs what page 1 costs. A browser
only ever sends "next" or "previous"; the cursors stay on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar

from crm_app.components.lists import keyset_pager
from crm_app.state import service_event


def data_table(
    columns: Sequence[str | rx.Component],
    rows: ArrayVar[list[Any]],
    row: Callable[[Any], rx.Component],
    *,
    empty: rx.Component,
    footer: rx.Component | None = None,
    **props: Any,
) -> rx.Component:
    """The rows as a table (one `row(item)` each) under a header, or `empty` when there are
    none; `footer` (a pager, a total) below the table. `props` go to the table root."""
    table = rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(c) for c in columns))),
        rx.table.body(rx.foreach(rows, row)),
        **{"width": "100%", **props},
    )
    shown = rx.vstack(table, footer, width="100%") if footer is not None else table
    return rx.cond(rows.length() > 0, shown, empty)


class KeysetPaging(rx.State, mixin=True):
    """Previous / next over keyset pages for one list of a page's state.

    The state implements `_fetch_page` (read the page starting at `_page_start()`, then call
    `_page_loaded` with the service's next cursor) and calls `_first_page` when its filters
    change."""

    page: rx.Field[int] = rx.field(1)
    has_next: rx.Field[bool] = rx.field(False)
    _cursors: list[str] = [""]  # noqa: RUF012 (the cursor that starts each page seen so far)
    _next_cursor: str = ""

    def _fetch_page(self) -> None:
        raise NotImplementedError

    def _page_start(self) -> str:
        return self._cursors[self.page - 1]

    def _page_loaded(self, next_cursor: str) -> None:
        self._next_cursor, self.has_next = next_cursor, bool(next_cursor)

    def _first_page(self) -> None:
        """Back to page 1 (the filters changed) and load it."""
        self.page, self._cursors = 1, [""]
        self._fetch_page()

    @service_event
    def next_page(self):
        if not self._next_cursor:
            return
        self._cursors = [*self._cursors[: self.page], self._next_cursor]
        self.page += 1
        self._fetch_page()

    @service_event
    def previous_page(self):
        self.page = max(1, self.page - 1)
        self._fetch_page()


def paging_bar(
    state: type[KeysetPaging], total_label: rx.Var[str] | str, total_id: str = "list-total"
) -> rx.Component:
    """The pager of a `KeysetPaging` state: its total, previous and next."""
    return keyset_pager(
        rx.Var.create(total_label) if isinstance(total_label, str) else total_label,
        state.page,
        state.has_next,
        state.previous_page,
        state.next_page,
        total_id=total_id,
    )

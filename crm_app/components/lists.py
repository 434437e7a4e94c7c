"""Pieces of list pages: filter selects, the keyset and numbered pagers, and pickers keyed by
id."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, NumberVar


def filter_select(
    label: str, choices: list[str], value: rx.Var[str], on_change: Any
) -> rx.Component:
    """A labelled, compact select of a filter bar."""
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select(choices, value=value, on_change=on_change, aria_label=label, size="1"),
        spacing="1",
    )


def keyset_pager(
    total_label: rx.Var[str],
    page: NumberVar[int],
    has_next: rx.Var[bool],
    on_previous: Any,
    on_next: Any,
    total_id: str = "list-total",
) -> rx.Component:
    """Previous / next over keyset pages (no page jumps: the cursor of each page seen so far
    is kept by the state), with the list's total."""
    return rx.hstack(
        rx.text(total_label, size="2", color_scheme="gray", id=total_id),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left"),
            variant="soft",
            aria_label="Previous page",
            disabled=page <= 1,
            on_click=on_previous,
        ),
        rx.text("Page ", page, size="2"),
        rx.button(
            rx.icon("chevron-right"),
            variant="soft",
            aria_label="Next page",
            disabled=~has_next,
            on_click=on_next,
            id="next-page",
        ),
        width="100%",
        align="center",
    )


def numbered_pager(
    total_label: rx.Var[str] | str,
    page: NumberVar[int],
    page_count: NumberVar[int],
    go_to: Any,
    total_id: str = "list-total",
) -> rx.Component:
    """Previous / next over numbered pages ("Page 3 of 12"), with the list's total; `go_to`
    is the handler that takes the page number."""
    return rx.hstack(
        rx.text(total_label, size="2", color_scheme="gray", id=total_id),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left"),
            variant="soft",
            aria_label="Previous page",
            disabled=page <= 1,
            on_click=go_to(page - 1),
        ),
        rx.text("Page ", page, " of ", page_count, size="2"),
        rx.button(
            rx.icon("chevron-right"),
            variant="soft",
            aria_label="Next page",
            disabled=page >= page_count,
            on_click=go_to(page + 1),
            id="next-page",
        ),
        width="100%",
        align="center",
    )


def staff_picker(
    staff: rx.Var[list[list[str]]],
    *,
    on_change: Any,
    aria_label: str,
    value: rx.Var[str] | None = None,
    placeholder: str | None = None,
    none_value: str | None = None,
    none_label: str = "",
    **props: Any,
) -> rx.Component:
    """A select of people by id: `staff` holds [id, name] pairs, the handler gets the id
    (two agents with the same name stay two choices). `none_value` adds a "nobody" choice."""
    return rx.select.root(
        rx.select.trigger(
            placeholder=placeholder,
            aria_label=aria_label,
            **({"id": props.pop("id")} if "id" in props else {}),
        ),
        rx.select.content(
            *([rx.select.item(none_label, value=none_value)] if none_value else []),
            rx.foreach(staff, lambda person: rx.select.item(person[1], value=person[0])),
        ),
        on_change=on_change,
        **({"value": value} if value is not None else {}),
        **props,
    )


def audience_select(
    teams: ArrayVar[list[list[str]]],
    agents: ArrayVar[list[list[str]]],
    *,
    value: rx.Var[str],
    on_change: Any,
    select_id: str,
    label: str = "Team or agent",
) -> rx.Component:
    """Whose figures a dashboard shows: "Everyone", each team, or one agent. `teams` and
    `agents` hold [value, label] pairs from `teams.audience_choices` ("team:3", "agent:7")."""
    return rx.vstack(
        rx.text(label, as_="label", html_for=select_id, size="1"),
        rx.el.select(
            rx.el.option("Everyone", value="everyone"),
            rx.cond(
                teams.length() > 0,
                rx.el.optgroup(
                    rx.foreach(teams, lambda t: rx.el.option(t[1], value=t[0])), label="Teams"
                ),
            ),
            rx.el.optgroup(
                rx.foreach(agents, lambda a: rx.el.option(a[1], value=a[0])), label="Agents"
            ),
            id=select_id,
            value=value,
            on_change=on_change,
            style={
                "padding": "6px",
                "border_radius": "6px",
                "border": f"1px solid {rx.color('gray', 7)}",
                "max_width": "16rem",
            },
        ),
        spacing="1",
    )

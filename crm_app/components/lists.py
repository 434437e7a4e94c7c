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


def search_input(
    *, value: Any, on_change: Any, debounce_ms: int, placeholder: str, **props: Any
) -> rx.Component:
    """The text box of a search picker: a search icon, no browser autofill, the whole width,
    and `on_change` after a pause in typing of `debounce_ms`."""
    return rx.input(
        rx.input.slot(rx.icon("search", size=14)),
        value=value,
        on_change=on_change,
        debounce_timeout=debounce_ms,
        placeholder=placeholder,
        auto_complete="off",
        width="100%",
        **props,
    )


def options_listbox(
    found: rx.Component,
    *,
    none_found: rx.Var[bool],
    none_text: str,
    listbox_id: str,
    footer: rx.Component | None = None,
) -> rx.Component:
    """The list under a search picker's text box: the `found` options (an `rx.foreach`), or
    `none_text` when `none_found`; `footer` is a last option always offered."""
    return rx.box(
        found,
        rx.cond(
            none_found,
            rx.text(none_text, size="2", color_scheme="gray", padding="0.4rem 0.6rem"),
        ),
        *([footer] if footer is not None else []),
        role="listbox",
        id=listbox_id,
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="6px",
        margin_top="0.25rem",
        max_height="18rem",
        overflow_y="auto",
        background=rx.color("gray", 1),
    )


def client_pick_option(pick: Any, *, active: rx.Var[bool], on_click: Any) -> rx.Component:
    """One client found by `search.find_clients` in a client search picker: its label (name,
    email, number) and phone. `pick` is the `ClientPick` var of an `rx.foreach`; `on_click`
    gets the pick's id, never its name."""
    return rx.box(
        rx.text(pick.label, size="2", weight=rx.cond(active, "medium", "regular")),
        rx.cond(pick.phone != "", rx.text(pick.phone, size="1", color_scheme="gray")),
        role="option",
        aria_selected=active,
        id="pick-" + pick.id.to_string(),
        class_name=rx.cond(active, "client-pick active", "client-pick"),
        on_click=on_click,
        padding="0.4rem 0.6rem",
        cursor="pointer",
        background=rx.cond(active, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
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

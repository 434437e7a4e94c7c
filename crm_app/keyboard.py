"""Keyboard shortcuts as Zendesk and Gmail users expect them, listed in a dialog on `?`.

    Queue:   j / k move, Enter or o opens, / focuses search
    Ticket:  r reply, n internal note, Ctrl+Enter sends (in the composer)
    Always:  ? lists the shortcuts, Esc closes dialogs

Pages mount one component: `queue_shortcuts(...)` or `ticket_shortcuts(...)`, handing in their
own events. The keys are read by one window listener and filtered in the browser (each binding
is a condition on the key, its modifiers and the focused element), so only a shortcut that
applies reaches the server, and letters typed into an input, a text area, a select or a menu
never do; Ctrl+Enter and Esc work there too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import reflex as rx
from reflex_base.event import EventHandler, EventSpec
from reflex_base.vars.base import Var
from reflex_base.vars.object import ObjectVar
from reflex_components_core.core.window_events import WindowEventListener

# Focus in one of these takes typed letters: shortcuts keep out of its way.
TEXT_TAGS = ("INPUT", "TEXTAREA", "SELECT")
TEXT_ROLES = (
    "option",
    "menuitem",
    "menuitemradio",
    "menuitemcheckbox",
    "listbox",
    "combobox",
    "textbox",
    "searchbox",
    "slider",
    "spinbutton",
)
# Ctrl+Enter sends after the composer's own debounced update has reached the server.
SEND_AFTER_MS = 450

QUEUE_KEYS = (
    ("j", "Next ticket in the list"),
    ("k", "Previous ticket in the list"),
    ("Enter or o", "Open the highlighted ticket"),
    ("/", "Search tickets"),
)
TICKET_KEYS = (
    ("r", "Reply to the client"),
    ("n", "Write an internal note"),
    ("Ctrl+Enter", "Send the reply or note (in the composer)"),
)
COMMON_KEYS = (("?", "Show these shortcuts"), ("Esc", "Close a dialog or list"))


@dataclasses.dataclass(frozen=True)
class _FocusedElement:
    tagName: str = ""  # the DOM's names
    isContentEditable: bool = False
    role: str = ""
    id: str = ""


@dataclasses.dataclass(frozen=True)
class _ShortcutKeyEvent:
    key: str = ""
    ctrlKey: bool = False
    metaKey: bool = False
    altKey: bool = False
    target: _FocusedElement = _FocusedElement()


def _shortcut_key(
    e: ObjectVar[_ShortcutKeyEvent],
) -> tuple[Var[str], Var[bool], Var[str], Var[str]]:
    """(key, Ctrl/Cmd/Alt held, tag of the focused element, role or id of it)."""
    return (
        e.key.to(str),
        (e.ctrlKey.to(bool) | e.metaKey.to(bool) | e.altKey.to(bool)),
        e.target.tagName.to(str),
        e.target.role.to(str),
    )


class ShortcutListener(WindowEventListener):
    """A window keydown listener whose handler also learns what has the focus."""

    # Reflex's trigger annotation takes an event-spec function, which mypy cannot read as a type.
    on_key_down: EventHandler[_shortcut_key]  # type: ignore[type-arg,valid-type]


class ShortcutsState(rx.State):
    help_open: bool = False

    @rx.event
    def set_help_open(self, value: bool):
        self.help_open = bool(value)

    @rx.event
    def show_help(self):
        self.help_open = True


def _typing(tag: Var[str], role: Var[str]) -> Var[bool]:
    in_field = Var.create(list(TEXT_TAGS)).contains(tag)
    return in_field | Var.create(list(TEXT_ROLES)).contains(role)


def _when(condition: Var[bool], event: EventSpec) -> Var:
    return rx.cond(condition, event, rx.noop())


Binding = tuple[str, EventSpec]
# A raw binding: from (key, modified, tag, role) to a condition, and the event it fires.
RawBinding = tuple[Callable[[Var[str], Var[bool], Var[str], Var[str]], Var[bool]], EventSpec]


def _listener(
    letters: list[Binding], enabled: Var[bool] | bool, raw: tuple[RawBinding, ...] = ()
) -> rx.Component:
    """One listener: each (key, event) of `letters` fires when that key is pressed with no
    modifier, outside any field, while `enabled` and the help dialog is closed; each raw
    binding fires when its own condition holds."""

    def handler(key: Var[str], modified: Var[bool], tag: Var[str], role: Var[str]) -> list:
        free = ~modified & ~_typing(tag, role) & ~ShortcutsState.help_open & enabled
        events = [_when(free & (key == "?"), ShortcutsState.show_help.prevent_default)]
        events += [_when(free & (key == wanted), event) for wanted, event in letters]
        events += [_when(condition(key, modified, tag, role), event) for condition, event in raw]
        return events

    return ShortcutListener.create(on_key_down=handler)


def _key_rows(keys: tuple[tuple[str, str], ...]) -> list[rx.Component]:
    return [rx.table.row(rx.table.cell(rx.code(key)), rx.table.cell(what)) for key, what in keys]


def shortcuts_help(*groups: tuple[str, tuple[tuple[str, str], ...]]) -> rx.Component:
    """The `?` dialog: every shortcut of this page."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Keyboard shortcuts"),
            rx.vstack(
                *[
                    rx.vstack(
                        rx.text(title, weight="bold", size="2"),
                        rx.table.root(rx.table.body(*_key_rows(keys)), size="1", width="100%"),
                        width="100%",
                        spacing="1",
                    )
                    for title, keys in (*groups, ("Everywhere", COMMON_KEYS))
                ],
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Close", variant="soft", id="close-shortcuts")),
                justify="end",
                padding_top="1rem",
            ),
            max_width="28rem",
            id="shortcuts-help",
        ),
        open=ShortcutsState.help_open,
        on_open_change=ShortcutsState.set_help_open,
    )


def queue_shortcuts(
    *,
    on_move: Callable[[int], EventSpec],
    on_open: EventSpec,
    search_id: str,
    enabled: Var[bool] | bool = True,
) -> rx.Component:
    """j/k call `on_move(+1/-1)`, Enter (with nothing focused) or o call `on_open`, / focuses
    the element `search_id`. `enabled` false (a dialog of the page is open) turns them off."""
    letters = [
        ("j", on_move(1)),
        ("k", on_move(-1)),
        ("o", on_open),
        # The / must not land in the search box it focuses.
        ("/", rx.set_focus(search_id).prevent_default),
    ]

    def enter_on_page(
        key: Var[str], modified: Var[bool], tag: Var[str], role: Var[str]
    ) -> Var[bool]:
        # With nothing focused only: on a link or a button Enter keeps its own meaning.
        return (key == "Enter") & (tag == "BODY") & ~modified & ~ShortcutsState.help_open & enabled

    return rx.fragment(
        _listener(letters, enabled, ((enter_on_page, on_open),)),
        shortcuts_help(("Queue", QUEUE_KEYS)),
    )


def ticket_shortcuts(
    *,
    on_reply: EventSpec,
    on_note: EventSpec,
    on_send: EventSpec,
    composer_id: str = "composer",
    enabled: Var[bool] | bool = True,
) -> rx.Component:
    """For the ticket page: r (`on_reply`) and n (`on_note`) then focus the composer; Ctrl+Enter
    in a text area sends (`on_send`, after the composer's debounced text has arrived)."""
    focus = rx.set_focus(composer_id).prevent_default
    letters = [("r", on_reply), ("r", focus), ("n", on_note), ("n", focus)]

    def ctrl_enter(key: Var[str], modified: Var[bool], tag: Var[str], role: Var[str]) -> Var[bool]:
        return (key == "Enter") & modified & (tag == "TEXTAREA") & enabled

    return rx.fragment(
        _listener(letters, enabled, ((ctrl_enter, on_send.debounce(SEND_AFTER_MS)),)),
        shortcuts_help(("Ticket", TICKET_KEYS)),
    )

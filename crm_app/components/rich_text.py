"""A rich text editor for HTML that staff compose (campaign bodies): Quill 2 through the
`react-quill-new` package, wrapped as a Reflex component.

It edits HTML in the browser only; what it sends is untrusted like any form field, so the
service that stores it sanitizes it (`crm_app/services/campaigns`, nh3). The toolbar offers
what survives that sanitizing and renders in mail clients: headings, bold, italic, underline,
lists, links, quotes and clearing formats; no images (remote content is removed) and no colours
(many clients drop them).

Uncontrolled: the editor starts from `default_value` and reports each change through
`on_change` (debounce it: every keystroke is an event). Give it a `key` that changes when the
stored value is replaced from elsewhere, so it restarts from the new value.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import Var

TOOLBAR: list[Any] = [
    [{"header": [1, 2, 3, False]}],
    ["bold", "italic", "underline"],
    [{"list": "ordered"}, {"list": "bullet"}, "blockquote"],
    ["link", "clean"],
]
FORMATS = ["header", "bold", "italic", "underline", "list", "blockquote", "link"]


def _html_of_change(content: Var[str], delta: Var, source: Var, editor: Var) -> tuple[Var[str]]:
    return (content,)


class RichTextEditor(rx.NoSSRComponent):
    """Quill's editor (`ReactQuill`, the package's default export); rendered in the browser
    only, since Quill needs the DOM."""

    library = "react-quill-new@3.8.3"
    tag = "ReactQuill"
    is_default = True
    lib_dependencies: list[str] = ["quill-delta@5.1.0"]  # noqa: RUF012 (a Reflex field)

    theme: Var[str]
    default_value: Var[str]
    placeholder: Var[str]
    read_only: Var[bool]
    modules: Var[dict[str, Any]]
    formats: Var[list[str]]

    # Reflex reads the event spec from the annotation; mypy cannot type it.
    on_change: rx.EventHandler[_html_of_change]  # type: ignore[type-arg,valid-type]

    def add_imports(self) -> dict[str, Any]:
        return {"": "react-quill-new/dist/quill.snow.css"}


def rich_text_editor(*, id: str, **props: Any) -> rx.Component:
    """The editor with the product's toolbar; `id` names its frame (the editable area inside
    is `#<id> .ql-editor`)."""
    return rx.box(
        RichTextEditor.create(
            theme="snow",
            modules={"toolbar": TOOLBAR},
            formats=FORMATS,
            **props,
        ),
        id=id,
        class_name="crm-rich-text",
        width="100%",
        css={
            "& .ql-editor": {
                "minHeight": "12rem",
                "fontSize": "var(--font-size-2)",
                "fontFamily": "var(--default-font-family)",
            },
            "& .ql-toolbar.ql-snow": {
                "borderColor": "var(--gray-a7)",
                "borderRadius": "var(--radius-2) var(--radius-2) 0 0",
            },
            "& .ql-container.ql-snow": {
                "borderColor": "var(--gray-a7)",
                "borderRadius": "0 0 var(--radius-2) var(--radius-2)",
            },
        },
    )

"""Segments: a rule builder (field, operator, value, nested AND/OR groups) with a live count
and preview, and the list of saved segments."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, form_error
from crm_app.components import field as labelled
from crm_app.layout import signed_in_page
from crm_app.services import client_export
from crm_app.services import segments as segment_service
from crm_app.services.segments import NO_VALUE, SegmentRow
from crm_app.state import AppState, service_event

# Shown or hidden in the browser by the signed-in user's actions (see `AppState.may`).
CAN_EDIT_SEGMENTS = AppState.may(Action.EDIT_SEGMENTS)


@dataclass
class BuilderRow:
    """One line of the rule tree as the builder draws it: a group header or a rule."""

    path: str
    depth: int
    is_group: bool
    op: str = "and"
    field: str = ""
    operator: str = ""
    value: str = ""
    operators: list[list[str]] = dataclasses.field(default_factory=list)
    needs_value: bool = True
    choices: list[str] = dataclasses.field(default_factory=list)


def _at(tree: dict[str, Any], path: str) -> dict[str, Any]:
    """The rule or group at a dotted path of indexes ("0.2"); ValueError for any other path
    (the browser only sends paths it was given, so anything else is a forged event)."""
    node = tree
    try:
        for index in (int(p) for p in path.split(".") if p != ""):
            node = node["rules"][index]
    except (ValueError, IndexError, KeyError, TypeError) as error:
        raise ValueError(f"no rule at {path!r}") from error
    return node


def _parent(path: str) -> tuple[str, int]:
    parts = path.split(".")
    try:
        return ".".join(parts[:-1]), int(parts[-1])
    except ValueError as error:
        raise ValueError(f"no rule at {path!r}") from error


class SegmentsState(AppState):
    segments: list[SegmentRow] = []
    editing_id: int = 0
    name: str = ""
    description: str = ""
    tree: dict[str, Any] = dict(segment_service.EMPTY_RULES)
    fields: list[list[str]] = []  # [key, label]
    _field_specs: dict[str, dict[str, Any]] = {}
    count: int = 0
    preview: list[list[str]] = []
    preview_error: str = ""
    save_error: str = ""

    @rx.var
    def rows(self) -> list[BuilderRow]:
        out: list[BuilderRow] = []

        def walk(node: dict[str, Any], path: str, depth: int) -> None:
            if "rules" in node:
                out.append(
                    BuilderRow(path=path, depth=depth, is_group=True, op=node.get("op", "and"))
                )
                for index, child in enumerate(node["rules"]):
                    walk(child, f"{path}.{index}" if path else str(index), depth + 1)
                return
            spec = self._field_specs.get(node.get("field", ""), {})
            operators = [[k, v] for k, v in spec.get("operators", {}).items()]
            value = node.get("value", "")
            out.append(
                BuilderRow(
                    path=path,
                    depth=depth,
                    is_group=False,
                    field=node.get("field", ""),
                    operator=node.get("operator", ""),
                    value=", ".join(map(str, value)) if isinstance(value, list) else str(value),
                    operators=operators,
                    needs_value=node.get("operator", "") not in NO_VALUE,
                    choices=spec.get("choices", []),
                )
            )

        walk(self.tree, "", 0)
        return out

    @service_event
    def load(self, actor: Actor):
        self.segments = segment_service.list_segments(actor)
        options = segment_service.field_options(actor)
        self._field_specs = {o["key"]: o for o in options}
        self.fields = [[o["key"], o["label"]] for o in options]
        return SegmentsState.refresh_preview

    @service_event(error_var="preview_error")
    def refresh_preview(self, actor: Actor):
        self.preview_error, self.count, self.preview = "", 0, []
        result = segment_service.preview_rules(actor, self.tree)
        self.count = result.count
        self.preview = [[str(i), n, e] for i, n, e in result.clients]

    def _changed(self, tree: dict[str, Any]):
        self.tree = tree
        return SegmentsState.refresh_preview

    @rx.event
    def new_segment(self):
        self.editing_id, self.name, self.description, self.save_error = 0, "", "", ""
        return self._changed(copy.deepcopy(segment_service.EMPTY_RULES))

    @rx.event
    def edit_segment(self, segment_id: int):
        chosen = next((s for s in self.segments if s.id == segment_id), None)
        if chosen is None:
            return None
        self.editing_id, self.name, self.description = chosen.id, chosen.name, chosen.description
        self.save_error = ""
        return self._changed(copy.deepcopy(chosen.rules))

    @rx.event
    def add_rule(self, path: str):
        tree = copy.deepcopy(self.tree)
        first = next(iter(self._field_specs.values()), None)
        if first is None:
            return None
        operator = next(iter(first["operators"]))
        _at(tree, path)["rules"].append({"field": first["key"], "operator": operator, "value": ""})
        return self._changed(tree)

    @rx.event
    def add_group(self, path: str):
        tree = copy.deepcopy(self.tree)
        _at(tree, path)["rules"].append({"op": "or", "rules": []})
        return self._changed(tree)

    @rx.event
    def remove(self, path: str):
        if not path:
            return None
        tree = copy.deepcopy(self.tree)
        parent, index = _parent(path)
        siblings = _at(tree, parent).get("rules", [])
        if not 0 <= index < len(siblings):
            raise ValueError(f"no rule at {path!r}")
        del siblings[index]
        return self._changed(tree)

    @rx.event
    def set_op(self, path: str, op: str):
        tree = copy.deepcopy(self.tree)
        _at(tree, path)["op"] = op
        return self._changed(tree)

    @rx.event
    def set_field(self, path: str, key: str):
        spec = self._field_specs.get(key)
        if spec is None:
            return None
        tree = copy.deepcopy(self.tree)
        node = _at(tree, path)
        node.update(field=key, operator=next(iter(spec["operators"])), value="")
        return self._changed(tree)

    @rx.event
    def set_operator(self, path: str, operator: str):
        tree = copy.deepcopy(self.tree)
        _at(tree, path)["operator"] = operator
        return self._changed(tree)

    @rx.event
    def set_value(self, path: str, value: str):
        if not isinstance(path, str) or not isinstance(value, str):
            return None
        tree = copy.deepcopy(self.tree)
        try:
            node = _at(tree, path)
        except (ValueError, IndexError, KeyError, TypeError):
            return None  # a stale or forged path: nothing to change
        if "rules" in node or node.get("value") == value:
            return None
        node["value"] = value
        return self._changed(tree)

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def set_description(self, value: str):
        self.description = value

    @service_event(error_var="save_error")
    def save(self, actor: Actor):
        self.save_error = ""
        saved = segment_service.save_segment(
            actor,
            name=self.name,
            rules=self.tree,
            description=self.description,
            segment_id=self.editing_id or None,
        )
        self.editing_id = saved.id
        return [SegmentsState.load, rx.toast.success("Segment saved")]

    @service_event
    def export(self, actor: Actor, fmt: str):
        """Download the saved segment's clients, evaluated now (segments are dynamic)."""
        if not self.editing_id:
            return None
        data = client_export.export_clients(actor, fmt, segment_id=self.editing_id)
        name = "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")
        return rx.download(data=data, filename=f"segment-{name or self.editing_id}.{fmt}")

    @service_event
    def delete(self, actor: Actor):
        if not self.editing_id:
            return None
        segment_service.delete_segment(actor, self.editing_id)
        return [SegmentsState.new_segment, SegmentsState.load]


def _group_row(row: BuilderRow) -> rx.Component:
    s = SegmentsState
    return rx.hstack(
        rx.select(
            ["and", "or"],
            value=row.op,
            size="1",
            on_change=lambda v: s.set_op(row.path, v),
            aria_label="Combine with",
            disabled=~CAN_EDIT_SEGMENTS,
        ),
        rx.text(
            rx.cond(row.op == "and", "all of these match", "any of these match"),
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            CAN_EDIT_SEGMENTS,
            rx.hstack(
                rx.button(
                    rx.icon("plus", size=14),
                    "Rule",
                    size="1",
                    variant="soft",
                    on_click=s.add_rule(row.path),
                    class_name="add-rule",
                ),
                rx.button(
                    rx.icon("brackets", size=14),
                    "Group",
                    size="1",
                    variant="soft",
                    on_click=s.add_group(row.path),
                    class_name="add-group",
                ),
                rx.cond(
                    row.path != "",
                    rx.icon_button(
                        rx.icon("x", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=s.remove(row.path),
                        aria_label="Remove group",
                    ),
                ),
            ),
        ),
        align="center",
        padding_left=(row.depth * 1.5).to_string() + "rem",
        class_name="builder-group",
    )


def _rule_row(row: BuilderRow) -> rx.Component:
    s = SegmentsState
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(width="14rem"),
            rx.select.content(rx.foreach(s.fields, lambda f: rx.select.item(f[1], value=f[0]))),
            value=row.field,
            on_change=lambda v: s.set_field(row.path, v),
            size="1",
            disabled=~CAN_EDIT_SEGMENTS,
        ),
        rx.select.root(
            rx.select.trigger(width="11rem"),
            rx.select.content(
                rx.foreach(row.operators, lambda o: rx.select.item(o[1], value=o[0]))
            ),
            value=row.operator,
            on_change=lambda v: s.set_operator(row.path, v),
            size="1",
            disabled=~CAN_EDIT_SEGMENTS,
        ),
        # Controlled and debounced: the count follows a short pause in typing, Enter at once.
        rx.cond(
            row.needs_value,
            rx.input(
                value=row.value,
                size="1",
                width="14rem",
                key=row.path + row.field,
                placeholder=rx.cond(row.choices.length() > 0, row.choices.join(", "), "value"),
                on_change=lambda v: s.set_value(row.path, v),
                debounce_timeout=500,
                read_only=~CAN_EDIT_SEGMENTS,
                class_name="rule-value",
            ),
        ),
        rx.cond(
            CAN_EDIT_SEGMENTS,
            rx.icon_button(
                rx.icon("x", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                on_click=s.remove(row.path),
                aria_label="Remove rule",
            ),
        ),
        align="center",
        padding_left=(row.depth * 1.5).to_string() + "rem",
        class_name="builder-rule",
    )


def _builder() -> rx.Component:
    s = SegmentsState
    return rx.vstack(
        rx.hstack(
            labelled(
                "Segment name",
                rx.input(
                    value=s.name,
                    on_change=s.set_name,
                    id="segment-name",
                    read_only=~CAN_EDIT_SEGMENTS,
                ),
            ),
            labelled(
                "Description",
                rx.input(
                    value=s.description,
                    on_change=s.set_description,
                    width="100%",
                    read_only=~CAN_EDIT_SEGMENTS,
                ),
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.foreach(s.rows, lambda r: rx.cond(r.is_group, _group_row(r), _rule_row(r))),
                spacing="2",
            ),
            width="100%",
            id="rule-builder",
        ),
        form_error(s.preview_error),
        form_error(s.save_error),
        rx.hstack(
            rx.heading(s.count.to_string() + " matching clients", size="4", id="segment-count"),
            rx.spacer(),
            rx.cond(
                s.editing_id != 0,
                rx.hstack(
                    rx.button(
                        rx.icon("download"),
                        "CSV",
                        variant="soft",
                        id="segment-export-csv",
                        on_click=s.export("csv"),
                    ),
                    rx.button(
                        rx.icon("download"), "XLSX", variant="soft", on_click=s.export("xlsx")
                    ),
                ),
            ),
            rx.cond(
                CAN_EDIT_SEGMENTS & (s.editing_id != 0),
                rx.button("Delete", color_scheme="red", variant="soft", on_click=s.delete),
            ),
            rx.cond(
                CAN_EDIT_SEGMENTS, rx.button("Save segment", on_click=s.save, id="save-segment")
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            s.preview.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Client"), rx.table.column_header_cell("Email")
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        s.preview,
                        lambda c: rx.table.row(
                            rx.table.cell(rx.link(c[1], href=routes.client(c[0]))),
                            rx.table.cell(c[2]),
                        ),
                    )
                ),
                width="100%",
                variant="surface",
                id="segment-preview",
            ),
            empty_state(
                "filter-x",
                "No client matches these rules",
                "Loosen a rule or switch a group to OR.",
            ),
        ),
        width="100%",
        spacing="3",
    )


@signed_in_page(routes.SEGMENTS, "Segments", Action.VIEW_SEGMENTS, on_load=[SegmentsState.load])
def segments_page() -> rx.Component:
    s = SegmentsState
    return rx.hstack(
        rx.vstack(
            rx.cond(
                CAN_EDIT_SEGMENTS,
                rx.button(rx.icon("plus"), "New segment", width="100%", on_click=s.new_segment),
            ),
            rx.cond(
                s.segments.length() > 0,
                rx.foreach(
                    s.segments,
                    lambda seg: rx.button(
                        seg.name,
                        variant=rx.cond(s.editing_id == seg.id, "solid", "soft"),
                        width="100%",
                        justify="start",
                        on_click=s.edit_segment(seg.id),
                    ),
                ),
                rx.text("No saved segments yet.", size="2", color_scheme="gray"),
            ),
            width="16rem",
            spacing="2",
        ),
        _builder(),
        align="start",
        spacing="5",
        width="100%",
    )

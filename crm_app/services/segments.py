"""Segments: client rule trees saved as JSON and evaluated whenever they are used.

A rule tree is `{"op": "and"|"or", "rules": [rule | group, ...]}` with rules
`{"field": ..., "operator": ..., "value": ...}`. It reaches SQL only through `compile_rules`:
the field must be in the whitelist (`client_fields.FIELDS` or a defined custom field), the
operator must be one the field's kind allows, and the value is parsed to a typed Python value
that SQLAlchemy sends as a bound parameter. Nothing a user types becomes SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, exists, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.client_fields import (
    CUSTOM_PREFIX,
    MAX_TEXT,
    FieldSpec,
    custom_field_definitions,
    field_spec,
    may_see_finances,
    parse_choice,
    parse_date,
    parse_int,
    parse_number,
    parse_tags,
)
from crm_app.services.currency_rates import reporting_currency
from crm_app.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from models.base import utcnow
from models.client import Client
from models.segment import Segment
from models.ticket import OPEN_STATUSES, Ticket

MAX_DEPTH = 4
MAX_RULES = 40
MAX_LIST = 100

OPERATORS: dict[str, dict[str, str]] = {
    "text": {
        "eq": "is",
        "neq": "is not",
        "contains": "contains",
        "not_contains": "does not contain",
        "starts_with": "starts with",
        "is_empty": "is empty",
        "is_not_empty": "is not empty",
    },
    "enum": {"eq": "is", "neq": "is not", "in": "is any of", "not_in": "is none of"},
    "number": {
        "eq": "=",
        "neq": "≠",
        "gt": ">",
        "gte": "≥",
        "lt": "<",
        "lte": "≤",
        "between": "between",
        "is_empty": "is empty",
        "is_not_empty": "is not empty",
    },
    "date": {
        "eq": "on",
        "before": "before",
        "after": "after",
        "between": "between",
        "in_last_days": "in the last N days",
        "in_next_days": "in the next N days",
        "is_empty": "is empty",
        "is_not_empty": "is not empty",
    },
    "bool": {"is_true": "is yes", "is_false": "is no"},
    "tags": {
        "has": "has tag",
        "has_any": "has any of",
        "has_all": "has all of",
        "has_none": "has none of",
    },
    "user": {"eq": "is", "neq": "is not", "is_empty": "is nobody", "is_not_empty": "is someone"},
    "ticket_open": {"is_true": "yes", "is_false": "no"},
    "ticket_days": {"within": "yes, within N days", "not_within": "no, none within N days"},
}
OPERATORS["datetime"] = OPERATORS["date"]
NO_VALUE = {"is_empty", "is_not_empty", "is_true", "is_false"}
EMPTY_RULES: dict[str, Any] = {"op": "and", "rules": []}


# --- validation and compilation ----------------------------------------------------------------


def _is_group(node: Any) -> bool:
    return isinstance(node, dict) and "rules" in node


def normalize_rules(rules: Any) -> dict[str, Any]:
    """Check the shape of a rule tree and return a clean copy holding only known keys."""
    counter = [0]

    def walk(node: Any, depth: int) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise InvalidInput("A segment rule must be an object.")
        if _is_group(node):
            if depth > MAX_DEPTH:
                raise InvalidInput(f"Groups may nest at most {MAX_DEPTH} deep.")
            op = node.get("op", "and")
            if op not in ("and", "or"):
                raise InvalidInput("A group combines its rules with AND or OR.")
            children = node.get("rules")
            if not isinstance(children, list):
                raise InvalidInput("A group's rules must be a list.")
            return {"op": op, "rules": [walk(child, depth + 1) for child in children]}
        counter[0] += 1
        if counter[0] > MAX_RULES:
            raise InvalidInput(f"A segment may have at most {MAX_RULES} rules.")
        field, operator = node.get("field"), node.get("operator")
        if not isinstance(field, str) or not isinstance(operator, str):
            raise InvalidInput("Every rule needs a field and an operator.")
        value = node.get("value", "")
        if not isinstance(value, str | int | float | bool | list) or value is None:
            raise InvalidInput("A rule's value must be text, a number or a list.")
        if isinstance(value, list) and (
            len(value) > MAX_LIST or not all(isinstance(v, str | int | float) for v in value)
        ):
            raise InvalidInput(f"A list of values holds at most {MAX_LIST} plain values.")
        if isinstance(value, str) and len(value) > MAX_TEXT * 5:
            raise InvalidInput("A rule's value is too long.")
        return {"field": field, "operator": operator, "value": value}

    if rules in (None, {}, ""):
        return dict(EMPTY_RULES)
    return walk(rules, 1)


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    items = [str(v).strip() for v in items if str(v).strip()]
    if not items:
        raise InvalidInput("Give at least one value.")
    if len(items) > MAX_LIST:
        raise InvalidInput(f"At most {MAX_LIST} values.")
    return items


def _text(value: Any, label: str) -> str:
    text = str(value).strip()
    if not text:
        raise InvalidInput(f"{label}: give a value.")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{label}: at most {MAX_TEXT} characters.")
    return text


def _pair(value: Any, label: str) -> tuple[Any, Any]:
    items = value if isinstance(value, list) else str(value).replace(" and ", ",").split(",")
    items = [str(v).strip() for v in items]
    if len(items) != 2 or not all(items):
        raise InvalidInput(f"{label}: 'between' needs two values, e.g. 100000, 500000.")
    return items[0], items[1]


def _start_of(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _column(spec: FieldSpec) -> Any:
    if spec.key.startswith(CUSTOM_PREFIX):
        key = spec.key[len(CUSTOM_PREFIX) :]
        element = Client.custom_fields[key]  # the key travels as a bound parameter
        return {
            "number": element.as_float(),
            "bool": element.as_boolean(),
        }.get(spec.kind, element.as_string())
    return getattr(Client, spec.column or spec.key)


def _compile_rule(rule: dict[str, Any], definitions: dict, show_finances: bool) -> ColumnElement:
    spec = field_spec(rule["field"], definitions)
    if spec.restricted and not show_finances:
        raise PermissionDenied(f"You may not build segments on {spec.label.lower()}.")
    operator = rule["operator"]
    if operator not in OPERATORS[spec.kind]:
        raise InvalidInput(f"{spec.label}: unknown operator {operator[:40]!r}.")
    value, label, kind = rule.get("value", ""), spec.label, spec.kind

    if kind == "ticket_open":
        open_ticket = exists().where(
            col(Ticket.client_id) == col(Client.id),
            col(Ticket.status).in_([s.value for s in OPEN_STATUSES]),
        )
        return open_ticket if operator == "is_true" else not_(open_ticket)
    if kind == "ticket_days":
        days = parse_int(value, label, low=1, high=3650)
        recent = exists().where(
            col(Ticket.client_id) == col(Client.id),
            col(Ticket.created_at) >= utcnow() - timedelta(days=days),
        )
        return recent if operator == "within" else not_(recent)

    column = _column(spec)
    if operator == "is_empty":
        if kind == "text":
            return or_(column.is_(None), column == "")
        return column.is_(None)
    if operator == "is_not_empty":
        if kind == "text":
            return and_(column.is_not(None), column != "")
        return column.is_not(None)
    if kind == "bool":
        if spec.key.startswith(CUSTOM_PREFIX):
            return column.is_(True) if operator == "is_true" else column.is_not(True)
        return column.is_(operator == "is_true")

    if kind == "text":
        text = _text(value, label)
        if operator in ("eq", "neq"):
            match = func.lower(column) == text.lower()
            return match if operator == "eq" else or_(column.is_(None), not_(match))
        if operator == "starts_with":
            return column.istartswith(text, autoescape=True)
        match = column.icontains(text, autoescape=True)
        return match if operator == "contains" else or_(column.is_(None), not_(match))
    if kind == "enum":
        if operator in ("eq", "neq"):
            choice = parse_choice(value, spec.choices, label)
            return column == choice if operator == "eq" else column != choice
        choices = [parse_choice(v, spec.choices, label) for v in _values(value)]
        return column.in_(choices) if operator == "in" else column.not_in(choices)
    if kind == "user":
        user_id = parse_int(value, label, low=1, high=2**31 - 1)
        return column == user_id if operator == "eq" else or_(column.is_(None), column != user_id)
    if kind == "tags":
        tags = parse_tags(value)
        if not tags:
            raise InvalidInput("Give at least one tag.")
        # The ARRAY comparator's methods (overlap) and the column's type are not in the stubs.
        tags_column: Any = Client.tags
        array = sa.cast(sa.literal(tags, sa.ARRAY(sa.String(50))), tags_column.type)
        if operator in ("has", "has_all"):
            return tags_column.contains(array)
        if operator == "has_any":
            return tags_column.overlap(array)
        return not_(tags_column.overlap(array))
    if kind == "number":
        if operator == "between":
            lowest, highest = (parse_number(v, label) for v in _pair(value, label))
            return column.between(min(lowest, highest), max(lowest, highest))
        number: Decimal | float = parse_number(value, label)
        if spec.key.startswith(CUSTOM_PREFIX):
            number = float(number)
        return {
            "eq": column == number,
            "neq": column != number,
            "gt": column > number,
            "gte": column >= number,
            "lt": column < number,
            "lte": column <= number,
        }[operator]
    # date and datetime
    as_date = column
    if spec.key.startswith(CUSTOM_PREFIX):
        as_date = sa.func.to_date(column, "YYYY-MM-DD")  # stored as ISO text, checked on write
    today = utcnow().date()
    low: date | datetime
    high: date | datetime
    if operator in ("in_last_days", "in_next_days"):
        days = parse_int(value, label, low=0, high=36_500)
        low, high = (
            (today - timedelta(days=days), today + timedelta(days=1))
            if operator == "in_last_days"
            else (today, today + timedelta(days=days + 1))
        )
    elif operator == "between":
        first, second = (parse_date(v, label) for v in _pair(value, label))
        assert first is not None and second is not None  # _pair gives two non-empty values
        low, high = min(first, second), max(first, second) + timedelta(days=1)
    else:
        day = parse_date(value, label)
        if day is None:
            raise InvalidInput(f"{label}: give a date like 2026-03-31.")
        low, high = day, day + timedelta(days=1)
        if operator == "before":
            return as_date < (_start_of(low) if kind == "datetime" else low)
        if operator == "after":
            return as_date >= (_start_of(high) if kind == "datetime" else high)
    if kind == "datetime":
        low, high = _start_of(low), _start_of(high)
    return and_(as_date >= low, as_date < high)


def compile_rules(rules: Any, definitions: dict, *, show_finances: bool) -> ColumnElement:
    """The WHERE clause of a rule tree (over `client`), built only from whitelisted parts."""
    tree = normalize_rules(rules)

    def walk(node: dict[str, Any]) -> ColumnElement:
        if _is_group(node):
            parts = [walk(child) for child in node["rules"]]
            if not parts:
                return true()
            return and_(*parts) if node["op"] == "and" else or_(*parts)
        return _compile_rule(node, definitions, show_finances)

    return walk(tree)


def live_clients_clause() -> ColumnElement:
    """Soft-deleted and merged-away clients are in no list and no segment."""
    return col(Client.deleted_at).is_(None)


def rules_mention_restricted(rules: Any) -> bool:
    from crm_app.services.client_fields import RESTRICTED_FIELDS

    def walk(node: dict[str, Any]) -> bool:
        if _is_group(node):
            return any(walk(child) for child in node["rules"])
        return node["field"] in RESTRICTED_FIELDS

    return walk(normalize_rules(rules))


# --- segment actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRow:
    id: int
    name: str
    description: str
    rules: dict[str, Any]
    updated_at: str


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    clients: list[tuple[int, str, str]]  # (id, name, email) of the first matches


def _segment_row(segment: Segment) -> SegmentRow:
    assert segment.id is not None
    return SegmentRow(
        segment.id,
        segment.name,
        segment.description,
        segment.rules,
        segment.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


def segment_where(session, actor: Actor, rules: Any) -> ColumnElement:
    """The full WHERE clause for a rule tree as `actor` may evaluate it.

    The one gate for evaluating rules: preview, count, export and a campaign's audience all
    come through here, so a rule on a finance field is refused to an actor who may not see
    client finances whichever path they take (saved or not, whoever saved it).
    """
    clause = compile_rules(
        rules, custom_field_definitions(session), show_finances=may_see_finances(actor)
    )
    return and_(live_clients_clause(), clause)


def preview_rules(actor: Actor, rules: Any, limit: int = 10) -> SegmentPreview:
    """The live count and the first matching clients while a segment is being edited."""
    require(actor, Action.VIEW_SEGMENTS)
    limit = min(max(limit, 0), 50)
    with session_scope() as session:
        where = segment_where(session, actor, rules)
        count: int = session.execute(
            select(func.count()).select_from(Client).where(where)
        ).scalar_one()
        rows = (
            session.execute(
                select(col(Client.id), col(Client.name), col(Client.email))
                .where(where)
                .order_by(col(Client.name), col(Client.id))
                .limit(limit)
            )
            .tuples()
            .all()
        )
        return SegmentPreview(count, [(i, n, e or "") for i, n, e in rows])


def count_segment(actor: Actor, segment_id: int) -> int:
    require(actor, Action.VIEW_SEGMENTS)
    with session_scope() as session:
        return session.execute(
            select(func.count()).select_from(
                segment_client_ids_query(session, actor, segment_id).subquery()
            )
        ).scalar_one()


def segment_client_ids_query(session, actor: Actor, segment_id: int) -> sa.Select:
    """`SELECT client.id` of a saved segment's members now, as `actor` may evaluate it: what
    exports and campaign audiences use. Refused like a preview when the rules use a field the
    actor may not see (a saved segment does not lend its author's permissions)."""
    require(actor, Action.VIEW_SEGMENTS)
    return select(col(Client.id)).where(
        segment_where(session, actor, _get(session, segment_id).rules)
    )


def segment_audience(actor: Actor, segment_id: int) -> list[int]:
    """The ids of a segment's members now, for a campaign's audience."""
    require(actor, Action.VIEW_SEGMENTS)
    with session_scope() as session:
        return list(
            session.execute(
                segment_client_ids_query(session, actor, segment_id).order_by(col(Client.id))
            ).scalars()
        )


def _get(session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound("That segment does not exist.")
    return segment


def list_segments(actor: Actor) -> list[SegmentRow]:
    require(actor, Action.VIEW_SEGMENTS)
    with session_scope() as session:
        return [
            _segment_row(s) for s in session.scalars(select(Segment).order_by(col(Segment.name)))
        ]


def get_segment(actor: Actor, segment_id: int) -> SegmentRow:
    require(actor, Action.VIEW_SEGMENTS)
    with session_scope() as session:
        return _segment_row(_get(session, segment_id))


def save_segment(
    actor: Actor, *, name: str, rules: Any, description: str = "", segment_id: int | None = None
) -> SegmentRow:
    """Create (no id) or update a segment after compiling its rules once to check them."""
    require(actor, Action.EDIT_SEGMENTS)
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise InvalidInput("A segment needs a name (up to 120 characters).")
    description = " ".join((description or "").split())[:500]
    tree = normalize_rules(rules)
    with session_scope() as session:
        compile_rules(
            tree, custom_field_definitions(session), show_finances=may_see_finances(actor)
        )
        clash = session.execute(
            select(col(Segment.id)).where(
                func.lower(col(Segment.name)) == name.lower(), col(Segment.id) != (segment_id or 0)
            )
        ).first()
        if clash:
            raise Conflict(f"A segment named {name!r} exists already.")
        if segment_id is None:
            segment = Segment(
                name=name, description=description, rules=tree, created_by_id=actor.user_id
            )
            session.add(segment)
            session.flush()
            audit.record(
                session,
                actor,
                "segment.created",
                "segment",
                segment.id,
                {"name": [None, name], "rules": [None, tree]},
            )
        else:
            segment = _get(session, segment_id)
            if rules_mention_restricted(segment.rules) and not may_see_finances(actor):
                raise PermissionDenied("This segment uses finance fields you may not edit.")
            before = {"name": segment.name, "rules": segment.rules}
            segment.name, segment.description, segment.rules = name, description, tree
            segment.updated_at = utcnow()
            audit.record(
                session,
                actor,
                "segment.updated",
                "segment",
                segment.id,
                {"name": [before["name"], name], "rules": [before["rules"], tree]},
            )
        session.flush()
        return _segment_row(segment)


def delete_segment(actor: Actor, segment_id: int) -> None:
    require(actor, Action.EDIT_SEGMENTS)
    with session_scope() as session:
        segment = _get(session, segment_id)
        audit.record(
            session, actor, "segment.deleted", "segment", segment.id, {"name": [segment.name, None]}
        )
        session.delete(segment)


def field_options(actor: Actor) -> list[dict[str, Any]]:
    """The fields a rule builder offers `actor`: key, label, kind, operators, choices."""
    from crm_app.services.client_fields import FIELDS

    require(actor, Action.VIEW_SEGMENTS)
    show = may_see_finances(actor)
    with session_scope() as session:
        definitions = custom_field_definitions(session)
        reporting = reporting_currency(session)
    specs = [s for s in FIELDS.values() if show or not s.restricted]
    specs += [field_spec(CUSTOM_PREFIX + key, definitions) for key in sorted(definitions)]
    return [
        {
            "key": s.key,
            "label": f"{s.label} in {reporting}" if s.column else s.label,
            "kind": s.kind,
            "operators": OPERATORS[s.kind],
            "choices": list(s.choices),
        }
        for s in specs
    ]

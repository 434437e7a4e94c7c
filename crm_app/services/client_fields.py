"""The whitelist of client fields: what each one is, how a value for it is checked, and who may
see it. Segments, list filters, sorting, import and export all go through this one table, so a
field name that is not here never reaches SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput
from models.client import (
    ClientFieldDefinition,
    ClientKind,
    CustomFieldType,
    KycStatus,
    RiskCategory,
)

MAX_TEXT = 200
MAX_MONEY = Decimal("1e16")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TAG_RE = re.compile(r"^[\w .&+-]{1,50}$")
CUSTOM_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CURRENCIES = ("USD", "EUR", "GBP", "CHF", "JPY", "SGD", "AED", "AUD", "CAD", "HKD")


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    # text | enum | number | date | datetime | bool | tags | user | ticket_open | ticket_days
    kind: str
    choices: tuple[str, ...] = ()
    # Net worth, AUM and KYC: never shown to, filtered or sorted by marketing.
    restricted: bool = False
    sortable: bool = False
    # The client column filters, sorting and segments compare, when not `key` itself: money is
    # compared in the reporting currency, never as raw numbers across currencies.
    column: str = ""


FIELDS: dict[str, FieldSpec] = {
    spec.key: spec
    for spec in (
        FieldSpec("name", "Name", "text", sortable=True),
        FieldSpec("kind", "Individual or company", "enum", tuple(k.value for k in ClientKind)),
        FieldSpec("email", "Email", "text", sortable=True),
        FieldSpec("phone", "Phone", "text"),
        FieldSpec("country", "Country (ISO code)", "text", sortable=True),
        FieldSpec("region", "Region", "text", sortable=True),
        FieldSpec(
            "risk_category",
            "Risk category",
            "enum",
            tuple(r.value for r in RiskCategory),
            sortable=True,
        ),
        FieldSpec(
            "net_worth",
            "Net worth",
            "number",
            restricted=True,
            sortable=True,
            column="net_worth_reporting",
        ),
        FieldSpec(
            "aum",
            "Assets under management",
            "number",
            restricted=True,
            sortable=True,
            column="aum_reporting",
        ),
        FieldSpec("currency", "Currency", "enum", CURRENCIES),
        FieldSpec(
            "kyc_status",
            "KYC status",
            "enum",
            tuple(k.value for k in KycStatus),
            restricted=True,
            sortable=True,
        ),
        FieldSpec("kyc_review_due", "KYC review due", "date", restricted=True, sortable=True),
        FieldSpec("owner_agent_id", "Relationship manager", "user"),
        FieldSpec("tags", "Tags", "tags"),
        FieldSpec("marketing_consent", "Marketing consent", "bool"),
        FieldSpec("marketing_consent_at", "Consent given on", "datetime"),
        FieldSpec("marketing_consent_source", "Consent source", "text"),
        FieldSpec("legal_hold", "Legal hold", "bool"),
        # False for a client made from an incoming message until an agent confirms it.
        FieldSpec("verified", "Verified", "bool"),
        FieldSpec("created_at", "Created", "datetime", sortable=True),
        FieldSpec("updated_at", "Updated", "datetime", sortable=True),
        FieldSpec("has_open_ticket", "Has an open ticket", "ticket_open"),
        FieldSpec("ticket_in_last_days", "Had a ticket in the last N days", "ticket_days"),
    )
}
RESTRICTED_FIELDS = frozenset(key for key, spec in FIELDS.items() if spec.restricted)
MONEY_FIELDS = frozenset(key for key, spec in FIELDS.items() if spec.column)
CUSTOM_PREFIX = "custom."
_CUSTOM_KIND: dict[str, str] = {
    CustomFieldType.TEXT: "text",
    CustomFieldType.NUMBER: "number",
    CustomFieldType.DATE: "date",
    CustomFieldType.BOOLEAN: "bool",
    CustomFieldType.CHOICE: "enum",
}


def may_see_finances(actor: Actor | None) -> bool:
    return can(actor, Action.VIEW_CLIENT_FINANCES)


# --- value parsing: every value a user types passes one of these --------------------------------


def clean_text(value: Any, label: str, *, max_length: int = MAX_TEXT) -> str:
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > max_length:
        raise InvalidInput(f"{label} may hold at most {max_length} characters.")
    return text


def parse_money(value: Any, label: str = "Amount") -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").replace("_", "").strip())
    except InvalidOperation:
        raise InvalidInput(f"{label} must be a number, e.g. 2500000.00") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_MONEY:
        raise InvalidInput(f"{label} must be a positive amount below 10^16.")
    return amount.quantize(Decimal("0.01"))


def parse_number(value: Any, label: str) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{label} must be a number.") from None
    if not number.is_finite() or abs(number) >= MAX_MONEY:
        raise InvalidInput(f"{label} must be a number below 10^16.")
    return number


def parse_date(value: Any, label: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InvalidInput(f"{label} must be a date like 2026-03-31.") from None


def parse_int(value: Any, label: str, *, low: int = 0, high: int = 36_500) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{label} must be a whole number.") from None
    if not low <= number <= high:
        raise InvalidInput(f"{label} must be between {low} and {high}.")
    return number


def parse_bool(value: Any, label: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "y", "1", "on"}:
        return True
    if text in {"false", "no", "n", "0", "off", ""}:
        return False
    raise InvalidInput(f"{label} must be yes or no.")


def parse_choice(value: Any, choices: tuple[str, ...], label: str) -> str:
    text = str(value if value is not None else "").strip().lower()
    lowered = {c.lower(): c for c in choices}
    if text not in lowered:
        raise InvalidInput(f"{label} must be one of: {', '.join(choices)}.")
    return lowered[text]


def parse_email(value: Any, label: str = "Email") -> str | None:
    text = str(value or "").strip().lower()
    if not text:
        return None
    if len(text) > 320 or not EMAIL_RE.match(text):
        raise InvalidInput(f"{label}: {text[:80]!r} is not a valid email address.")
    return text


def parse_country(value: Any) -> str | None:
    text = str(value or "").strip().upper()
    if not text:
        return None
    if not re.fullmatch(r"[A-Z]{2}", text) or text not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput("Country must be a two-letter ISO code such as GB, US or CH.")
    return text


def parse_phone(value: Any, country: str | None = None, label: str = "Phone") -> str | None:
    """A phone number in E.164 (+441632960961); national numbers need the client's country.

    Every number `phonenumbers` deems possible for its region is accepted: reserved drama and
    test ranges (+44 7700 900xxx) and numbers newer than the library's metadata are real
    records. `unassigned_phone_warning` says when a number is not a valid assigned one.
    """
    text = str(value or "").strip()
    if not text:
        return None
    if len(text) > 40:
        raise InvalidInput(f"{label} is too long.")
    try:
        number = phonenumbers.parse(text, country or None)
    except phonenumbers.NumberParseException:
        hint = "" if text.startswith("+") or country else " (start with + and the country code)"
        raise InvalidInput(f"{label}: {text!r} is not a phone number{hint}.") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"{label}: {text!r} has too few or too many digits for its country.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def unassigned_phone_warning(phone: str | None, label: str = "Phone") -> str | None:
    """A warning (never a refusal) for a stored E.164 number outside the assigned ranges."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return f"{label} {phone} could not be checked."
    if phonenumbers.is_valid_number(number):
        return None
    return (
        f"{label} {phone} is not a number in use in its country (a reserved or test range?)."
        " Saved anyway; check it with the client."
    )


def phone_warnings(parsed: dict[str, Any]) -> list[str]:
    """Warnings for the phone numbers among parsed fields (`phone`, `other_phones`)."""
    warnings = [unassigned_phone_warning(parsed.get("phone"))]
    warnings += [
        unassigned_phone_warning(p, "Other phone") for p in parsed.get("other_phones") or []
    ]
    return [w for w in warnings if w]


def parse_tags(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    tags: list[str] = []
    for item in items:
        tag = " ".join(str(item).split()).lower()
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise InvalidInput(
                f"Tag {tag[:60]!r} may use letters, digits, spaces and . & + - "
                "(up to 50 characters)."
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > 50:
        raise InvalidInput("A client may have at most 50 tags.")
    return tags


def _split(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return str(value or "").replace(";", ",").split(",")


def parse_email_list(value: Any) -> list[str]:
    items = _split(value)
    emails = [e for e in (parse_email(item, "Other email") for item in items) if e]
    return list(dict.fromkeys(emails))[:10]


def parse_phone_list(value: Any, country: str | None) -> list[str]:
    items = _split(value)
    phones = [p for p in (parse_phone(item, country, "Other phone") for item in items) if p]
    return list(dict.fromkeys(phones))[:10]


def parse_custom_value(definition: ClientFieldDefinition, value: Any) -> Any:
    """A custom field value as stored in JSONB: str, number (as float), ISO date, or bool."""
    label = definition.label
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match definition.field_type:
        case CustomFieldType.NUMBER:
            return float(parse_number(value, label))
        case CustomFieldType.DATE:
            parsed = parse_date(value, label)
            return parsed.isoformat() if parsed else None
        case CustomFieldType.BOOLEAN:
            return parse_bool(value, label)
        case CustomFieldType.CHOICE:
            return parse_choice(value, tuple(definition.choices), label)
        case _:
            return clean_text(value, label, max_length=500)


# --- custom field definitions (managers) -------------------------------------------------------


@dataclass(frozen=True)
class CustomFieldRow:
    key: str
    label: str
    field_type: str
    choices: list[str]


def list_custom_fields(actor: Actor) -> list[CustomFieldRow]:
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        return [
            CustomFieldRow(d.key, d.label, d.field_type, list(d.choices))
            for d in session.scalars(
                select(ClientFieldDefinition).order_by(ClientFieldDefinition.label)
            )
        ]


def custom_field_definitions(session) -> dict[str, ClientFieldDefinition]:
    return {d.key: d for d in session.execute(select(ClientFieldDefinition)).scalars()}


def define_custom_field(
    actor: Actor, *, key: str, label: str, field_type: str, choices: str | list[str] = ""
) -> CustomFieldRow:
    """A manager adds a typed field to every client record."""
    require(actor, Action.MANAGE_CLIENT_FIELDS)
    key = (key or "").strip().lower()
    if not CUSTOM_KEY_RE.match(key):
        raise InvalidInput(
            "A field key starts with a letter and uses a-z, 0-9 and _ (up to 40 characters)."
        )
    label = clean_text(label, "Label", max_length=100)
    if not label:
        raise InvalidInput("A custom field needs a label.")
    field_type = parse_choice(field_type, tuple(t.value for t in CustomFieldType), "Field type")
    options = [
        clean_text(c, "Choice", max_length=100)
        for c in (choices if isinstance(choices, list) else str(choices).split(","))
    ]
    options = [c for c in dict.fromkeys(options) if c]
    if field_type == CustomFieldType.CHOICE and not options:
        raise InvalidInput("A choice field needs at least one choice (comma separated).")
    with session_scope() as session:
        if session.execute(
            select(col(ClientFieldDefinition.id)).where(col(ClientFieldDefinition.key) == key)
        ).first():
            raise Conflict(f"A custom field with the key {key!r} exists already.")
        definition = ClientFieldDefinition(
            key=key,
            label=label,
            field_type=field_type,
            choices=options if field_type == "choice" else [],
        )
        session.add(definition)
        session.flush()
        audit.record(
            session,
            actor,
            "client_field.defined",
            "client_field_definition",
            definition.id,
            {"key": [None, key], "type": [None, field_type]},
        )
        return CustomFieldRow(key, label, field_type, list(definition.choices))


def field_spec(key: str, definitions: dict[str, ClientFieldDefinition]) -> FieldSpec:
    """The spec of a whitelisted or custom field; anything else is refused."""
    if not isinstance(key, str):
        raise InvalidInput("Unknown field.")
    if key in FIELDS:
        return FIELDS[key]
    if key.startswith(CUSTOM_PREFIX) and key[len(CUSTOM_PREFIX) :] in definitions:
        definition = definitions[key[len(CUSTOM_PREFIX) :]]
        return FieldSpec(
            key, definition.label, _CUSTOM_KIND[definition.field_type], tuple(definition.choices)
        )
    raise InvalidInput(f"Unknown field {key[:60]!r}.")

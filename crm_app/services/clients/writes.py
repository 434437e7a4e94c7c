"""Writing clients: create, edit (only the fields the user changed are validated), soft
delete and restore, notes. Each checks permission, writes and audits in one transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.client_fields import (
    CURRENCIES,
    RESTRICTED_FIELDS,
    clean_text,
    custom_field_definitions,
    may_see_finances,
    parse_bool,
    parse_choice,
    parse_country,
    parse_custom_value,
    parse_date,
    parse_email,
    parse_email_list,
    parse_money,
    parse_phone,
    parse_phone_list,
    parse_tags,
    phone_warnings,
)
from crm_app.services.clients.reads import (
    EDITABLE,
    MAX_NOTE,
    ClientDetail,
    ClientRow,
    NoteRow,
    client_detail,
    client_row,
    fmt_time,
    load_client,
    plain,
)
from crm_app.services.errors import InvalidInput
from models.base import utcnow
from models.client import Client, ClientKind, ClientNote, KycStatus, RiskCategory
from models.user import Role, User


def _check_known(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(EDITABLE) - {"custom_fields"}
    if unknown:
        raise InvalidInput(f"Unknown field: {sorted(unknown)[0][:60]}.")


def _as_form_text(value: Any) -> str:
    """A stored or submitted value as the profile form shows it, for spotting edits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return " ".join(str(value).split())


def _edited_only(client: Client, changes: dict[str, Any]) -> dict[str, Any]:
    """The submitted fields whose value differs from the stored one.

    A form submits every field; only what the user edited is validated, so a record saved
    under older rules (a phone range newer rules dislike) stays editable.
    """
    edited: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "custom_fields":
            stored = client.custom_fields or {}
            custom = (
                value
                if not isinstance(value, dict)
                else {
                    k: v
                    for k, v in value.items()
                    if _as_form_text(v) != _as_form_text(stored.get(k))
                }
            )
            if custom:
                edited[key] = custom
        elif not isinstance(value, str | int | float | bool | list | None) or (
            _as_form_text(value) != _as_form_text(getattr(client, key))
        ):
            edited[key] = value
    return edited


def _parse_changes(session: Session, client: Client, changes: dict[str, Any]) -> dict[str, Any]:
    """Every submitted field parsed to its stored type; the first bad one raises."""
    _check_known(changes)
    country = parse_country(changes["country"]) if "country" in changes else client.country
    parsed: dict[str, Any] = {}
    for key, value in changes.items():
        match key:
            case "kind":
                parsed[key] = parse_choice(value, tuple(k.value for k in ClientKind), "Client type")
            case "name":
                name = clean_text(value, "Name")
                if not name:
                    raise InvalidInput("A client needs a name (up to 200 characters).")
                parsed[key] = name
            case "email":
                parsed[key] = parse_email(value)
            case "other_emails":
                parsed[key] = parse_email_list(value)
            case "phone":
                parsed[key] = parse_phone(value, country)
            case "other_phones":
                parsed[key] = parse_phone_list(value, country)
            case "country":
                parsed[key] = country
            case "region":
                parsed[key] = clean_text(value, "Region", max_length=100) or None
            case "risk_category":
                parsed[key] = parse_choice(
                    value, tuple(r.value for r in RiskCategory), "Risk category"
                )
            case "net_worth":
                parsed[key] = parse_money(value, "Net worth")
            case "aum":
                parsed[key] = parse_money(value, "Assets under management")
            case "currency":
                parsed[key] = parse_choice(str(value).upper(), CURRENCIES, "Currency")
            case "kyc_status":
                parsed[key] = parse_choice(value, tuple(k.value for k in KycStatus), "KYC status")
            case "kyc_review_due":
                parsed[key] = parse_date(value, "KYC review date")
            case "owner_agent_id" | "portal_user_id":
                parsed[key] = _user_ref(session, key, value)
            case "tags":
                parsed[key] = parse_tags(value)
            case "marketing_consent":
                parsed[key] = parse_bool(value, "Marketing consent")
            case "marketing_consent_source":
                parsed[key] = clean_text(value, "Consent source", max_length=100) or None
            case "custom_fields":
                parsed[key] = _parse_custom(session, client, value)
    return parsed


def _user_ref(session: Session, key: str, value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        user_id = int(value)
    except (TypeError, ValueError):
        raise InvalidInput("Pick a user from the list.") from None
    user = session.get(User, user_id)
    if key == "owner_agent_id":
        if user is None or user.role not in (Role.AGENT, Role.MANAGER):
            raise InvalidInput("The relationship manager must be an agent or a manager.")
    elif user is None or user.role != Role.CLIENT:
        raise InvalidInput("The portal user must be a user with the client role.")
    return user_id


def _parse_custom(session: Session, client: Client, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise InvalidInput("Custom fields must be given as field: value.")
    definitions = custom_field_definitions(session)
    merged = dict(client.custom_fields or {})
    for key, value in values.items():
        if key not in definitions:
            raise InvalidInput(f"Unknown custom field {str(key)[:60]!r}.")
        parsed = parse_custom_value(definitions[key], value)
        if parsed is None:
            merged.pop(key, None)
        else:
            merged[key] = parsed
    return merged


def _apply(client: Client, parsed: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the parsed values; returns {field: [before, after]} of what really changed."""
    diff: dict[str, list[Any]] = {}
    for key, value in parsed.items():
        before = getattr(client, key)
        if before == value:
            continue
        diff[key] = [plain(before), plain(value)]
        setattr(client, key, value)
    if "marketing_consent" in diff:
        client.marketing_consent_at = utcnow() if client.marketing_consent else None
        diff["marketing_consent_at"] = [None, plain(client.marketing_consent_at)]
    if diff:
        client.updated_at = utcnow()
    return diff


def create_client(
    actor: Actor,
    *,
    name: str,
    email: str = "",
    phone: str = "",
    region: str = "",
    risk_category: str = RiskCategory.MODERATE,
    net_worth: str | Decimal | None = None,
    owner_agent_id: int | None = None,
    **more: Any,
) -> ClientRow:
    """Add a client; `more` takes any other editable field (country, aum, tags, …)."""
    require(actor, Action.EDIT_CLIENTS)
    fields: dict[str, Any] = {
        "name": name,
        "email": email,
        "phone": phone,
        "region": region,
        "risk_category": risk_category,
        **more,
    }
    if net_worth not in (None, ""):
        fields["net_worth"] = net_worth
    if owner_agent_id:
        fields["owner_agent_id"] = owner_agent_id
    with session_scope() as session:
        client = Client(name="", owner_agent_id=actor.user_id)
        parsed = _parse_changes(session, client, fields)
        for key, value in parsed.items():
            setattr(client, key, value)
        if client.marketing_consent:
            client.marketing_consent_at = utcnow()
        session.add(client)
        session.flush()
        audit.record(
            session,
            actor,
            "client.created",
            "client",
            client.id,
            {k: [None, plain(v)] for k, v in parsed.items() if v not in (None, [])},
        )
        return replace(
            client_row(client, may_see_finances(actor)), warnings=tuple(phone_warnings(parsed))
        )


def update_client(actor: Actor, client_id: int, changes: dict[str, Any]) -> ClientDetail:
    """Change some fields of a client; the audit entry holds each one's before and after."""
    require(actor, Action.EDIT_CLIENTS)
    if set(changes) & RESTRICTED_FIELDS:
        require(actor, Action.VIEW_CLIENT_FINANCES)
    with session_scope() as session:
        client = load_client(session, client_id)
        if client.erased_at is not None:
            raise InvalidInput("This client's personal data was erased; it cannot be edited.")
        _check_known(changes)
        parsed = _parse_changes(session, client, _edited_only(client, changes))
        diff = _apply(client, parsed)
        if diff:
            audit.record(session, actor, "client.updated", "client", client.id, diff)
        session.flush()
        session.refresh(client)  # the converted amounts the database trigger wrote
        return replace(
            client_detail(session, client, actor), warnings=tuple(phone_warnings(parsed))
        )


def delete_client(actor: Actor, client_id: int) -> None:
    """Soft delete: the client leaves every list and segment; tickets keep their link."""
    require(actor, Action.EDIT_CLIENTS)
    with session_scope() as session:
        client = load_client(session, client_id)
        client.deleted_at = utcnow()
        audit.record(
            session,
            actor,
            "client.deleted",
            "client",
            client.id,
            {"deleted_at": [None, plain(client.deleted_at)]},
        )


def restore_client(actor: Actor, client_id: int) -> None:
    require(actor, Action.EDIT_CLIENTS)
    with session_scope() as session:
        client = load_client(session, client_id, allow_deleted=True)
        if client.deleted_at is None or client.merged_into_id:
            raise InvalidInput("Only a deleted (not merged) client can be restored.")
        audit.record(
            session,
            actor,
            "client.restored",
            "client",
            client.id,
            {"deleted_at": [plain(client.deleted_at), None]},
        )
        client.deleted_at = None


# --- notes, tickets, history -------------------------------------------------------------------


def add_note(actor: Actor, client_id: int, body: str) -> NoteRow:
    require(actor, Action.EDIT_CLIENTS)
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write the note first.")
    if len(body) > MAX_NOTE:
        raise InvalidInput(f"A note may hold at most {MAX_NOTE:,} characters.")
    with session_scope() as session:
        client = load_client(session, client_id)
        assert client.id is not None
        note = ClientNote(client_id=client.id, author_id=actor.user_id, body=body)
        session.add(note)
        session.flush()
        audit.record(
            session, actor, "client.note_added", "client", client.id, {"note": [None, body[:200]]}
        )
        return NoteRow(note.id or 0, actor.name, body, fmt_time(note.created_at))

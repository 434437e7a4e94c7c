"""Request and response bodies of `/api/v1`: the services' rows as JSON, with examples.

Times are UTC. Fields a caller's role may not see (a client's net worth for marketing, a
ticket's internal notes for a client) are empty, exactly as the pages show them.
"""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints, model_validator

from models.client import RiskCategory
from models.ticket import Channel, TicketPriority, TicketStatus
from models.user import Role

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
_SOME_TEXT = r"\S"  # not only spaces


def storable_text(value: str) -> bool:
    """PostgreSQL text holds no NUL and only valid UTF-8 (no lone surrogates)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: Any) -> None:
    if isinstance(value, str) and not storable_text(value):
        raise ValueError("Text may not contain NUL characters or invalid Unicode.")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item)


class _In(BaseModel):
    """A request body: unknown fields refused, and no text the database cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _storable(self) -> Any:
        for name in type(self).model_fields:
            _check_text(getattr(self, name))
        return self


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, row: Any) -> Any:
        values = asdict(row) if hasattr(row, "__dataclass_fields__") else dict(row)
        return cls.model_validate({k: v for k, v in values.items() if k in cls.model_fields})


# --- errors -------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(
        description="not_authenticated, permission_denied, not_found, conflict, invalid_input, "
        "bad_request, method_not_allowed, rate_limited or server_error",
        examples=["not_found"],
    )
    message: str = Field(description="Fit to show a person as it is", examples=["No such user."])
    fields: list[dict[str, Any]] = Field(
        default_factory=list,
        description="For invalid_input from request validation: which fields and why",
    )


class ErrorOut(BaseModel):
    """Every error of `/api/v1` has this shape."""

    error: ErrorDetail


# --- users --------------------------------------------------------------------------------------


class UserOut(_Out):
    id: int = Field(examples=[7])
    email: str = Field(examples=["ada@firm.example"])
    name: str = Field(examples=["Ada Lovelace"])
    role: Role | None = Field(description="None until a manager assigns one", examples=["agent"])


class UserListItem(UserOut):
    is_active: bool = True


class MeOut(UserOut):
    authenticated_by: str = Field(description="token, session or ory", examples=["token"])
    token_scope: str | None = Field(
        default=None, description="read or write, for a token", examples=["write"]
    )


class RoleIn(_In):
    role: Role | None = Field(description="The new role; null takes the role away")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "agent"}]})


# --- tickets ------------------------------------------------------------------------------------


class TicketOut(_Out):
    number: int = Field(examples=[1042])
    subject: str = Field(examples=["Withdrawal request"])
    status: str = Field(examples=["open"])
    priority: str = Field(examples=["normal"])
    channel: str = Field(examples=["email"])
    sla_state: str = Field(examples=["on_track"])
    is_unread: bool
    client_name: str = Field(examples=["Ada Lovelace"])
    assignee_name: str = Field(examples=["Grace Hopper"])
    created_at: str = Field(examples=["2026-12-01 10:30 UTC"])
    updated_at: str = Field(examples=["2026-12-01 10:45 UTC"])
    version: int = Field(
        description="Send it back as expected_version to refuse a change made since",
        examples=[3],
    )


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    total: int = Field(description="Matching tickets, counted up to total_cap")
    total_capped: bool = Field(description="True when there are more than counted")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page",
        examples=["3|2026-12-01 12:00:00+00|1042"],
    )


class AttachmentOut(_Out):
    id: int
    filename: str
    size_label: str = Field(examples=["12 KB"])
    url: str = Field(
        description="Download with the same credentials", examples=["/api/attachments/5"]
    )


class MessageOut(_Out):
    id: int = Field(examples=[88])
    sender_kind: str = Field(examples=["agent"])
    author_name: str = Field(examples=["Grace Hopper"])
    body_text: str = Field(examples=["We have received your request."])
    is_internal: bool = Field(description="An internal note: never shown to the client")
    channel: str = Field(examples=["agent"])
    created_at: str = Field(examples=["2026-12-01 10:31 UTC"])
    attachments: list[AttachmentOut] = Field(default_factory=list)


class TicketDetailOut(BaseModel):
    ticket: TicketOut
    client_id: int | None
    assignee_id: int | None
    first_response_due_at: str
    resolution_due_at: str
    merged_into_number: int | None
    cc: list[str] = Field(description="Addresses copied on the ticket's mail")
    messages: list[MessageOut]


class TicketCreateIn(_In):
    subject: str = Field(min_length=1, max_length=300, examples=["Withdrawal request"])
    body: str = Field(
        min_length=1, max_length=100_000, examples=["Client called about a transfer."]
    )
    client_id: int | None = Field(default=None, ge=1, le=MAX_ID, examples=[12])
    priority: TicketPriority = TicketPriority.NORMAL
    channel: Channel = Field(
        default=Channel.AGENT,
        description="phone and in_person log the first message as the client's words",
    )
    assignee_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="null: round-robin when on, else the creator"
    )
    cc: list[Annotated[str, Field(max_length=320)]] = Field(
        default_factory=list,
        max_length=50,
        description="An email ticket's CC list: plain addresses, copied on every mail sent",
        examples=[["spouse@example.com"]],
    )


class TicketUpdateIn(_In):
    """Only the fields sent are changed; `assignee_id: null` unassigns."""

    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="The version you last saw: a change made since is refused (409)",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "pending", "expected_version": 3}]},
    )


class ReplyIn(_In):
    body: str = Field(
        min_length=1, max_length=100_000, pattern=_SOME_TEXT, examples=["Your transfer left today."]
    )
    status: TicketStatus | None = Field(default=None, description="Staff: set with the reply")
    priority: TicketPriority | None = None
    expected_version: int | None = Field(default=None, ge=1, le=MAX_ID)


class NoteIn(_In):
    body: str = Field(
        min_length=1, max_length=100_000, pattern=_SOME_TEXT, examples=["Checked with compliance."]
    )


# --- clients ------------------------------------------------------------------------------------


class ClientOut(_Out):
    id: int = Field(examples=[12])
    name: str = Field(examples=["Ada Lovelace"])
    email: str = Field(examples=["ada@x.example"])
    phone: str = Field(examples=["+44 20 7946 0000"])
    region: str = Field(examples=["London"])
    risk_category: str = Field(examples=["moderate"])
    net_worth: str = Field(description="Empty for roles that may not see finances")
    kind: str = Field(examples=["individual"])
    country: str = Field(examples=["GB"])
    aum: str
    kyc_status: str
    owner_name: str
    tags: str = Field(description="Comma-separated", examples=["vip, pension"])
    created_at: str = Field(examples=["2026-11-02"])


class ClientPageOut(BaseModel):
    items: list[ClientOut]
    total: int
    page: int
    page_size: int


class ClientDetailOut(_Out):
    id: int
    kind: str
    name: str
    email: str
    other_emails: str
    phone: str
    other_phones: str
    country: str
    region: str
    risk_category: str
    net_worth: str
    aum: str
    currency: str
    kyc_status: str
    kyc_review_due: str
    owner_agent_id: str
    owner_name: str
    tags: list[str]
    custom_fields: dict[str, str]
    marketing_consent: bool
    marketing_consent_at: str
    marketing_consent_source: str
    portal_user_id: str
    legal_hold: bool
    erased: bool
    deleted: bool
    created_at: str
    updated_at: str
    finances_visible: bool
    warnings: list[str] = Field(default_factory=list)


_CHOICES = {
    "kind",
    "risk_category",
    "currency",
    "kyc_status",
    "marketing_consent",
    "custom_fields",
    "name",
}
_USER_LINKS = {"owner_agent_id", "portal_user_id"}


class ClientFieldsIn(_In):
    """Editable client fields; values are checked by the same rules as the profile form."""

    kind: str | None = Field(default=None, examples=["individual"])
    email: str | None = Field(default=None, max_length=320, examples=["ada@x.example"])
    other_emails: str | None = Field(default=None, max_length=4000)
    phone: str | None = Field(default=None, max_length=100)
    other_phones: str | None = Field(default=None, max_length=1000)
    country: str | None = Field(default=None, max_length=100, examples=["GB"])
    region: str | None = Field(default=None, max_length=200)
    risk_category: RiskCategory | None = None
    net_worth: str | None = Field(default=None, max_length=40, examples=["2500000"])
    aum: str | None = Field(default=None, max_length=40)
    currency: str | None = Field(default=None, max_length=8, examples=["GBP"])
    kyc_status: str | None = None
    kyc_review_due: str | None = Field(default=None, examples=["2027-01-31"])
    owner_agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    tags: list[str] | None = Field(default=None, max_length=50)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    marketing_consent: bool | None = None
    marketing_consent_source: str | None = Field(default=None, max_length=200)
    custom_fields: dict[str, str | int | float | bool | None] | None = None

    portal_user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The client-role user who uses the portal"
    )

    def changes(self) -> dict[str, Any]:
        """The fields sent, as the profile form sends them: null clears a text field or a
        user link, and leaves a choice or a flag as it is."""
        changes: dict[str, Any] = {}
        for key, value in self.model_dump(exclude_unset=True).items():
            if value is None:
                if key in _CHOICES:
                    continue
                value = None if key in _USER_LINKS else [] if key == "tags" else ""
            changes[key] = value.value if hasattr(value, "value") else value
        return changes


class ClientCreateIn(ClientFieldsIn):
    name: str = Field(min_length=1, max_length=200, examples=["Ada Lovelace"])


# --- segments -----------------------------------------------------------------------------------


class SegmentOut(_Out):
    id: int = Field(examples=[3])
    name: str = Field(examples=["High net worth, London"])
    description: str
    rules: dict[str, Any] = Field(
        examples=[
            {"op": "and", "rules": [{"field": "region", "operator": "eq", "value": "London"}]}
        ]
    )
    updated_at: str


# --- webhooks -----------------------------------------------------------------------------------


class WebhookEvent(StrEnum):
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    MESSAGE_ADDED = "message.added"


class WebhookIn(_In):
    url: Annotated[HttpUrl, UrlConstraints(max_length=2000)] = Field(
        examples=["https://hooks.firm.example/crm"]
    )
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(WebhookEvent),
        description="Which events to receive",
        min_length=1,
        max_length=10,
    )


class WebhookOut(_Out):
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: str


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="Shown once: verify X-CRM-Signature (HMAC-SHA256 of `timestamp.body`)"
    )


class DeliveryOut(_Out):
    id: int
    event: str
    status: str = Field(examples=["delivered"])
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str
    next_attempt_at: str

"""One client's profile: edit every field, their tickets, campaigns, notes and history."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import client_privacy, invitations, staff
from crm_app.services import clients as client_service
from crm_app.services.campaigns import results as campaign_results
from crm_app.services.campaigns.results import ReceivedCampaign
from crm_app.services.client_fields import CURRENCIES, CustomFieldRow, list_custom_fields
from crm_app.services.clients import ClientDetail, ClientTicket, HistoryEntry, NoteRow
from crm_app.services.errors import InvalidInput
from crm_app.settings import get_settings
from crm_app.state import AppState, service_event
from crm_app.timefmt import when
from models.client import ClientKind, KycStatus, RiskCategory
from pages.client_correspondence import ClientCorrespondenceState, correspondence_section

TEXT_FIELDS = (
    "name",
    "email",
    "other_emails",
    "phone",
    "other_phones",
    "country",
    "region",
    "marketing_consent_source",
)


def route_client_id(params: dict) -> int:
    raw = str(params.get("client_id", "")).strip()
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput("That is not a client.")
    return int(raw)


class ClientProfileState(AppState):
    campaigns_received: list[ReceivedCampaign] = []
    client: ClientDetail | None = None
    not_found: str = ""
    form_error: str = ""
    tags_text: str = ""
    kind: str = ClientKind.INDIVIDUAL.value
    risk: str = RiskCategory.MODERATE.value
    kyc: str = KycStatus.PENDING.value
    currency: str = "USD"
    owner: str = ""
    consent: bool = False
    staff: list[list[str]] = []
    custom_defs: list[CustomFieldRow] = []
    tickets: list[ClientTicket] = []
    notes: list[NoteRow] = []
    history: list[HistoryEntry] = []
    note_draft: str = ""
    hold_reason: str = ""
    erase_reason: str = ""
    # Bumped on every load so the form remounts with the saved values (inputs are uncontrolled).
    form_version: int = 0

    @rx.var
    def can_edit(self) -> bool:
        return self._can(Action.EDIT_CLIENTS)

    @rx.var
    def sees_finances(self) -> bool:
        return self._can(Action.VIEW_CLIENT_FINANCES)

    @rx.var
    def handles_privacy(self) -> bool:
        return self._can(Action.MANAGE_CLIENT_PRIVACY)

    @rx.var
    def sees_tickets(self) -> bool:
        return self._can(Action.VIEW_TICKETS)

    def _not_found(self, message: str) -> None:
        self.client, self.not_found = None, message

    @service_event(on_error="_not_found")
    def load(self, actor: Actor):
        self.not_found = self.form_error = ""
        client_id = route_client_id(self.router.page.params)
        detail = client_service.get_client(actor, client_id)
        self.notes = client_service.list_notes(actor, client_id)
        self.history = client_service.client_history(actor, client_id)
        self.custom_defs = list_custom_fields(actor)
        self.tickets = client_service.client_tickets(actor, client_id) if self.sees_tickets else []
        self.campaigns_received = campaign_results.campaigns_of_client(actor, client_id)
        owners = staff.staff_choices(actor, needs=Action.VIEW_CLIENTS)
        self.staff = [[str(i), n] for i, n in owners]
        self._show(detail)

    def _show(self, detail: ClientDetail) -> None:
        self.client = detail
        self.form_version += 1
        self.tags_text = ", ".join(detail.tags)
        self.kind, self.risk, self.currency = detail.kind, detail.risk_category, detail.currency
        self.kyc = detail.kyc_status or KycStatus.PENDING.value
        self.owner = detail.owner_agent_id
        self.consent = detail.marketing_consent

    @rx.event
    def set_kind(self, value: str):
        self.kind = value

    @rx.event
    def set_risk(self, value: str):
        self.risk = value

    @rx.event
    def set_kyc(self, value: str):
        self.kyc = value

    @rx.event
    def set_currency(self, value: str):
        self.currency = value

    @rx.event
    def set_owner(self, value: str):
        self.owner = value

    @rx.event
    def set_consent(self, value: bool):
        self.consent = value

    @rx.event
    def set_note_draft(self, value: str):
        self.note_draft = value

    @service_event(error_var="form_error")
    def save(self, actor: Actor, form: dict):
        if self.client is None:
            return None
        self.form_error = ""
        changes = {key: form.get(key, "") for key in TEXT_FIELDS}
        changes.update(
            kind=self.kind,
            risk_category=self.risk,
            tags=form.get("tags", ""),
            owner_agent_id=self.owner or None,
            marketing_consent=self.consent,
            currency=self.currency,
        )
        if self.sees_finances:
            changes.update(
                net_worth=form.get("net_worth", ""),
                aum=form.get("aum", ""),
                kyc_status=self.kyc,
                kyc_review_due=form.get("kyc_review_due", ""),
            )
        custom = {d.key: form.get(f"custom_{d.key}", "") for d in self.custom_defs}
        if custom:
            changes["custom_fields"] = custom
        saved = client_service.update_client(actor, self.client.id, changes)
        return [
            ClientProfileState.load,
            rx.toast.success("Saved"),
            *[rx.toast.warning(w, duration=10_000) for w in saved.warnings],
        ]

    @service_event
    def add_note(self, actor: Actor):
        if self.client is None:
            return None
        client_service.add_note(actor, self.client.id, self.note_draft)
        self.note_draft = ""
        return ClientProfileState.load

    @rx.event
    def set_hold_reason(self, value: str):
        self.hold_reason = value

    @rx.event
    def set_erase_reason(self, value: str):
        self.erase_reason = value

    @service_event
    def export_data(self, actor: Actor):
        if self.client is None:
            return None
        data = client_privacy.export_client_json(actor, self.client.id)
        return [
            rx.download(data=data, filename=f"client-{self.client.id}.json"),
            ClientProfileState.load,
        ]

    @service_event
    def toggle_legal_hold(self, actor: Actor):
        if self.client is None:
            return None
        client_privacy.set_legal_hold(
            actor, self.client.id, not self.client.legal_hold, self.hold_reason
        )
        self.hold_reason = ""
        return ClientProfileState.load

    @service_event
    def erase(self, actor: Actor):
        if self.client is None:
            return None
        client_privacy.erase_client(actor, self.client.id, self.erase_reason)
        self.erase_reason = ""
        return [ClientProfileState.load, rx.toast.success("Personal data erased")]

    @service_event
    def invite_to_portal(self, actor: Actor):
        """Mail the client a one-time link to open their portal account."""
        if self.client is None:
            return None
        sent = invitations.invite_client(actor, self.client.id)
        return rx.toast.success(
            f"Invitation sent to {sent.email} (valid until {sent.expires_at})",
            position="top-center",
        )

    @service_event
    def delete(self, actor: Actor):
        if self.client is None:
            return None
        client_service.delete_client(actor, self.client.id)
        return [rx.toast.success("Client deleted"), rx.redirect(routes.CLIENTS)]


def _input(label: str, name: str, value, **props) -> rx.Component:
    return field(
        label,
        rx.input(
            name=name,
            default_value=value,
            id=f"profile-{name}",
            width="100%",
            read_only=~ClientProfileState.can_edit,
            **props,
        ),
    )


def _details_form(client: ClientDetail) -> rx.Component:
    s = ClientProfileState
    finance = rx.cond(
        s.sees_finances,
        rx.grid(
            rx.vstack(
                _input("Net worth", "net_worth", client.net_worth, input_mode="decimal"),
                rx.text(
                    client.net_worth_converted,
                    size="1",
                    color_scheme="gray",
                    id="net-worth-converted",
                ),
                spacing="1",
            ),
            rx.vstack(
                _input("Assets under management", "aum", client.aum, input_mode="decimal"),
                rx.text(client.aum_converted, size="1", color_scheme="gray"),
                spacing="1",
            ),
            field(
                "KYC status",
                rx.select([k.value for k in KycStatus], value=s.kyc, on_change=s.set_kyc),
            ),
            _input("KYC review due", "kyc_review_due", client.kyc_review_due, type="date"),
            columns="4",
            spacing="3",
            width="100%",
        ),
    )
    return rx.form(
        rx.vstack(
            rx.grid(
                field(
                    "Type",
                    rx.select(
                        [k.value for k in ClientKind],
                        value=s.kind,
                        on_change=s.set_kind,
                        disabled=~s.can_edit,
                    ),
                ),
                _input("Name", "name", client.name, required=True),
                _input("Email", "email", client.email, type="email"),
                _input("Other emails (comma separated)", "other_emails", client.other_emails),
                _input("Phone (international, or set the country)", "phone", client.phone),
                _input("Other phones", "other_phones", client.other_phones),
                _input("Country (ISO code)", "country", client.country, max_length=2),
                _input("Region", "region", client.region),
                field(
                    "Risk category",
                    rx.select(
                        [r.value for r in RiskCategory],
                        value=s.risk,
                        on_change=s.set_risk,
                        disabled=~s.can_edit,
                    ),
                ),
                field(
                    "Currency",
                    rx.select(
                        list(CURRENCIES),
                        value=s.currency,
                        on_change=s.set_currency,
                        disabled=~s.can_edit,
                    ),
                ),
                field(
                    "Relationship manager",
                    rx.select.root(
                        rx.select.trigger(placeholder="Nobody"),
                        rx.select.content(
                            rx.foreach(s.staff, lambda o: rx.select.item(o[1], value=o[0]))
                        ),
                        value=s.owner,
                        on_change=s.set_owner,
                        disabled=~s.can_edit,
                    ),
                ),
                _input("Tags (comma separated)", "tags", s.tags_text),
                columns="3",
                spacing="3",
                width="100%",
            ),
            finance,
            rx.hstack(
                rx.switch(
                    checked=s.consent,
                    on_change=s.set_consent,
                    disabled=~s.can_edit,
                    aria_label="Marketing consent",
                ),
                rx.text("Marketing consent", size="2"),
                when(client.marketing_consent_at),
                _input(
                    "Consent source", "marketing_consent_source", client.marketing_consent_source
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                s.custom_defs.length() > 0,
                rx.grid(
                    rx.foreach(
                        s.custom_defs,
                        lambda d: field(
                            d.label,
                            rx.input(
                                name="custom_" + d.key,
                                default_value=client.custom_fields.get(d.key, ""),
                                placeholder=d.field_type,
                                read_only=~s.can_edit,
                            ),
                        ),
                    ),
                    columns="3",
                    spacing="3",
                    width="100%",
                ),
            ),
            form_error(s.form_error),
            rx.cond(
                s.can_edit,
                rx.hstack(
                    rx.button(
                        "Delete client",
                        type="button",
                        color_scheme="red",
                        variant="soft",
                        on_click=s.delete,
                    ),
                    rx.spacer(),
                    rx.button("Save changes", type="submit", id="save-client"),
                    width="100%",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=s.save,
        key=s.form_version.to_string(),  # fresh defaults after each save
    )


def _tickets() -> rx.Component:
    return rx.cond(
        ClientProfileState.tickets.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("#", "Subject", "Status", "Priority", "Created")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    ClientProfileState.tickets,
                    lambda t: rx.table.row(
                        rx.table.cell(
                            rx.link("#", t.number.to_string(), href=routes.ticket(t.number))
                        ),
                        rx.table.cell(t.subject),
                        rx.table.cell(rx.badge(t.status)),
                        rx.table.cell(t.priority),
                        rx.table.cell(when(t.created_at)),
                    ),
                )
            ),
            width="100%",
            variant="surface",
        ),
        empty_state("inbox", "No tickets", "This client has not contacted the firm yet."),
    )


def _notes() -> rx.Component:
    s = ClientProfileState
    return rx.vstack(
        rx.cond(
            s.can_edit,
            rx.hstack(
                rx.text_area(
                    value=s.note_draft,
                    on_change=s.set_note_draft,
                    width="100%",
                    placeholder="Add a note…",
                    id="note-draft",
                ),
                rx.button("Add note", on_click=s.add_note, id="add-note"),
                width="100%",
                align="end",
            ),
        ),
        rx.cond(
            s.notes.length() > 0,
            rx.foreach(
                s.notes,
                lambda n: rx.card(
                    rx.hstack(
                        rx.text(n.author, " ·", size="1", color_scheme="gray"),
                        when(n.created_at),
                        spacing="1",
                    ),
                    rx.text(n.body, white_space="pre-wrap"),
                    width="100%",
                ),
            ),
            empty_state("notebook-pen", "No notes yet", "Notes the team adds show here."),
        ),
        width="100%",
        spacing="3",
    )


def _history() -> rx.Component:
    return rx.cond(
        ClientProfileState.history.length() > 0,
        rx.vstack(
            rx.foreach(
                ClientProfileState.history,
                lambda h: rx.card(
                    rx.hstack(
                        when(h.at, size="2"),
                        rx.text("· ", h.who, " ·", size="2"),
                        rx.badge(h.action),
                        spacing="1",
                        align="center",
                    ),
                    rx.foreach(
                        h.changes,
                        lambda c: rx.text(rx.text.strong(c[0]), ": ", c[1], " → ", c[2], size="2"),
                    ),
                    width="100%",
                ),
            ),
            width="100%",
            id="client-history",
        ),
        empty_state("history", "No history", "Changes to this record show here."),
    )


def _privacy() -> rx.Component:
    s = ClientProfileState
    return rx.vstack(
        rx.hstack(
            rx.button(
                rx.icon("file-json"),
                "Export all data (JSON)",
                variant="soft",
                on_click=s.export_data,
                id="export-client-data",
            ),
            rx.text(
                "Everything held about this client, for an access request.",
                size="2",
                color_scheme="gray",
            ),
            align="center",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Legal hold", size="3"),
                rx.cond(
                    s.client.legal_hold,
                    rx.text("On hold: ", s.client.legal_hold_reason, id="legal-hold-status"),
                    rx.text("Not on hold.", color_scheme="gray", id="legal-hold-status"),
                ),
                rx.hstack(
                    rx.cond(
                        ~s.client.legal_hold,
                        rx.input(
                            value=s.hold_reason,
                            on_change=s.set_hold_reason,
                            width="24rem",
                            placeholder="Reason (case, regulator, …)",
                            id="hold-reason",
                        ),
                    ),
                    rx.button(
                        rx.cond(s.client.legal_hold, "Lift the hold", "Put on legal hold"),
                        variant="soft",
                        color_scheme="amber",
                        on_click=s.toggle_legal_hold,
                        id="toggle-hold",
                    ),
                ),
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Erase personal data", size="3"),
                rx.text(
                    "Replaces the name, contact data, finances, notes and ticket texts; tickets "
                    "and the audit trail keep their shape. This cannot be undone.",
                    size="2",
                ),
                rx.cond(
                    s.client.erased,
                    rx.badge("erased", color_scheme="red"),
                    confirm_dialog(
                        rx.button(
                            "Erase…",
                            color_scheme="red",
                            disabled=s.client.legal_hold,
                            id="erase-client",
                        ),
                        "Erase this client's personal data?",
                        rx.input(
                            value=s.erase_reason,
                            on_change=s.set_erase_reason,
                            placeholder="Reason (e.g. erasure request of 2026-11-20)",
                        ),
                        confirm_label="Erase",
                        on_confirm=s.erase,
                        confirm_id="confirm-erase",
                    ),
                ),
            ),
            width="100%",
        ),
        width="100%",
        spacing="3",
    )


def _portal_access() -> rx.Component:
    """Portal status, or the invitation (a one-time link mailed to the client's address)."""
    s = ClientProfileState
    return rx.cond(
        s.client.portal_user_email != "",
        rx.badge("portal: ", s.client.portal_user_email, color_scheme="green", id="portal-badge"),
        rx.cond(
            s.can_edit & (s.client.email != "") & ~s.client.deleted & ~s.client.erased,
            confirm_dialog(
                rx.button(
                    rx.icon("send", size=14),
                    "Invite to portal",
                    size="1",
                    variant="soft",
                    id="invite-portal",
                ),
                "Invite to the client portal",
                "We email ",
                s.client.email,
                " a link to choose a password. It works once and expires in "
                f"{get_settings().invite_hours:g} hours; "
                "an earlier invitation stops working.",
                confirm_label="Send invitation",
                on_confirm=ClientProfileState.invite_to_portal,
                color_scheme="blue",
                confirm_id="confirm-invite",
            ),
        ),
    )


def _campaigns_received() -> rx.Component:
    s = ClientProfileState
    return rx.cond(
        s.campaigns_received.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h) for h in ("Campaign", "Sent", "Activity")]
                )
            ),
            rx.table.body(
                rx.foreach(
                    s.campaigns_received,
                    lambda c: rx.table.row(
                        rx.table.cell(
                            rx.cond(
                                AppState.may(Action.MANAGE_CAMPAIGNS),
                                rx.link(c.name, href=routes.campaign(c.campaign_id)),
                                rx.text(c.name),
                            )
                        ),
                        rx.table.cell(c.sent_at),
                        rx.table.cell(c.activity),
                    ),
                )
            ),
            width="100%",
            id="client-campaigns",
        ),
        empty_state(
            "megaphone",
            "No campaigns yet",
            "Campaigns this client receives will be listed here.",
        ),
    )


@signed_in_page(
    routes.CLIENT,
    "Client",
    Action.VIEW_CLIENTS,
    on_load=[ClientProfileState.load, ClientCorrespondenceState.load],
)
def client_profile_page() -> rx.Component:
    s = ClientProfileState
    return rx.cond(
        s.client,
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left"), href=routes.CLIENTS, aria_label="Back"),
                rx.heading(s.client.name, size="6", id="client-heading"),
                rx.badge(s.client.kind),
                rx.badge(s.client.risk_category, color_scheme="blue"),
                rx.cond(s.client.legal_hold, rx.badge("legal hold", color_scheme="amber")),
                rx.cond(s.client.deleted, rx.badge("deleted", color_scheme="red")),
                _portal_access(),
                rx.spacer(),
                rx.hstack(
                    rx.text("Created", size="1", color_scheme="gray"),
                    when(s.client.created_at),
                    rx.text("· updated", size="1", color_scheme="gray"),
                    when(s.client.updated_at),
                    spacing="1",
                ),
                align="center",
                width="100%",
            ),
            rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger("Details", value="details"),
                    rx.cond(s.sees_tickets, rx.tabs.trigger("Tickets", value="tickets")),
                    rx.cond(
                        s.sees_tickets,
                        rx.tabs.trigger("Correspondence", value="correspondence"),
                    ),
                    rx.tabs.trigger("Campaigns", value="campaigns"),
                    rx.tabs.trigger("Notes", value="notes"),
                    rx.tabs.trigger("History", value="history", id="history-tab"),
                    rx.cond(
                        s.handles_privacy,
                        rx.tabs.trigger("Privacy", value="privacy", id="privacy-tab"),
                    ),
                ),
                rx.tabs.content(
                    rx.box(_details_form(s.client), padding_top="1rem"), value="details"
                ),
                rx.tabs.content(rx.box(_tickets(), padding_top="1rem"), value="tickets"),
                rx.tabs.content(
                    rx.box(correspondence_section(), padding_top="1rem"), value="correspondence"
                ),
                rx.tabs.content(
                    rx.box(_campaigns_received(), padding_top="1rem"),
                    value="campaigns",
                ),
                rx.tabs.content(rx.box(_notes(), padding_top="1rem"), value="notes"),
                rx.tabs.content(rx.box(_history(), padding_top="1rem"), value="history"),
                rx.tabs.content(rx.box(_privacy(), padding_top="1rem"), value="privacy"),
                default_value="details",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            s.not_found != "",
            empty_state("user-x", "Client not found", s.not_found),
            rx.center(rx.spinner(), padding="3rem"),
        ),
    )

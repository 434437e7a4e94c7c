"""The client profile's state: the client's details and the lists beside them, with every
change saved through the client services."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.services import client_duplicates, client_privacy, invitations, staff
from crm_app.services import clients as client_service
from crm_app.services import search as search_service
from crm_app.services.campaigns import results as campaign_results
from crm_app.services.campaigns.results import ReceivedCampaign
from crm_app.services.client_fields import CustomFieldRow, list_custom_fields
from crm_app.services.clients import ClientDetail, ClientTicket, HistoryEntry, NoteRow
from crm_app.services.errors import InvalidInput
from crm_app.services.search import ClientPick
from crm_app.state import AppState, service_event
from models.client import ClientKind, KycStatus, RiskCategory

# Shown or hidden in the browser by the signed-in user's actions (see `AppState.may`).
CAN_EDIT_CLIENT = AppState.may(Action.EDIT_CLIENTS)
SEES_FINANCES = AppState.may(Action.VIEW_CLIENT_FINANCES)
HANDLES_PRIVACY = AppState.may(Action.MANAGE_CLIENT_PRIVACY)
SEES_TICKETS = AppState.may(Action.VIEW_TICKETS)

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
    # An unverified client: where it came from, and the merge dialog's search and choice.
    origin: str = ""
    merge_open: bool = False
    merge_query: str = ""
    merge_picks: list[ClientPick] = []
    merge_target_id: int = 0
    merge_target_label: str = ""

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
        self.tickets = (
            client_service.client_tickets(actor, client_id)
            if self._can(Action.VIEW_TICKETS)
            else []
        )
        self.campaigns_received = campaign_results.campaigns_of_client(actor, client_id)
        owners = staff.staff_choices(actor, needs=Action.VIEW_CLIENTS)
        self.staff = [[str(i), n] for i, n in owners]
        verified = detail.verified or detail.deleted
        self.origin = "" if verified else client_service.unverified_origin(actor, client_id)
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
        if self._can(Action.VIEW_CLIENT_FINANCES):
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

    @service_event
    def confirm(self, actor: Actor):
        """The unverified client is a real, new client: it keeps its record, loses the badge."""
        if self.client is None:
            return None
        client_service.confirm_client(actor, self.client.id)
        return [ClientProfileState.load, rx.toast.success("Client confirmed")]

    @rx.event
    def set_merge_open(self, value: bool):
        self.merge_open = value is True
        self.merge_query, self.merge_picks = "", []
        self.merge_target_id, self.merge_target_label = 0, ""

    @service_event
    def search_merge_targets(self, actor: Actor, value: str):
        """The merge dialog's search, debounced: the best few other clients by name or email."""
        self.merge_query = str(value or "")[:100]
        found = search_service.find_clients(actor, self.merge_query) if self.client else []
        self.merge_picks = [pick for pick in found if self.client and pick.id != self.client.id]

    @rx.event
    def pick_merge_target(self, client_id: int):
        """Only a client the search offered can be chosen: a forged id chooses nothing."""
        chosen = next((p for p in self.merge_picks if p.id == client_id), None)
        if chosen is None:
            return rx.toast.error("Choose a client from the list.")
        self.merge_target_id, self.merge_target_label = chosen.id, chosen.label
        return None

    @service_event
    def merge_into_target(self, actor: Actor):
        """Fold this client into the chosen one (tickets, notes and history move) and open it."""
        if self.client is None or not self.merge_target_id:
            return None
        keep_id = self.merge_target_id
        client_duplicates.merge_clients(actor, keep_id, self.client.id)
        self.merge_open = False
        return [rx.toast.success("Merged"), rx.redirect(routes.client(keep_id))]

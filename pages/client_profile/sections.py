"""The client profile's sections: details form, tickets, notes, history, privacy, portal access
and the campaigns the client received."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.services.client_fields import CURRENCIES
from crm_app.services.clients import ClientDetail
from crm_app.settings import get_settings
from crm_app.state import AppState
from crm_app.timefmt import when
from models.client import ClientKind, KycStatus, RiskCategory
from pages.client_profile.state import CAN_EDIT_CLIENT, SEES_FINANCES, ClientProfileState


def labelled_input(label: str, name: str, value, **props) -> rx.Component:
    return field(
        label,
        rx.input(
            name=name,
            default_value=value,
            id=f"profile-{name}",
            width="100%",
            read_only=~CAN_EDIT_CLIENT,
            **props,
        ),
    )


def details_form(client: ClientDetail) -> rx.Component:
    s = ClientProfileState
    finance = rx.cond(
        SEES_FINANCES,
        rx.grid(
            rx.vstack(
                labelled_input("Net worth", "net_worth", client.net_worth, input_mode="decimal"),
                rx.text(
                    client.net_worth_converted,
                    size="1",
                    color_scheme="gray",
                    id="net-worth-converted",
                ),
                spacing="1",
            ),
            rx.vstack(
                labelled_input("Assets under management", "aum", client.aum, input_mode="decimal"),
                rx.text(client.aum_converted, size="1", color_scheme="gray"),
                spacing="1",
            ),
            field(
                "KYC status",
                rx.select([k.value for k in KycStatus], value=s.kyc, on_change=s.set_kyc),
            ),
            labelled_input("KYC review due", "kyc_review_due", client.kyc_review_due, type="date"),
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
                        disabled=~CAN_EDIT_CLIENT,
                    ),
                ),
                labelled_input("Name", "name", client.name, required=True),
                labelled_input("Email", "email", client.email, type="email"),
                labelled_input(
                    "Other emails (comma separated)", "other_emails", client.other_emails
                ),
                labelled_input("Phone (international, or set the country)", "phone", client.phone),
                labelled_input("Other phones", "other_phones", client.other_phones),
                labelled_input("Country (ISO code)", "country", client.country, max_length=2),
                labelled_input("Region", "region", client.region),
                field(
                    "Risk category",
                    rx.select(
                        [r.value for r in RiskCategory],
                        value=s.risk,
                        on_change=s.set_risk,
                        disabled=~CAN_EDIT_CLIENT,
                    ),
                ),
                field(
                    "Currency",
                    rx.select(
                        list(CURRENCIES),
                        value=s.currency,
                        on_change=s.set_currency,
                        disabled=~CAN_EDIT_CLIENT,
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
                        disabled=~CAN_EDIT_CLIENT,
                    ),
                ),
                labelled_input("Tags (comma separated)", "tags", s.tags_text),
                columns="3",
                spacing="3",
                width="100%",
            ),
            finance,
            rx.hstack(
                rx.switch(
                    checked=s.consent,
                    on_change=s.set_consent,
                    disabled=~CAN_EDIT_CLIENT,
                    aria_label="Marketing consent",
                ),
                rx.text("Marketing consent", size="2"),
                when(client.marketing_consent_at),
                labelled_input(
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
                                read_only=~CAN_EDIT_CLIENT,
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
                CAN_EDIT_CLIENT,
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


def tickets_section() -> rx.Component:
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


def notes_section() -> rx.Component:
    s = ClientProfileState
    return rx.vstack(
        rx.cond(
            CAN_EDIT_CLIENT,
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


def history_section() -> rx.Component:
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


def privacy_section() -> rx.Component:
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


def portal_access_section() -> rx.Component:
    """Portal status, or the invitation (a one-time link mailed to the client's address)."""
    s = ClientProfileState
    return rx.cond(
        s.client.portal_user_email != "",
        rx.badge("portal: ", s.client.portal_user_email, color_scheme="green", id="portal-badge"),
        rx.cond(
            CAN_EDIT_CLIENT & (s.client.email != "") & ~s.client.deleted & ~s.client.erased,
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


def campaigns_section() -> rx.Component:
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

"""Email campaigns for marketing: the list, and one campaign's page — compose (autosaved),
audience with a live count and who is left out, preview per recipient, test send, send now or
later with a progress bar, and results (rates, chart, recipients, CSV)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import empty_state, form_error
from crm_app.layout import signed_in_page
from pages.campaigns.sections import (
    audience_card,
    campaign_status_badge,
    compose_card,
    preview_card,
    results_card,
    send_controls,
)
from pages.campaigns.state import CampaignListState, CampaignState


@signed_in_page(
    routes.CAMPAIGNS, "Campaigns", Action.MANAGE_CAMPAIGNS, on_load=[CampaignListState.load]
)
def campaigns_page() -> rx.Component:
    s = CampaignListState
    return rx.vstack(
        rx.hstack(
            rx.input(
                placeholder="Name of a new campaign",
                value=s.new_name,
                on_change=s.set_new_name,
                width="22rem",
                id="new-campaign-name",
            ),
            rx.button(rx.icon("plus"), "New campaign", on_click=s.create, id="new-campaign"),
        ),
        rx.cond(
            s.campaigns.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Campaign", "Status", "Subject", "Recipients", "Updated")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        s.campaigns,
                        lambda c: rx.table.row(
                            rx.table.cell(rx.link(c.name, href=routes.campaign(c.id))),
                            rx.table.cell(campaign_status_badge(c.status)),
                            rx.table.cell(c.subject),
                            rx.table.cell(c.recipients_total),
                            rx.table.cell(c.updated_at),
                        ),
                    )
                ),
                width="100%",
                variant="surface",
            ),
            empty_state("megaphone", "No campaigns yet", "Name one above to start a draft."),
        ),
        width="100%",
        spacing="4",
    )


@signed_in_page(routes.CAMPAIGN, "Campaign", Action.MANAGE_CAMPAIGNS, on_load=[CampaignState.load])
def campaign_page() -> rx.Component:
    s = CampaignState
    return rx.cond(
        s.campaign,
        rx.vstack(
            rx.hstack(
                rx.link("← Campaigns", href=routes.CAMPAIGNS, size="2"),
                rx.heading(s.campaign.name, size="6"),
                campaign_status_badge(s.campaign.status),
                rx.spacer(),
                send_controls(),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            form_error(s.error),
            rx.grid(
                rx.vstack(compose_card(), audience_card(), width="100%"),
                rx.vstack(preview_card(), width="100%"),
                columns="2",
                gap="4",
                width="100%",
            ),
            results_card(),
            width="100%",
            spacing="4",
        ),
        rx.cond(
            s.not_found != "",
            empty_state("megaphone", "Campaign not found", s.not_found),
            rx.spinner(),
        ),
    )

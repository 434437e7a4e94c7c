"""The sidebar and each user's landing page come from one registry and the permission table:
no page or state names a role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_app import routes
from crm_app.auth.permissions import ROLE_ACTIONS, Actor, can
from crm_app.navigation import NAV, home_for
from crm_app.state import AppState

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("manager", routes.TICKETS),
        ("agent", routes.TICKETS),
        ("marketing", routes.CLIENTS),
        ("client", routes.PORTAL),
        (None, routes.WAITING),
    ],
)
def test_each_user_lands_on_the_first_page_they_may_open(role: str | None, home: str) -> None:
    assert home_for(Actor(user_id=1, role=role)) == home


@pytest.mark.parametrize("role", ["manager", "agent", "marketing", "client"])
def test_the_sidebar_shows_a_user_exactly_the_pages_their_role_may_open(role: str) -> None:
    actor = Actor(user_id=1, role=role)
    # "Sent mail (local)" is listed only where the local sink runs (test_mail_out_sink).
    shown = {entry.route for entry in NAV if can(actor, entry.action)} - {routes.SENT_MAIL}
    expected = {
        "manager": {
            routes.TICKETS,
            routes.WORKSPACE,
            routes.CLIENTS,
            routes.SEGMENTS,
            routes.CAMPAIGNS,
            routes.USERS,
            routes.AI_SETTINGS,
            routes.FAQ_ADMIN,
            routes.MAILBOXES,
            routes.CHANNELS,
            routes.KNOWLEDGE,
            routes.ARCHIVES,
            routes.MY_WORK,
            routes.SLA_BOARD,
            routes.DASHBOARD,
            routes.SLA_SETTINGS,
            routes.TEAMS,
        },
        "agent": {
            routes.TICKETS,
            routes.WORKSPACE,
            routes.CLIENTS,
            routes.SEGMENTS,
            routes.KNOWLEDGE,
            routes.MY_WORK,
            routes.CLIENTS,
            routes.SEGMENTS,
        },
        "marketing": {routes.CLIENTS, routes.SEGMENTS, routes.CAMPAIGNS},
        "client": {routes.PORTAL},
    }[role]
    assert shown == expected


def test_what_a_state_may_show_is_read_from_the_permission_table() -> None:
    state_cls = AppState
    for role, actions in ROLE_ACTIONS.items():
        allowed = sorted(actions)
        assert (
            state_cls.allowed_actions.fget(  # the computed var's function
                type("Tab", (), {"user_role": role})()
            )
            == allowed
        )


ROLE_LITERAL = re.compile(
    r"""(user_role|\.role)\s*(==|!=|in)\s*\(?\s*["'](manager|agent|marketing|client)["']"""
    r"""|Role\.(MANAGER|AGENT|MARKETING|CLIENT)"""
)


def test_no_page_or_state_names_a_role() -> None:
    offenders = []
    for path in [
        *ROOT.glob("pages/**/*.py"),
        *ROOT.glob("crm_app/*.py"),
        *ROOT.glob("crm_app/components/*.py"),
    ]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ROLE_LITERAL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_links_take_plain_values_and_reflex_vars_alike() -> None:
    from pages.tickets import TicketsState

    assert routes.ticket(42) == "/tickets/42" and routes.client("7") == "/clients/7"
    linked = str(routes.ticket(TicketsState.page))
    assert linked.startswith('("/tickets/"+') and "page" in linked


def test_no_page_builds_a_route_by_hand() -> None:
    by_hand = re.compile(
        r"""["']/(tickets|clients|portal|api|settings)/["']\s*\+"""
        r"""|f["']/(tickets|clients|portal)/"""
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*ROOT.glob("pages/**/*.py"), *ROOT.glob("crm_app/components/*.py")]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if by_hand.search(line)
    ]
    assert offenders == []

"""A manager edits a chat site (name, colour, greeting, office hours, allowed origins) and turns
it off and on again, audited like its creation. Off, the widget says the chat is unavailable,
the site's key is refused and the website's loader adds no button; on again, visitors'
conversations continue. Only a manager may do any of it, whatever a page sends."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import reflex as rx
from sqlalchemy import select

from crm_app.auth.event_guard import EventRefused, checked_payload
from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from crm_app.services.messaging import web_chat
from models.audit import AuditLog
from pages.channels import ChannelsState
from tests import test_web_chat
from tests.factories import make_user

# The web chat tests' fixtures: a site (with its key), and the HTTP API.
site, web = test_web_chat.site, test_web_chat.web

MESSAGE = {"name": "Seed System", "email": "seed@clients.example", "text": "From the seed"}


@pytest.fixture
def manager(db: str) -> Actor:
    return make_user("manager")


def _update(actor: Actor, site_id: int, **changes: str) -> web_chat.SiteRow:
    """Save the site's settings form with `changes` over the fixture's values."""
    values = {
        "name": "Public website",
        "allowed_origins": "https://www.firm.example\nhttps://help.firm.example",
        "brand_name": "Firm Help",
        "colour": "#1d4ed8",
        "greeting": "Welcome!",
        "office_hours": "Mon–Fri 8–18",
        **changes,
    }
    return web_chat.update_site(actor, site_id, **values)


def _audit(action: str) -> list[AuditLog]:
    with session_scope() as session:
        return list(
            session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )


def test_a_manager_edits_a_sites_branding_and_origins_and_it_is_audited(manager, site):
    saved = _update(
        manager,
        site.site.id,
        name="Main website",
        allowed_origins="https://www.firm.example\nhttps://new.firm.example",
        brand_name="Firm Support",
        colour="#B91C1C",
        greeting="Hi there",
        office_hours="Mon–Sat 9–17",
    )

    assert (saved.name, saved.colour, saved.enabled) == ("Main website", "#b91c1c", True)
    brand = web_chat.branding(site.site.public_id)
    assert (brand.brand_name, brand.colour, brand.greeting, brand.office_hours) == (
        "Firm Support",
        "#b91c1c",
        "Hi there",
        "Mon–Sat 9–17",
    )
    assert web_chat.frame_ancestors(site.site.public_id) == [
        "https://www.firm.example",
        "https://new.firm.example",
    ]
    [entry] = _audit("chat_site.updated")
    assert entry.actor_id == manager.user_id and entry.entity_id == site.site.id
    assert entry.changes["changes"]["greeting"] == ["Welcome!", "Hi there"]
    assert entry.changes["changes"]["allowed_origins"][1] == [
        "https://www.firm.example",
        "https://new.firm.example",
    ]
    assert "enabled" not in entry.changes["changes"]  # an edit leaves the state alone


def test_bad_settings_are_refused_with_a_clear_message_and_nothing_changes(manager, site):
    with pytest.raises(InvalidInput, match="not an origin"):
        _update(manager, site.site.id, allowed_origins="javascript:alert(1)")
    with pytest.raises(InvalidInput, match="hex colour"):
        _update(manager, site.site.id, colour="red; background:url(x)")
    assert web_chat.branding(site.site.public_id).colour == "#1d4ed8"
    assert _audit("chat_site.updated") == []


def test_a_site_turned_off_says_unavailable_refuses_its_key_and_comes_back(manager, site, web):
    public_id, headers = site.site.public_id, {"X-Chat-Site-Key": site.key}
    credential = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    number = web_chat.post_message(public_id, credential, "Before the break")

    off = web_chat.set_site_enabled(manager, site.site.id, False)

    assert off.enabled is False
    brand = web_chat.branding(public_id)
    assert (brand.enabled, brand.agents_available) == (False, False)
    with pytest.raises(NotFound):
        web_chat.post_message(public_id, credential, "During the break")
    with pytest.raises(NotFound):
        web_chat.start(public_id, "Bob Visitor", "bob@visitor.example")
    assert web.post("/api/chat/messages", json=MESSAGE, headers=headers).status_code == 403
    assert web.get(f"/api/chat/loader.js?site={public_id}").status_code == 404
    # Still framed by its site, so the widget there can say it is unavailable.
    assert web_chat.frame_ancestors(public_id)[0] == "https://www.firm.example"

    web_chat.set_site_enabled(manager, site.site.id, True)

    assert web_chat.branding(public_id).enabled is True
    assert web_chat.post_message(public_id, credential, "After the break") == number
    assert web.post("/api/chat/messages", json=MESSAGE, headers=headers).status_code == 201
    assert web.get(f"/api/chat/loader.js?site={public_id}").status_code == 200
    assert [e.actor_id for e in _audit("chat_site.disabled")] == [manager.user_id]
    assert [e.actor_id for e in _audit("chat_site.enabled")] == [manager.user_id]
    web_chat.set_site_enabled(manager, site.site.id, True)  # already on: nothing to record
    assert len(_audit("chat_site.enabled")) == 1


@pytest.mark.parametrize("role", ["agent", "marketing", "client", None])
def test_only_a_manager_may_edit_or_turn_off_a_site(manager, site, role):
    someone = make_user(role)
    with pytest.raises(PermissionDenied):
        web_chat.set_site_enabled(someone, site.site.id, False)
    with pytest.raises(PermissionDenied):
        _update(someone, site.site.id, name="Hijacked", allowed_origins="https://evil.example")
    assert web_chat.branding(site.site.public_id).enabled is True
    assert web_chat.frame_ancestors(site.site.public_id) == [
        "https://www.firm.example",
        "https://help.firm.example",
    ]


def test_signed_out_or_unknown_site_changes_are_refused(manager, site):
    with pytest.raises(NotAuthenticated):
        web_chat.set_site_enabled(None, site.site.id, False)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        web_chat.set_site_enabled(manager, site.site.id + 1000, False)


def _tab(actor: Actor | None) -> SimpleNamespace:
    def require_actor() -> Actor:
        if actor is None:
            raise NotAuthenticated("Your session has ended: please sign in again.")
        return actor

    return SimpleNamespace(require_actor=require_actor, editing=None, load=lambda: None)


@pytest.mark.parametrize("role", ["agent", "client", None])
def test_the_settings_page_handlers_refuse_a_non_manager_with_a_forged_site_id(site, role):
    tab = _tab(make_user(role) if role else None)
    handler = ChannelsState.event_handlers["set_site_enabled"].fn
    answer = handler(tab, site.site.id, False)  # any id a script sends
    assert '["error"]' in str(answer)  # the refusal shown as an error toast
    assert web_chat.branding(site.site.public_id).enabled is True
    assert _audit("chat_site.disabled") == []


def test_the_settings_page_handlers_refuse_malformed_arguments(site):
    name = f"{ChannelsState.get_full_name()}.set_site_enabled"
    with pytest.raises(EventRefused):
        checked_payload(rx.State, name, {"site_id": [site.site.id], "enabled": False})
    with pytest.raises(EventRefused):
        checked_payload(rx.State, name, {"site_id": site.site.id, "enabled": "no"})
    with pytest.raises(EventRefused):
        checked_payload(
            rx.State, name, {"site_id": site.site.id, "enabled": False, "actor": "manager"}
        )

"""Page event handlers written with `service_event`: the actor is injected, never sent; a
service's refusal becomes a toast or a form message; anything else a generic error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import reflex as rx

from crm_app.auth.event_guard import EventRefused, checked_payload
from crm_app.auth.permissions import Actor
from crm_app.errors_ui import GENERIC_ERROR
from crm_app.services.errors import NotAuthenticated, PermissionDenied
from crm_app.state import service_event
from pages.users import UsersState

MANAGER = Actor(user_id=1, role="manager", name="Mia Manager", email="mia@example.com")


def _event(state: type[rx.State], name: str) -> str:
    return f"{state.get_full_name()}.{name}"


def _tab(actor: Actor | None) -> SimpleNamespace:
    def require_actor() -> Actor:
        if actor is None:
            raise NotAuthenticated("Your session has ended: please sign in again.")
        return actor

    return SimpleNamespace(require_actor=require_actor, form_error="")


def test_a_decorated_handler_still_refuses_forged_arguments() -> None:
    root = rx.State
    with pytest.raises(EventRefused):
        checked_payload(root, _event(UsersState, "assign"), {"user_id": [1], "role": "agent"})
    with pytest.raises(EventRefused):  # the injected actor is not an argument a browser sends
        checked_payload(
            root,
            _event(UsersState, "assign"),
            {"user_id": 1, "role": "agent", "actor": {"role": "manager"}},
        )
    assert checked_payload(root, _event(UsersState, "assign"), {"user_id": "3", "role": "x"}) == {
        "user_id": "3",
        "role": "x",
    }


def test_a_decorated_handler_keeps_its_signature_and_hints_without_the_actor() -> None:
    import inspect
    import typing

    fn = UsersState.event_handlers["assign"].fn
    assert list(inspect.signature(fn).parameters) == ["self", "user_id", "role"]
    hints = typing.get_type_hints(fn)
    assert hints["user_id"] is int and "actor" not in hints


def _handlers() -> dict:
    def refused(self, actor: Actor, number: int):
        raise PermissionDenied(f"{actor.name} may not touch #{number}.")

    def crashed(self, actor: Actor):
        raise RuntimeError("database on fire")

    def seen(self, actor: Actor, number: int):
        return (actor.user_id, number)

    refused.__qualname__ = "Probe.refused"
    crashed.__qualname__ = "Probe.crashed"
    seen.__qualname__ = "Probe.seen"
    return {"refused": refused, "crashed": crashed, "seen": seen}


def _run(handler, *args, error_var: str | None = None, actor: Actor | None = MANAGER):
    wrapped = service_event(handler, error_var=error_var)
    tab = _tab(actor)
    return wrapped(tab, *args), tab


def test_the_signed_in_actor_is_passed_to_the_handler() -> None:
    result, _ = _run(_handlers()["seen"], 7)
    assert result == (1, 7)


def test_a_signed_out_tab_gets_the_sign_in_again_toast_and_the_handler_does_not_run() -> None:
    result, _ = _run(_handlers()["seen"], 7, actor=None)
    assert "sign in again" in str(result)


def test_a_service_refusal_becomes_the_toast_or_the_named_form_message() -> None:
    toast, _ = _run(_handlers()["refused"], 7)
    assert "may not touch #7" in str(toast)
    result, tab = _run(_handlers()["refused"], 7, error_var="form_error")
    assert result is None and tab.form_error == "Mia Manager may not touch #7."


def test_an_unexpected_failure_is_logged_with_its_event_and_shows_no_trace(caplog) -> None:
    with caplog.at_level("ERROR", logger="crm_app.events"):
        toast, _ = _run(_handlers()["crashed"])
    assert GENERIC_ERROR in str(toast) and "on fire" not in str(toast)
    record = next(r for r in caplog.records if r.message == "event failed")
    assert record.event.endswith("Probe.crashed")

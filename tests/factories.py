"""Small helpers that make users, clients and tickets through the real services."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from crm_app.auth.permissions import Actor
from crm_app.services import accounts, clients, tickets

T = TypeVar("T")

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_user(role: str | None, name: str | None = None) -> Actor:
    n = next(_counter)
    name = name or f"{role or 'norole'} user {n}"
    email = f"{(role or 'norole')}{n}@firm.example"
    if accounts.needs_setup():
        accounts.create_first_manager("owner@firm.example", "Firm Owner", PASSWORD)
    summary = accounts.sign_up(email, name, PASSWORD)
    if summary.role != role:
        manager = first_manager()
        accounts.assign_role(manager, summary.id, role)
    return Actor(user_id=summary.id, role=role, name=name, email=email)


def log_in(
    email: str,
    password: str = PASSWORD,
    *,
    client_ip: str = "192.0.2.10",
    device_id: str | None = None,
) -> str:
    """Sign in through the service as a browser would; returns the session token."""
    return accounts.log_in(email, password, client_ip=client_ip, device_id=device_id).token


def first_manager() -> Actor:
    from sqlalchemy import select

    from crm_app.db import session_scope
    from models.user import User

    with session_scope() as session:
        user = (
            session.execute(select(User).where(User.role == "manager").order_by(User.id))
            .scalars()
            .first()
        )
        assert user is not None
        return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


def make_client(
    actor: Actor,
    name: str = "Ada Lovelace",
    portal_user: Actor | None = None,
    net_worth: str = "2500000",
) -> int:
    row = clients.create_client(
        actor, name=name, email=f"{name.split()[0].lower()}@x.example", net_worth=net_worth
    )
    if portal_user is not None:
        from crm_app.db import session_scope
        from models.client import Client

        with session_scope() as session:
            session.get(Client, row.id).portal_user_id = portal_user.user_id
    return row.id


def make_ticket(actor: Actor, client_id: int | None, subject: str = "Withdrawal request") -> int:
    return tickets.create_ticket(
        actor, client_id=client_id, subject=subject, body="Please wire 10,000 USD to my account."
    ).number


def skip_login_waits() -> None:
    """Move every sign-in throttle's wait into the past, as if the attacker had waited."""
    from datetime import timedelta

    from sqlalchemy import update

    from crm_app.db import session_scope
    from models.user import LoginThrottle

    with session_scope() as session:
        session.execute(
            update(LoginThrottle).values(
                locked_until=LoginThrottle.locked_until - timedelta(hours=1)
            )
        )


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from a test, also while Playwright's sync API keeps an event
    loop running in this thread (asyncio.run refuses then): in a thread of its own."""
    context = contextvars.copy_context()  # Reflex keeps its registries in context variables
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, coroutine).result()

"""Getting into the portal, and back in: one-time links sent by mail.

- A manager or agent invites a client from their profile (`invite_client`): the client's
  address gets a link that creates their portal account, linked to that client record.
- A client may ask for access themselves with the address on their record
  (`request_portal_access`, open when `CRM_SIGNUP_DEFAULT_ROLE=client`): the same link, so the
  account is linked only once the address proved to be theirs.
- Anyone with a password (clients and staff alike) may ask for a reset link
  (`request_password_reset`): a client's opens the portal's set-password page, a staff
  member's the staff one (`/reset-password`, from "Forgot password?" on the sign-in page).

A link is 32 random bytes; only its SHA-256 is stored. It expires (`CRM_INVITE_HOURS`,
`CRM_RESET_MINUTES`) and works once (`use_link`, under a row lock). Requests by address always
get the same answer, whether or not the address is known, so the forms reveal nobody.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session, col

from crm_app import routes
from crm_app.auth.passwords import hash_password
from crm_app.auth.permissions import SYSTEM, Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import accounts, audit, system_mail
from crm_app.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm_app.settings import get_settings
from models.base import utcnow
from models.client import Client
from models.portal import LinkPurpose, OneTimeLink
from models.user import Role, User, UserSession

LINK_GONE = (
    "This link has expired or was already used. Ask for a new one: your advisor can send a new "
    "invitation, and “Forgot password” sends a new reset link."
)
# Shown after every request by address, known or not.
REQUEST_SENT = (
    "If this address can be used, a message with a link is on its way. The link works once "
    "and expires soon."
)
RESET_IN_ORY = "Your password is kept by your firm account (Ory): reset it on Ory's recovery page."
# At most one link per address and purpose in this window (the forms cannot flood an inbox).
RESEND_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class InviteSent:
    email: str
    expires_at: str


@dataclass(frozen=True)
class LinkInfo:
    """What the set-password page shows for a valid link."""

    purpose: str
    email: str
    name: str  # a suggested name for a new account ("" for a reset)


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_url(token: str, *, staff: bool = False) -> str:
    """The set-password page a mailed link opens: the portal's, or the staff sign-in's own."""
    page = routes.RESET_PASSWORD if staff else routes.PORTAL_SET_PASSWORD
    return f"{get_settings().public_url}{page}?token={token}"


def _issue(
    session: Session,
    purpose: LinkPurpose,
    email: str,
    lifetime: timedelta,
    *,
    client_id: int | None = None,
    user_id: int | None = None,
    created_by_id: int | None = None,
) -> tuple[str, OneTimeLink]:
    """A new link; earlier unused links for the same client or user and purpose stop working."""
    now = utcnow()
    owner = (
        col(OneTimeLink.client_id) == client_id
        if client_id is not None
        else col(OneTimeLink.user_id) == user_id
    )
    session.execute(
        sa.update(OneTimeLink)
        .where(
            owner,
            col(OneTimeLink.purpose) == purpose.value,
            col(OneTimeLink.used_at).is_(None),
            col(OneTimeLink.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    link = OneTimeLink(
        token_hash=_hash(token),
        purpose=purpose.value,
        email=email,
        client_id=client_id,
        user_id=user_id,
        created_by_id=created_by_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(link)
    session.flush()
    return token, link


def _recently_sent(session: Session, purpose: LinkPurpose, owner: sa.ColumnElement) -> bool:
    return (
        session.execute(
            select(col(OneTimeLink.id)).where(
                owner,
                col(OneTimeLink.purpose) == purpose.value,
                col(OneTimeLink.created_at) > utcnow() - RESEND_AFTER,
            )
        ).first()
        is not None
    )


def _invite_mail(email: str, token: str, hours: float) -> system_mail.SystemMail:
    firm = get_settings().firm_name
    return system_mail.SystemMail(
        to=email,
        subject=f"Your {firm} client portal",
        body=f"Hello,\n\nyou can now follow your requests to {firm} online. Choose your "
        f"password here to open your portal account:\n\n{_link_url(token)}\n\nThe link works "
        f"once and expires in {hours:g} hours. If you did not expect this message, you can "
        "ignore it.\n",
    )


def invite_client(actor: Actor, client_id: int) -> InviteSent:
    """Mail the client a one-time link that creates their portal account.

    Refused for a client without an address, deleted or erased, or already linked to an
    account. Side effects: earlier invitations of this client stop working; audited
    (`client.portal_invited`); the mail is sent after the commit, in the background."""
    require(actor, Action.EDIT_CLIENTS)
    settings = get_settings()
    with session_scope() as session:
        client = session.get(Client, int(client_id), with_for_update=True)
        if client is None or client.deleted_at is not None or client.erased_at is not None:
            raise NotFound("There is no such client.")
        if client.portal_user_id is not None:
            raise Conflict("This client already has portal access.")
        email = (client.email or "").strip().lower()
        if not email:
            raise InvalidInput("Add the client's email address first: the invitation goes there.")
        lifetime = timedelta(hours=settings.invite_hours)
        token, link = _issue(
            session,
            LinkPurpose.INVITE,
            email,
            lifetime,
            client_id=client.id,
            created_by_id=actor.user_id,
        )
        audit.record(
            session,
            actor,
            "client.portal_invited",
            "client",
            client.id,
            {"email": email, "expires_at": link.expires_at.isoformat()},
        )
        sent = InviteSent(email=email, expires_at=link.expires_at.strftime("%Y-%m-%d %H:%M UTC"))
    system_mail.queue(_invite_mail(email, token, settings.invite_hours))
    return sent


def portal_sign_up_open() -> bool:
    return get_settings().signup_default_role == Role.CLIENT.value


def request_portal_access(email: str) -> None:
    """Self sign-up: when exactly one client record carries this address and has no portal
    account yet, mail it an invitation link. Nothing else happens, and the caller shows
    `REQUEST_SENT` either way. Refused unless `CRM_SIGNUP_DEFAULT_ROLE=client`."""
    if not portal_sign_up_open():
        raise PermissionDenied("Sign-up is not open: ask your advisor for an invitation.")
    email = (email or "").strip().lower()[:320]
    if "@" not in email:
        raise InvalidInput("Enter a valid email address.")
    settings = get_settings()
    token = None
    with session_scope() as session:
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(email, 0))))
        matches = (
            session.execute(
                select(col(Client.id), col(Client.portal_user_id))
                .where(
                    func.lower(col(Client.email)) == email,
                    col(Client.deleted_at).is_(None),
                    col(Client.erased_at).is_(None),
                )
                .limit(2)
            )
            .tuples()
            .all()
        )
        # Two records with one address: a person must decide which one it is.
        if len(matches) == 1 and matches[0][1] is None:
            client_id = matches[0][0]
            if not _recently_sent(
                session, LinkPurpose.SIGN_UP, col(OneTimeLink.client_id) == client_id
            ):
                token, _ = _issue(
                    session,
                    LinkPurpose.SIGN_UP,
                    email,
                    timedelta(hours=settings.invite_hours),
                    client_id=client_id,
                )
                audit.record(
                    session, SYSTEM, "client.portal_sign_up_requested", "client", client_id
                )
    if token is not None:
        system_mail.queue(_invite_mail(email, token, settings.invite_hours))


def request_password_reset(email: str) -> None:
    """Mail a reset link to an active account with a password (client or staff). The caller
    shows `REQUEST_SENT` whether or not the address has an account. Refused for every
    address alike when sign-in is through Ory only: passwords are Ory's then."""
    if get_settings().auth_mode == "ory":
        raise PermissionDenied(RESET_IN_ORY)
    email = (email or "").strip().lower()[:320]
    if "@" not in email:
        raise InvalidInput("Enter a valid email address.")
    settings = get_settings()
    token, staff = None, False
    with session_scope() as session:
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(email, 1))))
        user = session.execute(
            select(User).where(col(User.email) == email, col(User.is_active).is_(True))
        ).scalar_one_or_none()
        if (
            user is not None
            and user.password_hash
            and not _recently_sent(
                session, LinkPurpose.PASSWORD_RESET, col(OneTimeLink.user_id) == user.id
            )
        ):
            token, _ = _issue(
                session,
                LinkPurpose.PASSWORD_RESET,
                email,
                timedelta(minutes=settings.reset_minutes),
                user_id=user.id,
            )
            staff = user.role != Role.CLIENT.value
            audit.record(session, SYSTEM, "user.password_reset_requested", "user", user.id)
    if token is not None:
        system_mail.queue(
            system_mail.SystemMail(
                to=email,
                subject=f"Reset your {settings.firm_name} password",
                body=f"Hello,\n\nsomeone (hopefully you) asked to reset the password of this "
                f"account. Choose a new one here:\n\n{_link_url(token, staff=staff)}\n\nThe link "
                "works once "
                f"and expires in {settings.reset_minutes:g} minutes. If you did not ask, ignore "
                "this message: your password stays as it is.\n",
            )
        )


def _live_link(session: Session, token: str, *, lock: bool) -> OneTimeLink:
    if not token or len(token) > 200:
        raise InvalidInput(LINK_GONE)
    query = select(OneTimeLink).where(col(OneTimeLink.token_hash) == _hash(token))
    if lock:
        query = query.with_for_update()
    link = session.execute(query).scalar_one_or_none()
    if (
        link is None
        or link.used_at is not None
        or link.revoked_at is not None
        or link.expires_at <= utcnow()
    ):
        raise InvalidInput(LINK_GONE)
    return link


def describe_link(token: str) -> LinkInfo:
    """What a valid link is for (a read: nothing is written)."""
    with session_scope() as session:
        link = _live_link(session, token, lock=False)
        name = ""
        if link.client_id is not None:
            client = session.get(Client, link.client_id)
            name = client.name if client else ""
        return LinkInfo(purpose=link.purpose, email=link.email, name=name)


def use_link(token: str, password: str, name: str = "") -> str:
    """Set the password through a link; returns the account's address (to sign in with).

    An invitation or sign-up link creates the client's portal account (role client) and links
    it to the client record; a reset link sets the account's new password and ends its open
    sessions. The link never works again. Audited."""
    with session_scope() as session:
        link = _live_link(session, token, lock=True)
        now = utcnow()
        if link.purpose == LinkPurpose.PASSWORD_RESET:
            user = session.get(User, link.user_id) if link.user_id else None
            if user is None or not user.is_active:
                raise InvalidInput(LINK_GONE)
            accounts.check_new_password(password, email=user.email, name=user.name)
            user.password_hash = hash_password(password)
            session.execute(
                sa.update(UserSession)
                .where(col(UserSession.user_id) == user.id, col(UserSession.revoked_at).is_(None))
                .values(revoked_at=now)
            )
            audit.record(session, _actor(user), "user.password_reset", "user", user.id)
        else:
            user = _link_client_account(session, link, password, name)
        link.used_at = now
        return user.email


def _link_client_account(session: Session, link: OneTimeLink, password: str, name: str) -> User:
    client = session.get(Client, link.client_id, with_for_update=True) if link.client_id else None
    if client is None or client.deleted_at is not None or client.erased_at is not None:
        raise InvalidInput(LINK_GONE)
    if client.portal_user_id is not None:
        raise Conflict("This client already has portal access: sign in instead.")
    name = " ".join((name or client.name).split())[:200] or client.name
    accounts.check_new_password(password, email=link.email, name=name)
    user = session.execute(select(User).where(col(User.email) == link.email)).scalar_one_or_none()
    if user is not None and user.role not in (None, Role.CLIENT.value):
        raise Conflict(
            "This address belongs to a staff account. Ask your advisor to invite another one."
        )
    if user is None:
        user = User(email=link.email, name=name, role=Role.CLIENT.value)
        session.add(user)
    user.role = Role.CLIENT.value
    user.is_active = True
    user.password_hash = hash_password(password)
    session.flush()
    client.portal_user_id = user.id
    client.updated_at = utcnow()
    actor = _actor(user)
    audit.record(
        session,
        actor,
        "client.portal_linked",
        "client",
        client.id,
        {"portal_user": [None, user.email], "via": link.purpose},
    )
    return user

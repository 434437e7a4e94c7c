"""`/api/v1/users`: who am I, the user list and role assignment (managers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from crm_app.api.v1.callers import Caller, caller
from crm_app.api.v1.params import RowId
from crm_app.api.v1.responses import errors
from crm_app.api.v1.schemas import MeOut, RoleIn, UserListItem, UserOut
from crm_app.services import accounts
from models.user import Role

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=MeOut, responses=errors(), summary="The caller's own user")
def me(who: Annotated[Caller, Depends(caller)]) -> MeOut:
    """The local user behind the token or session (for an Ory identity seen the first time,
    created with no role, or `CRM_SIGNUP_DEFAULT_ROLE`). No other side effects."""
    actor = who.actor
    assert actor.user_id is not None
    return MeOut(
        id=actor.user_id,
        email=actor.email,
        name=actor.name,
        role=Role(actor.role) if actor.role else None,
        authenticated_by=who.authenticated_by,
        token_scope=who.token_scope,
    )


@router.get("", response_model=list[UserListItem], responses=errors(), summary="Every user")
def list_users(who: Annotated[Caller, Depends(caller)]) -> list[UserListItem]:
    """Managers only. No side effects."""
    return [UserListItem.of(user) for user in accounts.list_users(who.actor)]


@router.post(
    "/{user_id}/role",
    response_model=UserOut,
    responses=errors(404),
    summary="Set a user's role",
)
def set_role(user_id: RowId, body: RoleIn, who: Annotated[Caller, Depends(caller)]) -> UserOut:
    """Managers only; a manager cannot take away their own manager role. Side effect:
    audited (`user.role_changed`)."""
    role = body.role.value if body.role is not None else None
    return UserOut.of(accounts.assign_role(who.actor, user_id, role))

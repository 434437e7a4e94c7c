"""`/api/auth/ory/*`: the Ory sign-in, registration and recovery forms post here.

Like the built-in forms these are plain HTML posts: the answer sets the HttpOnly session
cookie and redirects, and errors go back to the form as a message the app signed. The Kratos
flows themselves run server-side through `crm_app.auth.ory` (native flows, official SDK).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from crm_app import routes
from crm_app.api.auth import back_with_error, is_https, safe_next
from crm_app.auth import ory
from crm_app.auth.cookies import cookie_attributes
from crm_app.crypto import sign
from crm_app.services.errors import ServiceError

router = APIRouter(tags=["auth"], include_in_schema=False)
_FIELD_LIMIT = 2048


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value)[:_FIELD_LIMIT] for key, value in form.items() if isinstance(value, str)}


async def _sign_in_with(
    request: Request, page: str, run: Callable[[dict[str, str]], ory.SignedIn]
) -> RedirectResponse:
    form = await _form(request)
    if not ory.enabled():
        return back_with_error(routes.LOGIN, "Ory sign-in is not configured.")
    try:
        signed_in = await run_in_threadpool(run, form)
    except ServiceError as error:
        return back_with_error(page, error.message)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    response.set_cookie(value=signed_in.token, **cookie_attributes(is_https(request)))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(routes.API_ORY_LOGIN.removeprefix("/api"))
async def ory_log_in(request: Request) -> RedirectResponse:
    """Side effects: a Kratos login; the local user is created on first sight (audited); a
    local session linked to the Kratos one is opened and its cookie set."""
    return await _sign_in_with(
        request, routes.ORY_LOGIN, lambda f: ory.sign_in(f.get("email", ""), f.get("password", ""))
    )


@router.post(routes.API_ORY_REGISTER.removeprefix("/api"))
async def ory_register(request: Request) -> RedirectResponse:
    """Side effects: a Kratos registration, then as sign-in."""
    return await _sign_in_with(
        request,
        routes.ORY_REGISTER,
        lambda f: ory.register(f.get("email", ""), f.get("name", ""), f.get("password", "")),
    )


@router.post(routes.API_ORY_RECOVERY.removeprefix("/api"))
async def ory_start_recovery(request: Request) -> RedirectResponse:
    """Side effect: Kratos mails a recovery code (the page says the same either way)."""
    form = await _form(request)
    if not ory.enabled():
        return back_with_error(routes.LOGIN, "Ory sign-in is not configured.")
    try:
        flow_id = await run_in_threadpool(ory.start_recovery, form.get("email", ""))
    except ServiceError as error:
        return back_with_error(routes.ORY_RECOVERY, error.message)
    query = urlencode(
        {"flow": flow_id, "notice": ory.RECOVERY_SENT, "sig": sign(ory.RECOVERY_SENT)}
    )
    return RedirectResponse(f"{routes.ORY_RECOVERY}?{query}", status_code=303)


@router.post(routes.API_ORY_RECOVERY_FINISH.removeprefix("/api"))
async def ory_finish_recovery(request: Request) -> RedirectResponse:
    """Side effects: the code is checked, the new password set in Kratos, then as sign-in."""
    return await _sign_in_with(
        request,
        routes.ORY_RECOVERY,
        lambda f: ory.finish_recovery(f.get("flow", ""), f.get("code", ""), f.get("password", "")),
    )

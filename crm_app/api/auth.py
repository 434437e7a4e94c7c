"""`/api/auth/*`: the sign-in, first-manager and sign-out forms post here.

These are plain HTML form posts (no script needed), so the session token only ever travels in
this response's `Set-Cookie` (HttpOnly, SameSite=Lax, Secure over HTTPS) and the next page load
opens its websocket with the cookie. A cross-site post is refused by the security middleware.
Errors go back to the form as a message the app signed, so a crafted link cannot put words on
the sign-in page.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from crm_app import routes
from crm_app.auth import ory
from crm_app.auth.cookies import SESSION_COOKIE, cookie_attributes, read_cookie
from crm_app.crypto import sign
from crm_app.services import accounts, invitations, web_sessions
from crm_app.services.errors import ServiceError
from crm_app.settings import get_settings

router = APIRouter(tags=["auth"], include_in_schema=False)
_FIELD_LIMIT = 2048


def is_https(request: Request) -> bool:
    if get_settings().trust_proxy:
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded:
            return forwarded == "https"
    return request.url.scheme == "https"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//evil.example` or `https://…` (open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return routes.HOME
    return target


def back_with_error(page: str, message: str) -> RedirectResponse:
    query = urlencode({"error": message, "sig": sign(message)})
    return RedirectResponse(f"{page}?{query}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value)[:_FIELD_LIMIT] for key, value in form.items() if isinstance(value, str)}


def client_ip(request: Request) -> str | None:
    """The caller's address; behind a trusted proxy the one that proxy appended (the last
    X-Forwarded-For entry: the ones before it are whatever the client sent)."""
    if get_settings().trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else None


def _signed_in(request: Request, result: accounts.LoginResult, target: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(target), status_code=303)
    attributes = cookie_attributes(is_https(request))
    response.set_cookie(value=result.token, **attributes)
    # The known-device cookie lets its owner in while their account is being guessed at.
    response.set_cookie(
        value=result.device_id,
        **{
            **attributes,
            "key": accounts.KNOWN_DEVICE_COOKIE,
            "max_age": result.device_max_age_seconds,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _sign_in_after(
    request: Request, page: str, create: Callable[[dict[str, str]], object] | None
) -> RedirectResponse:
    form = await _form(request)
    if not ory.builtin_allowed():
        return back_with_error(routes.ORY_LOGIN, "Sign in with your firm account.")
    try:
        if create is not None:
            await run_in_threadpool(create, form)
        device = read_cookie(request.headers.get("cookie", ""), accounts.KNOWN_DEVICE_COOKIE)
        result = await run_in_threadpool(
            lambda: accounts.log_in(
                form.get("email", ""),
                form.get("password", ""),
                client_ip=client_ip(request),
                device_id=device or None,
            )
        )
    except ServiceError as error:
        return back_with_error(page, error.message)
    return _signed_in(request, result, form.get("next", routes.HOME))


@router.post("/auth/login")
async def log_in(request: Request) -> RedirectResponse:
    """Side effect: opens a session (audited) and sets its cookie."""
    return await _sign_in_after(request, routes.LOGIN, None)


@router.post("/auth/setup")
async def set_up(request: Request) -> RedirectResponse:
    """Side effect: creates the first manager (refused once any account exists), signs in."""
    return await _sign_in_after(
        request,
        routes.SETUP,
        lambda form: accounts.create_first_manager(
            form.get("email", ""), form.get("name", ""), form.get("password", "")
        ),
    )


@router.post("/auth/set-password")
async def set_password(request: Request) -> RedirectResponse:
    """An invitation, sign-up or reset link's form: sets the password (creating and linking a
    client's portal account for an invitation), uses the link up, and signs in.
    Side effects: audited by the service; opens a session and sets its cookie."""
    form = await _form(request)
    token = form.get("token", "")
    try:
        email = await run_in_threadpool(
            invitations.use_link, token, form.get("password", ""), form.get("name", "")
        )
        result = await run_in_threadpool(
            lambda: accounts.log_in(
                email, form.get("password", ""), client_ip=client_ip(request), device_id=None
            )
        )
    except ServiceError as error:
        query = urlencode(
            {"token": token[:200], "error": error.message, "sig": sign(error.message)}
        )
        # Back to the form it came from: the staff reset page or the portal's (never a URL sent).
        page = routes.RESET_PASSWORD if form.get("form") == "staff" else routes.PORTAL_SET_PASSWORD
        return RedirectResponse(f"{page}?{query}", status_code=303)
    return _signed_in(request, result, routes.HOME)


@router.post("/auth/logout")
async def log_out(request: Request) -> RedirectResponse:
    """Side effect: revokes the session the cookie names, expires the cookie and clears the
    tab's storage (so the tab's next page gets a new state token)."""
    token = read_cookie(request.headers.get("cookie", ""), SESSION_COOKIE)
    found = await run_in_threadpool(web_sessions.session_for_token, token)
    if found is not None:
        await run_in_threadpool(ory.sign_out, found.session_id)  # a no-op for built-in sessions
        await run_in_threadpool(web_sessions.revoke, found.session_id)
    # Home, which sends a signed-out visitor on to the sign-in page (the portal's sign-out
    # asks for the portal's own sign-in page instead).
    target = (await _form(request)).get("next", "")
    response = RedirectResponse(safe_next(target) if target else routes.HOME, status_code=303)
    secure = cookie_attributes(is_https(request))["secure"]
    response.delete_cookie(
        key=SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Clear-Site-Data"] = '"storage"'
    return response

"""ASGI middleware around the whole app (pages, `/api`, the event websocket): browser security
headers on every response, and no cross-site callers.

- A request whose `Origin` is neither this site nor one of `CRM_ALLOWED_ORIGINS` is refused
  (403) when it opens the event websocket or makes a state-changing HTTP request; CORS answers
  only those origins (Reflex's CORS layer is configured from the same list in rxconfig.py).
- HTML gets a Content-Security-Policy whose `script-src` lists the SHA-256 of each inline
  script the page ships (the compiled pages carry a few), so no other inline script runs
  (injected markup cannot run script). It allows eval(), which Reflex's frontend needs for the
  events the server sends.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool

from crm_app.routes import CHAT_WIDGET_PREFIX
from crm_app.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_STATIC_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_CSP_REST = (
    "default-src 'self'; img-src 'self' data: blob:; font-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def origin_allowed(scope: Scope) -> bool:
    """No Origin (not a browser's cross-site call), this site's own, or a configured one."""
    origin = _header(scope, b"origin").strip().rstrip("/").lower()
    if not origin:
        return True
    settings = get_settings()
    if origin in settings.allowed_origins:
        return True
    host = _header(scope, b"host").lower()
    if settings.trust_proxy:
        host = _header(scope, b"x-forwarded-host").split(",")[0].strip().lower() or host
    return origin != "null" and bool(host) and urlsplit(origin).netloc == host


def host_allowed(scope: Scope) -> bool:
    """Any host unless `CRM_ALLOWED_HOSTS` names them (then a DNS-rebinding domain is refused)."""
    allowed = get_settings().allowed_hosts
    if not allowed:
        return True
    host = _header(scope, b"host").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in allowed or host in allowed


@lru_cache(maxsize=512)
def _csp_for(html: bytes) -> bytes:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    # 'unsafe-eval': Reflex runs the events the server sends (toasts, focus, scripts) through
    # eval(); no inline script runs unless its hash is listed.
    return f"script-src 'self' 'unsafe-eval' {hashes}; {_CSP_REST}".encode()


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not host_allowed(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _forbidden(send, b'{"error": "Unknown host."}', status=400)
            return
        if scope["type"] == "websocket":
            if not origin_allowed(scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not origin_allowed(scope) and (
            scope.get("method", "GET") not in _SAFE_METHODS
            or scope.get("path", "").startswith("/_event")
        ):
            await _forbidden(send)
            return
        # Files are then sent as body messages, which the CSP step can read (not by path).
        extensions = {
            k: v
            for k, v in (scope.get("extensions") or {}).items()
            if k != "http.response.pathsend"
        }
        scope = {**scope, "extensions": extensions}
        ancestors = await _chat_frame_ancestors(scope)
        await self.app(scope, receive, _SecuredResponse(send, _https(scope), ancestors))


_ancestors_cache: dict[str, tuple[float, str]] = {}


async def _chat_frame_ancestors(scope: Scope) -> str | None:
    """The web chat widget may be framed by the origins its site lists (and this site); every
    other page by none. Cached for a few seconds per site."""
    path = scope.get("path", "")
    if not path.startswith(CHAT_WIDGET_PREFIX):
        return None
    # Imported here: the middleware module loads before the services it would pull in.
    from crm_app.services.messaging.web_chat import frame_ancestors

    public_id = path[len(CHAT_WIDGET_PREFIX) :].strip("/").split("/", 1)[0][:32]
    cached = _ancestors_cache.get(public_id)
    if cached is not None and time.monotonic() - cached[0] < 10:
        return cached[1]
    try:
        origins = await run_in_threadpool(frame_ancestors, public_id)
    except Exception:  # the database is away: frame nowhere rather than fail the page
        origins = []
    value = " ".join(["'self'", *origins])
    if len(_ancestors_cache) > 1000:
        _ancestors_cache.clear()
    _ancestors_cache[public_id] = (time.monotonic(), value)
    return value


def _https(scope: Scope) -> bool:
    if get_settings().trust_proxy:
        forwarded = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
        if forwarded:
            return forwarded == "https"
    return scope.get("scheme") == "https"


async def _forbidden(
    send: Send, body: bytes = b'{"error": "Cross-site request refused."}', status: int = 403
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *_STATIC_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _SecuredResponse:
    """Adds the headers; holds back an HTML body until it is whole, to hash its scripts."""

    def __init__(self, send: Send, https: bool, frame_ancestors: str | None = None) -> None:
        self.send = send
        self.https = https
        self.frame_ancestors = frame_ancestors  # None: no framing at all
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v)
                for k, v in message.get("headers", [])
                if k.lower() not in {name for name, _ in _STATIC_HEADERS}
            ]
            headers.extend(
                h
                for h in _STATIC_HEADERS
                if self.frame_ancestors is None or h[0] != b"x-frame-options"
            )
            if self.https:
                headers.append((b"strict-transport-security", b"max-age=31536000"))
            message["headers"] = headers
            content_type = {k.lower(): v for k, v in headers}.get(b"content-type", b"")
            if content_type.startswith(b"text/html"):
                self.start = message
                return
            await self.send(message)
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        headers = self.start["headers"]
        encoding = {k.lower(): v for k, v in headers}.get(b"content-encoding", b"")
        try:
            html = gzip.decompress(body) if encoding == b"gzip" else body
        except (OSError, EOFError):
            html = b""
        policy = _csp_for(html)
        if self.frame_ancestors is not None:
            policy = policy.replace(
                b"frame-ancestors 'none'", b"frame-ancestors " + self.frame_ancestors.encode()
            )
        headers.append((b"content-security-policy", policy))
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body})

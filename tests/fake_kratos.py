"""A small stand-in for Ory Kratos' public API, for tests: the endpoints the CRM uses, with the
request and response shapes of Ory's published OpenAPI document (so the real `ory-client` SDK
parses every answer), over real HTTP on a local port.

Implemented: native login, registration, recovery (code) and settings (password) flows,
`/sessions/whoami`, native logout. Identities carry `verifiable_addresses` (the email,
unverified unless added with `verified=True`). Test hooks under `/fake/`: disable an identity,
mark its email verified, read the last recovery code sent to an address.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeIdentity:
    id: str
    email: str
    name: str
    password: str
    state: str = "active"
    verified: bool = False  # the email address, as Kratos' verification flow would mark it


@dataclass
class FakeKratos:
    identities: dict[str, FakeIdentity] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # token -> (session id, identity id)
    flows: dict[str, str] = field(default_factory=dict)  # flow id -> kind
    recovery: dict[str, tuple[str, str]] = field(default_factory=dict)  # flow id -> (email, code)
    whoami_calls: int = 0
    url: str = ""

    def add_identity(
        self, email: str, password: str, name: str = "Ory Person", *, verified: bool = False
    ) -> FakeIdentity:
        identity = FakeIdentity(str(uuid.uuid4()), email.lower(), name, password, verified=verified)
        self.identities[identity.id] = identity
        return identity

    def by_email(self, email: str) -> FakeIdentity | None:
        return next((i for i in self.identities.values() if i.email == email.lower()), None)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _identity_json(identity: FakeIdentity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "schema_id": "default",
        "schema_url": "http://fake-kratos/schemas/default",
        "state": identity.state,
        "traits": {"email": identity.email, "name": identity.name},
        "verifiable_addresses": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, identity.id)),
                "value": identity.email,
                "verified": identity.verified,
                "via": "email",
                "status": "completed" if identity.verified else "pending",
            }
        ],
    }


def _session_json(kratos: FakeKratos, token: str) -> dict[str, Any]:
    session_id, identity_id = kratos.sessions[token]
    identity = kratos.identities[identity_id]
    return {
        "id": session_id,
        "active": identity.state == "active",
        "authenticated_at": _now(),
        "expires_at": (datetime.now(UTC) + timedelta(hours=24)).isoformat(),
        "identity": _identity_json(identity),
    }


def _flow(
    kratos: FakeKratos, kind: str, state: str, messages: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    flow_id = extra.pop("id", None) or str(uuid.uuid4())
    kratos.flows[flow_id] = kind
    return {
        "id": flow_id,
        "type": "api",
        "expires_at": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
        "issued_at": _now(),
        "request_url": f"{kratos.url}/self-service/{kind}/api",
        "state": state,
        "ui": {
            "action": f"{kratos.url}/self-service/{kind}?flow={flow_id}",
            "method": "POST",
            "nodes": [],
            "messages": [{"id": 4000006, "text": text, "type": "error"} for text in messages or []],
        },
        **extra,
    }


def _open_session(kratos: FakeKratos, identity: FakeIdentity) -> str:
    token = "ory_st_" + uuid.uuid4().hex
    kratos.sessions[token] = (str(uuid.uuid4()), identity.id)
    return token


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "status": "error", "reason": reason, "message": reason}},
        status_code=status,
    )


def build_app(kratos: FakeKratos) -> Starlette:
    async def login_api(request: Request) -> Response:
        return JSONResponse(_flow(kratos, "login", "choose_method"))

    async def login(request: Request) -> Response:
        flow_id = request.query_params.get("flow", "")
        if kratos.flows.get(flow_id) != "login":
            return _error(410, "flow expired")
        body = await request.json()
        identity = kratos.by_email(str(body.get("identifier", "")))
        if (
            body.get("method") != "password"
            or identity is None
            or identity.password != body.get("password")
        ):
            message = "The provided credentials are invalid, check for spelling mistakes."
            return JSONResponse(
                _flow(kratos, "login", "choose_method", [message], id=flow_id), status_code=400
            )
        if identity.state != "active":
            return _error(401, "identity is disabled")
        token = _open_session(kratos, identity)
        return JSONResponse({"session_token": token, "session": _session_json(kratos, token)})

    async def registration_api(request: Request) -> Response:
        return JSONResponse(_flow(kratos, "registration", "choose_method"))

    async def registration(request: Request) -> Response:
        flow_id = request.query_params.get("flow", "")
        if kratos.flows.get(flow_id) != "registration":
            return _error(410, "flow expired")
        body = await request.json()
        traits = body.get("traits") or {}
        email = str(traits.get("email", "")).lower()
        if "@" not in email or len(str(body.get("password", ""))) < 8:
            return JSONResponse(
                _flow(
                    kratos,
                    "registration",
                    "choose_method",
                    ["Enter an email and a password of 8 or more characters."],
                    id=flow_id,
                ),
                status_code=400,
            )
        if kratos.by_email(email):
            return JSONResponse(
                _flow(
                    kratos,
                    "registration",
                    "choose_method",
                    ["An account with the same identifier exists already."],
                    id=flow_id,
                ),
                status_code=400,
            )
        identity = kratos.add_identity(email, body["password"], str(traits.get("name", "")))
        token = _open_session(kratos, identity)
        return JSONResponse(
            {
                "identity": _identity_json(identity),
                "session": _session_json(kratos, token),
                "session_token": token,
            }
        )

    async def recovery_api(request: Request) -> Response:
        return JSONResponse(_flow(kratos, "recovery", "choose_method"))

    async def recovery(request: Request) -> Response:
        flow_id = request.query_params.get("flow", "")
        if kratos.flows.get(flow_id) != "recovery":
            return _error(410, "flow expired")
        body = await request.json()
        if body.get("email"):
            kratos.recovery[flow_id] = (
                str(body["email"]).lower(),
                f"{uuid.uuid4().int % 1_000_000:06d}",
            )
            return JSONResponse(_flow(kratos, "recovery", "sent_email", id=flow_id))
        email, code = kratos.recovery.get(flow_id, ("", ""))
        identity = kratos.by_email(email)
        if not code or body.get("code") != code or identity is None:
            return JSONResponse(
                _flow(
                    kratos,
                    "recovery",
                    "sent_email",
                    ["The recovery code is invalid or has already been used."],
                    id=flow_id,
                ),
                status_code=400,
            )
        del kratos.recovery[flow_id]
        token = _open_session(kratos, identity)
        settings_id = str(uuid.uuid4())
        kratos.flows[settings_id] = "settings"
        continue_with = [
            {"action": "set_ory_session_token", "ory_session_token": token},
            {
                "action": "show_settings_ui",
                "flow": {"id": settings_id, "url": f"{kratos.url}/settings"},
            },
        ]
        return JSONResponse(
            _flow(kratos, "recovery", "passed_challenge", id=flow_id, continue_with=continue_with)
        )

    def _caller(request: Request) -> FakeIdentity | None:
        token = request.headers.get("x-session-token", "")
        if token not in kratos.sessions:
            return None
        identity = kratos.identities[kratos.sessions[token][1]]
        return identity if identity.state == "active" else None

    async def settings_api(request: Request) -> Response:
        identity = _caller(request)
        if identity is None:
            return _error(401, "No valid session credentials found in the request.")
        return JSONResponse(
            _flow(kratos, "settings", "show_form", identity=_identity_json(identity))
        )

    async def settings(request: Request) -> Response:
        identity = _caller(request)
        if identity is None:
            return _error(401, "No valid session credentials found in the request.")
        body = await request.json()
        if body.get("method") != "password" or len(str(body.get("password", ""))) < 8:
            return JSONResponse(
                _flow(
                    kratos,
                    "settings",
                    "show_form",
                    ["The password must be at least 8 characters long."],
                    identity=_identity_json(identity),
                ),
                status_code=400,
            )
        identity.password = body["password"]
        return JSONResponse(_flow(kratos, "settings", "success", identity=_identity_json(identity)))

    async def whoami(request: Request) -> Response:
        kratos.whoami_calls += 1
        token = request.headers.get("x-session-token", "")
        if (
            token not in kratos.sessions
            or kratos.identities[kratos.sessions[token][1]].state != "active"
        ):
            return _error(401, "No valid session credentials found in the request.")
        return JSONResponse(_session_json(kratos, token))

    async def logout(request: Request) -> Response:
        body = await request.json()
        if kratos.sessions.pop(str(body.get("session_token", "")), None) is None:
            return _error(403, "session token not found")
        return Response(status_code=204)

    async def disable(request: Request) -> Response:
        kratos.identities[request.path_params["identity_id"]].state = "inactive"
        return Response(status_code=204)

    async def verify(request: Request) -> Response:
        kratos.identities[request.path_params["identity_id"]].verified = True
        return Response(status_code=204)

    async def recovery_code(request: Request) -> Response:
        email = request.query_params.get("email", "").lower()
        codes = [code for mail, code in kratos.recovery.values() if mail == email]
        return JSONResponse({"code": codes[-1] if codes else ""})

    return Starlette(
        routes=[
            Route("/self-service/login/api", login_api, methods=["GET"]),
            Route("/self-service/login", login, methods=["POST"]),
            Route("/self-service/registration/api", registration_api, methods=["GET"]),
            Route("/self-service/registration", registration, methods=["POST"]),
            Route("/self-service/recovery/api", recovery_api, methods=["GET"]),
            Route("/self-service/recovery", recovery, methods=["POST"]),
            Route("/self-service/settings/api", settings_api, methods=["GET"]),
            Route("/self-service/settings", settings, methods=["POST"]),
            Route("/sessions/whoami", whoami, methods=["GET"]),
            Route("/self-service/logout/api", logout, methods=["DELETE"]),
            Route("/fake/identities/{identity_id}/disable", disable, methods=["POST"]),
            Route("/fake/identities/{identity_id}/verify", verify, methods=["POST"]),
            Route("/fake/recovery-code", recovery_code, methods=["GET"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningKratos:
    """The fake served by uvicorn in a thread; `stop()` ends it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.kratos = FakeKratos(url=f"http://127.0.0.1:{self.port}")
        config = uvicorn.Config(
            build_app(self.kratos), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return self.kratos.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


if (
    __name__ == "__main__"
):  # a fake for trying the Ory pages by hand: python -m tests.fake_kratos PORT
    import sys

    running = RunningKratos(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    running.kratos.add_identity("ory.user@firm.example", "ory-password-123", "Ory User")
    print(f"fake Kratos at {running.url}: ory.user@firm.example / ory-password-123", flush=True)
    running.thread.join()

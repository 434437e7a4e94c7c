"""A browser tab without the browser: the websocket protocol the compiled frontend speaks, so a
test can do what an attacker's script would (hydrate with any tab token, call any handler of any
State with any arguments) and read every frame the server sends back."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import socketio

HYDRATE = "reflex___state____state.hydrate_and_load"
NAMESPACE = "/_event"


def sign_in_cookie(app_url: str, email: str, password: str) -> str:
    """The session cookie the sign-in form post sets (as a browser would get it)."""
    response = requests.post(
        f"{app_url}/api/auth/login",
        data={"email": email, "password": password},
        headers={"Origin": app_url},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text
    token = response.cookies.get("crm_session")
    assert token, f"no session cookie: {response.headers}"
    return token


def sign_out(app_url: str, session_cookie: str) -> None:
    response = requests.post(
        f"{app_url}/api/auth/logout",
        cookies={"crm_session": session_cookie},
        headers={"Origin": app_url},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303


@dataclass
class Tab:
    app_url: str
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    session_cookie: str = ""
    origin: str | None = None
    frames: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sio: socketio.AsyncClient | None = None
        self._last_frame = 0.0

    async def open(self, path: str) -> None:
        """Connect as the frontend does: the tab token in the query, the hydrate as the boot
        event, the cookie (if any) in the handshake headers."""
        headers = {"Origin": self.origin or self.app_url}
        if self.session_cookie:
            headers["Cookie"] = f"crm_session={self.session_cookie}"
        # Sent as given: the client would otherwise move a Cookie header into its cookie jar.
        sio = socketio.AsyncClient(reconnection=False, websocket_extra_options={"headers": headers})

        @sio.on("event", namespace=NAMESPACE)
        async def _on_event(update: Any) -> None:
            self.frames.append(update)
            self._last_frame = asyncio.get_running_loop().time()

        await sio.connect(
            f"{self.app_url}?token={self.token}",
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path="/_event",
            auth={"event": _event(HYDRATE, {}, path)},
            wait_timeout=20,
        )
        self._sio = sio
        await self.settle()

    async def send(self, name: str, payload: dict, path: str, *, wait: bool = True) -> None:
        assert self._sio is not None
        await self._sio.emit("event", _event(name, payload, path), namespace=NAMESPACE)
        if wait:
            await self.settle()

    async def settle(self, quiet: float = 0.4, limit: float = 8.0) -> None:
        """Wait until the server has been quiet for a moment (events chain further events)."""
        loop = asyncio.get_running_loop()
        started = self._last_frame = loop.time()
        while loop.time() - started < limit:
            await asyncio.sleep(0.1)
            if loop.time() - self._last_frame >= quiet:
                return

    async def wait_for(self, mark: str, limit: float = 20.0) -> bool:
        """Wait until a frame carries `mark` (a loaded server answers late); whether it did."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while mark not in self.text():
            if loop.time() - started >= limit:
                return False
            await asyncio.sleep(0.1)
        return True

    async def close(self) -> None:
        if self._sio is not None:
            await self._sio.disconnect()
            self._sio = None

    def text(self) -> str:
        return json.dumps(self.frames, default=str)


def route_params(path: str) -> dict[str, str]:
    """What the frontend's router puts in `query` for the app's dynamic routes."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] in ("tickets", "portal") and parts[1].isdigit():
        return {"number": parts[1]}
    if len(parts) == 3 and parts[:2] == ["portal", "tickets"]:
        return {"number": parts[2]}
    if len(parts) == 2 and parts[0] == "clients" and parts[1].isdigit():
        return {"client_id": parts[1]}
    return {}


def _event(name: str, payload: dict, path: str) -> dict:
    return {
        "name": name,
        "payload": payload,
        "router_data": {"pathname": path, "asPath": path, "query": route_params(path)},
    }


@dataclass(frozen=True)
class Handler:
    event_name: str
    params: dict[str, str]  # parameter name -> annotation as written
    is_background: bool


def handlers_of(root_state: type) -> Iterator[Handler]:
    """Every event handler of `root_state` and the States below it, from the app's own tree,
    so a handler added later is probed without editing the test."""
    pending = [root_state]
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        for name, handler in cls.event_handlers.items():
            signature = inspect.signature(handler.fn)
            params = {
                p.name: str(p.annotation)
                for p in signature.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            }
            yield Handler(
                f"{cls.get_full_name()}.{name}",
                params,
                bool(getattr(handler, "is_background", False)),
            )


def payloads_for(handler: Handler, targets: list[int]) -> Iterator[dict]:
    """Arguments aimed at other people's records, then arguments of the wrong type."""

    def value(annotation: str, target: int) -> Any:
        if "int" in annotation:
            return target
        if "bool" in annotation:
            return True
        if "dict" in annotation:
            return {
                "id": target,
                "number": target,
                "client_id": target,
                "user_id": target,
                "email": "probe@evil.example",
                "name": "<img src=x onerror=alert(1)>",
            }
        if "list" in annotation:
            return [target]
        return str(target)

    for target in targets:
        yield {name: value(annotation, target) for name, annotation in handler.params.items()}
    if handler.params:
        yield {
            name: ("abc" if "int" in annotation else {"$ne": None})
            for name, annotation in handler.params.items()
        }


def excerpt_of(text: str, mark: str, width: int = 160) -> str:
    """Where `mark` occurs in `text`, with a little context; "" when it does not. For asserts on
    a sweep's frames: pytest would otherwise diff megabytes of text to explain a failure."""
    at = text.find(mark)
    if at < 0:
        return ""
    return text[max(0, at - width) : at + len(mark) + width]

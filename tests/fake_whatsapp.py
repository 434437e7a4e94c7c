"""Local stand-ins for Twilio's REST API and Meta's Graph API, speaking their documented wire
formats (form-encoded requests with HTTP basic auth and JSON answers for Twilio's
`/2010-04-01/Accounts/{sid}/Messages.json`, a text `Body` or a Content template's `ContentSid`
with `ContentVariables`, refused with Twilio's error codes as its API documents them; JSON with
a bearer token for the Graph API's `/{phone-number-id}/messages` and media endpoints), on
127.0.0.1."""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MEDIA_BYTES = b"\xff\xd8\xff\xe0fake-jpeg-bytes"
_ids = itertools.count(1)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    json: Any


@dataclass
class FakeServer:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    # (status, body) answers to give to the next message sends, before the normal answer.
    fail_next: list[tuple[int, dict]] = field(default_factory=list)
    auth_header: str = ""  # what the Authorization header must be
    # The account's approved templates with their body ({{1}}, {{2}}): Twilio by ContentSid,
    # Meta by "name:language" (Meta: none listed, any name is taken).
    content_templates: dict[str, str] = field(default_factory=dict)

    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler], state: FakeServer) -> Iterator[FakeServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    state: FakeServer

    def log_message(self, *args: object) -> None:
        pass

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type") or ""
        form = parse_qsl(raw.decode(), keep_blank_values=True) if "form" in content_type else []
        body = json.loads(raw) if raw and "json" in content_type else None
        recorded = Recorded(self.command, self.path, dict(self.headers), form, body)
        self.state.requests.append(recorded)
        return recorded

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == self.state.auth_header


_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


def _twilio_error(code: int, message: str) -> tuple[int, dict]:
    return 400, {"code": code, "message": message, "more_info": "", "status": 400}


def _twilio_body(form: dict[str, str], templates: dict[str, str]) -> str | tuple[int, dict]:
    """The text Twilio sends for a Messages request, or its refusal (status, error body)."""
    content_sid, variables = form.get("ContentSid"), form.get("ContentVariables")
    if variables is not None and not content_sid:
        return _twilio_error(21654, "ContentSid Required")
    if content_sid is None:
        if not form.get("Body") and not form.get("MediaUrl"):
            return _twilio_error(21619, "A text message body or media urls must be specified.")
        return form.get("Body") or ""
    if not _CONTENT_SID.match(content_sid) or content_sid not in templates:
        return _twilio_error(21655, "The ContentSid is Invalid")
    try:
        values = json.loads(variables) if variables is not None else {}
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) and v for v in values.values()):
        return _twilio_error(21656, "The ContentVariables Parameter is invalid")
    return re.sub(
        r"\{\{(\d+)\}\}", lambda m: values.get(m.group(1), m.group(0)), templates[content_sid]
    )


def twilio_auth(account_sid: str, auth_token: str) -> str:
    return "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()


@contextmanager
def fake_twilio(account_sid: str, auth_token: str) -> Iterator[FakeServer]:
    """Twilio's Messages resource, the account resource and message media."""
    state = FakeServer(auth_header=twilio_auth(account_sid, auth_token))
    prefix = f"/2010-04-01/Accounts/{account_sid}"

    class Handler(_Handler):
        def do_GET(self) -> None:
            self._record()
            path = urlsplit(self.path).path
            if not self._authorized():
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
            elif path == f"{prefix}.json":
                self._answer(
                    200, {"sid": account_sid, "friendly_name": "Test firm", "status": "active"}
                )
            elif path.startswith(f"{prefix}/Messages/") and "/Media/" in path:
                self._answer(200, MEDIA_BYTES, "image/jpeg")
            else:
                self._answer(404, {"code": 20404, "message": "Not found", "status": 404})

        def do_POST(self) -> None:
            recorded = self._record()
            if not self._authorized():
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            if urlsplit(self.path).path != f"{prefix}/Messages.json":
                self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                return
            if state.fail_next:
                status, body = state.fail_next.pop(0)
                self._answer(status, body)
                return
            form = dict(recorded.form)
            body = _twilio_body(form, state.content_templates)
            if isinstance(body, tuple):
                self._answer(*body)
                return
            sid = f"SM{next(_ids):032x}"
            self._answer(
                201,
                {
                    "sid": sid,
                    "account_sid": account_sid,
                    "from": form.get("From"),
                    "to": form.get("To"),
                    "body": body,
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "date_created": "Tue, 01 Dec 2026 12:00:00 +0000",
                    "uri": f"{prefix}/Messages/{sid}.json",
                },
            )

    Handler.state = state
    with _serve(Handler, state) as running:
        yield running


def _graph_error(code: int, message: str) -> tuple[int, dict]:
    return 400, {"error": {"message": message, "type": "OAuthException", "code": code}}


def _graph_template_refusal(payload: dict, templates: dict[str, str]) -> tuple[int, dict] | None:
    """The Graph API's answer to a template it would not send (None: it sends it)."""
    template = payload.get("template") or {}
    name, language = template.get("name"), (template.get("language") or {}).get("code")
    if not name or not language:
        return _graph_error(100, "Invalid parameter")
    parameters = []
    for component in template.get("components") or []:
        if component.get("type") != "body":
            return _graph_error(100, "Invalid parameter")
        for parameter in component.get("parameters") or []:
            if parameter.get("type") != "text" or not isinstance(parameter.get("text"), str):
                return _graph_error(100, "Invalid parameter")
            parameters.append(parameter["text"])
    if templates:
        body = templates.get(f"{name}:{language}")
        if body is None:
            return _graph_error(132001, "Template name does not exist in the translation")
        if len(set(re.findall(r"\{\{(\d+)\}\}", body))) != len(parameters):
            return _graph_error(132000, "Number of parameters does not match the expected number")
    return None


@contextmanager
def fake_graph(access_token: str, phone_number_id: str) -> Iterator[FakeServer]:
    """The Graph API's messages endpoint, media lookup and media download (under /v21.0)."""
    state = FakeServer(auth_header=f"Bearer {access_token}")

    class Handler(_Handler):
        def do_GET(self) -> None:
            self._record()
            path = urlsplit(self.path).path
            if not self._authorized():
                self._answer(401, {"error": {"message": "Invalid OAuth token", "code": 190}})
            elif path.startswith("/files/"):
                self._answer(200, MEDIA_BYTES, "image/jpeg")
            elif path == f"/v21.0/{phone_number_id}":
                self._answer(200, {"display_phone_number": "+1 555 0100", "id": phone_number_id})
            elif path.startswith("/v21.0/"):
                media_id = path.rsplit("/", 1)[-1]
                self._answer(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "url": f"{state.url}/files/{media_id}",
                        "mime_type": "image/jpeg",
                        "file_size": len(MEDIA_BYTES),
                        "id": media_id,
                    },
                )
            else:
                self._answer(404, {"error": {"message": "Unknown path", "code": 100}})

        def do_POST(self) -> None:
            recorded = self._record()
            if not self._authorized():
                self._answer(401, {"error": {"message": "Invalid OAuth token", "code": 190}})
                return
            if urlsplit(self.path).path != f"/v21.0/{phone_number_id}/messages":
                self._answer(404, {"error": {"message": "Unknown path", "code": 100}})
                return
            if state.fail_next:
                status, body = state.fail_next.pop(0)
                self._answer(status, body)
                return
            payload = recorded.json or {}
            if payload.get("type") == "template":
                refusal = _graph_template_refusal(payload, state.content_templates)
                if refusal is not None:
                    self._answer(*refusal)
                    return
            to = payload.get("to")
            self._answer(
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to}],
                    "messages": [{"id": f"wamid.HBgL{next(_ids):020d}"}],
                },
            )

    Handler.state = state
    with _serve(Handler, state) as running:
        yield running

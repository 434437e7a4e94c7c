"""WhatsApp through Twilio: the webhook's signature and payload, media, and sending.

Signatures are checked with the official `twilio.request_validator.RequestValidator` over the
address Twilio was given (CRM_PUBLIC_URL + path + query; the validator tries it with and
without the default port), the form parameters with repeated keys, and the body hash when
Twilio sends JSON (`bodySHA256`). Replies go out through the official `twilio` REST client;
`TWILIO_API_BASE_URL` points it elsewhere (a proxy, a test server) through its HTTP client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from crm_app.services.mail.transport import PermanentFailure, TemporaryFailure
from crm_app.services.messaging import config
from crm_app.services.messaging.whatsapp import InboundMedia, InboundMessage, e164
from crm_app.settings import get_settings
from models.messaging import Provider

log = logging.getLogger(__name__)

MAX_MEDIA = 10  # Twilio sends at most 10 media per message
STATUS_STATES = {
    "accepted",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "canceled",
    "scheduled",
}


class FormParams:
    """Form fields with repeated keys kept, in the shape RequestValidator reads (`getlist`)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def __iter__(self):
        return iter(dict.fromkeys(key for key, _ in self.pairs))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def getlist(self, key: str) -> list[str]:
        return [value for name, value in self.pairs if name == key]

    def get(self, key: str, default: str = "") -> str:
        values = self.getlist(key)
        return values[0] if values else default


def signature_valid(
    token: str,
    url: str,
    params: FormParams | str,
    signature: str,
    settings_header: str = "",
) -> bool:
    """Twilio's own check. `params` is the raw body (a string) when the URL has bodySHA256."""
    if not token or not signature:
        return False
    algorithm = get_signature_algorithm(settings_header)
    try:
        return RequestValidator(token).validate(url, params, signature, algorithm)
    except (ValueError, TypeError):
        return False


def is_status_callback(params: Mapping[str, str] | FormParams) -> bool:
    """A delivery report about a message the CRM sent (not a message from a client)."""
    state = (params.get("MessageStatus") or "").lower()
    return state in STATUS_STATES and not params.get("Body") and not params.get("NumMedia")


def _media_allowed(url: str, cfg: config.TwilioConfig) -> bool:
    return config.same_origin(url, cfg.api_base_url)


def fetch_media(url: str, cfg: config.TwilioConfig, client: httpx.Client) -> bytes:
    """A media file of a message, from the Twilio API host only, signed in with the
    account's credentials (Twilio may redirect to its file store; the credentials are not
    sent there)."""
    if not _media_allowed(url, cfg):
        raise ValueError("not on the Twilio API host")
    limit = get_settings().attachment_max_bytes
    auth = (cfg.account_sid, cfg.auth_token) if cfg.account_sid else None
    with client.stream("GET", url, auth=auth) as response:
        response.raise_for_status()
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ValueError("larger than the attachment limit")
            chunks.append(chunk)
    return b"".join(chunks)


def parse_inbound(
    params: FormParams,
    cfg: config.TwilioConfig,
    *,
    remote_addr: str | None,
    fetch: bool = True,
) -> InboundMessage | None:
    """The client's message in Twilio's form fields; None when it is not one (no sid or
    sender number)."""
    sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid")
    address = e164(params.get("From"))
    if not sid or address is None:
        return None
    media: list[InboundMedia] = []
    try:
        count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    if count:
        with httpx.Client(timeout=15.0, follow_redirects=True, max_redirects=3) as client:
            for index in range(count):
                url = params.get(f"MediaUrl{index}")
                content_type = params.get(f"MediaContentType{index}") or "application/octet-stream"
                name = f"whatsapp-{index + 1}.{content_type.rsplit('/', 1)[-1][:10]}"
                if not url:
                    continue
                if not fetch:
                    media.append(InboundMedia(name, content_type, None))
                    continue
                try:
                    data = fetch_media(url, cfg, client)
                except (httpx.HTTPError, ValueError) as error:
                    log.warning("twilio media not fetched", extra={"sid": sid, "error": str(error)})
                    media.append(
                        InboundMedia(
                            name, content_type, None, f"[{content_type} not kept: {error}]"[:300]
                        )
                    )
                    continue
                media.append(InboundMedia(name, content_type, data))
    return InboundMessage(
        provider=Provider.TWILIO,
        external_id=sid[:200],
        address=address,
        profile_name=params.get("ProfileName")[:200],
        body=params.get("Body"),
        media=media,
        remote_addr=remote_addr,
    )


# ---------------------------------------------------------------- sending


class _ApiHostHttpClient(TwilioHttpClient):
    """The twilio client's own HTTP client, sending to `api_base_url` instead of Twilio's
    public API host (the library builds every URL on https://api.twilio.com)."""

    def __init__(self, api_base_url: str, timeout: float = 20.0) -> None:
        super().__init__(timeout=timeout)
        self._api_base_url = api_base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(config.TWILIO_API):
            url = self._api_base_url + url[len(config.TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def rest_client(cfg: config.TwilioConfig) -> Client:
    http_client = (
        None if cfg.api_base_url == config.TWILIO_API else _ApiHostHttpClient(cfg.api_base_url)
    )
    return Client(cfg.account_sid, cfg.auth_token, http_client=http_client)


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


def _create(cfg: config.TwilioConfig, to: str, **content: str) -> SentMessage:
    """One WhatsApp message to `to` (E.164) through the Messages resource. Raises
    PermanentFailure (Twilio refused it: 4xx) or TemporaryFailure (unreachable, 5xx, rate
    limited)."""
    if not cfg.can_send:
        raise TemporaryFailure(
            "Twilio is not set up to send (account SID, auth token and WhatsApp sender needed)."
        )
    sender = cfg.whatsapp_from
    if not sender.startswith("whatsapp:"):
        sender = "whatsapp:" + sender
    try:
        message = rest_client(cfg).messages.create(
            from_=sender,
            to="whatsapp:" + to,
            status_callback=config.public_url(config.TWILIO_WEBHOOK_PATH),
            **content,
        )
    except TwilioRestException as error:
        reason = f"Twilio refused the message ({error.status}"
        reason += f", error {error.code}): {error.msg}" if error.code else f"): {error.msg}"
        if error.status == 429 or error.status >= 500:
            raise TemporaryFailure(reason) from error
        raise PermanentFailure(reason) from error
    except TwilioException as error:
        raise TemporaryFailure(f"Twilio: {error}") from error
    except Exception as error:  # the requests transport: unreachable, timeout
        raise TemporaryFailure(f"Twilio could not be reached: {error}") from error
    return SentMessage(sid=message.sid or "", status=message.status or "queued")


def send_text(cfg: config.TwilioConfig, to: str, body: str) -> SentMessage:
    """A free-form WhatsApp text (inside the 24-hour window)."""
    return _create(cfg, to, body=body)


def send_template(
    cfg: config.TwilioConfig, to: str, content_sid: str, variables: Sequence[str] = ()
) -> SentMessage:
    """An approved Content template by its ContentSid, its `{{1}}`, `{{2}}` filled from
    `variables` (Twilio's ContentVariables: a JSON object of "1", "2" to the values)."""
    content = {"content_sid": content_sid}
    if variables:
        content["content_variables"] = json.dumps(
            {str(index): value for index, value in enumerate(variables, start=1)},
            ensure_ascii=False,
        )
    return _create(cfg, to, **content)


def check_connection(cfg: config.TwilioConfig) -> str:
    """Fetch the account with the saved credentials: what a manager's "Test" reports."""
    if not cfg.account_sid or not cfg.auth_token:
        return "Enter the account SID and the auth token first."
    try:
        account = rest_client(cfg).api.v2010.accounts(cfg.account_sid).fetch()
    except TwilioRestException as error:
        return f"Twilio refused: {error.status} {error.msg}"
    except Exception as error:
        return f"Twilio could not be reached: {error}"
    return f"Connected to Twilio account “{account.friendly_name}” ({account.status})."

"""A campaign's message as a template: `{{first_name|there}}` placeholders from a short list of
client fields (never a finance field), signed tracking links, the unsubscribe footer and the
RFC 8058 headers. Compiled once per campaign, rendered per recipient with string joins only
(200,000 renders must stay cheap). No I/O."""

from __future__ import annotations

import hmac
import html
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from crm_app.crypto import sign, signed_by_app
from crm_app.services.errors import InvalidInput
from ingest.html import html_to_text, sanitize_html

# The only client fields a template may use: what a marketing user may see anyway.
PLACEHOLDERS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}]*))?\}\}")
_HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)
# Internal slots the engine fills per recipient (not offered to authors).
_TOKEN = "\x00token\x00"
SENDGRID_TOKEN_TAG = "-token-"


def substitutions(
    values: RecipientValues, slots: dict[tuple[str, str, bool], str]
) -> dict[str, str]:
    """One personalization's values for the tags of `CampaignTemplate.sendgrid_content`."""
    out = {SENDGRID_TOKEN_TAG: recipient_token(values.recipient_id)}
    for (field, fallback, escape), tag in slots.items():
        value = values.field(field) or fallback
        out[tag] = html.escape(value) if escape else value
    return out


def check_placeholders(*texts: str) -> None:
    """Refuse a template naming any field outside `PLACEHOLDERS` (finance fields included)."""
    for text in texts:
        for match in _PLACEHOLDER.finditer(text or ""):
            if match.group(1) not in PLACEHOLDERS:
                allowed = ", ".join("{{" + k + "}}" for k in PLACEHOLDERS)
                raise InvalidInput(
                    f"{{{{{match.group(1)[:40]}}}}} is not a field a campaign may use; "
                    f"use {allowed}."
                )


def text_from_html(body_html: str) -> str:
    """The generated plain-text part (placeholders survive as written)."""
    return html_to_text(body_html).strip()


_NBSP = re.compile(r"&nbsp;|&#160;|&#xa0;|\u00a0", re.IGNORECASE)


def clean_html(body_html: str) -> str:
    """The body as it is stored and sent: sanitized, and with non-breaking spaces made plain.
    The rich editor writes every space it is given as `&nbsp;`, which stops mail clients from
    wrapping lines on a phone (and plain-text search from finding words)."""
    return _NBSP.sub(" ", sanitize_html(body_html or ""))


def recipient_token(recipient_id: int) -> str:
    """`<id>-<hmac>`: names one recipient in unsubscribe, open and click links."""
    return f"{recipient_id}-{sign(f'campaign-recipient:{recipient_id}')[:20]}"


def token_recipient(token: str) -> int | None:
    """The recipient id of a genuine token, else None."""
    head, _, signature = (token or "").partition("-")
    if not head.isdigit() or len(head) > 18:
        return None
    rid = int(head)
    expected = sign(f"campaign-recipient:{rid}")[:20]
    return rid if hmac.compare_digest(expected, signature or "") else None


def link_signature(campaign_id: int, url: str) -> str:
    return sign(f"campaign-link:{campaign_id}:{url}")


def link_target(campaign_id: int, url: str, signature: str) -> str | None:
    """The URL a click goes to, only when this app signed it for this campaign."""
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return None
    return url if signed_by_app(f"campaign-link:{campaign_id}:{url}", signature) else None


@dataclass(frozen=True)
class RecipientValues:
    recipient_id: int
    email: str
    first_name: str
    last_name: str

    def field(self, key: str) -> str:
        if key == "full_name":
            return " ".join(p for p in (self.first_name, self.last_name) if p)
        return getattr(self, key, "") or ""


class _Compiled:
    """A text split at its placeholders: literal, (field, fallback), literal, ..."""

    def __init__(self, text: str, escape: bool) -> None:
        self.parts: list[str | tuple[str, str]] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            self.parts.append(text[position : match.start()])
            fallback = (match.group(2) or "").strip()
            self.parts.append((match.group(1), html.unescape(fallback) if escape else fallback))
            position = match.end()
        self.parts.append(text[position:])
        self.escape = escape
        self.static = len(self.parts) == 1

    def render(self, values: RecipientValues, token: str) -> str:
        if self.static:
            return self.parts[0].replace(_TOKEN, token)  # type: ignore[union-attr]
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = values.field(part[0]) or part[1]
                out.append(html.escape(value) if self.escape else value)
        return "".join(out).replace(_TOKEN, token)

    def tagged(self, slots: dict[tuple[str, str, bool], str], token_tag: str) -> str:
        """The text with SendGrid substitution tags in place of placeholders; `slots` collects
        (field, fallback, escaped) -> tag."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                key = (part[0], part[1], self.escape)
                out.append(slots.setdefault(key, f"-p{len(slots)}-"))
        return "".join(out).replace(_TOKEN, token_tag)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str
    headers: dict[str, str]


class CampaignTemplate:
    """Everything of one campaign's message that does not depend on the recipient."""

    def __init__(
        self,
        *,
        campaign_id: int,
        public_url: str,
        from_email: str,
        subject: str,
        preheader: str,
        body_html: str,
        body_text: str,
    ) -> None:
        self.campaign_id = campaign_id
        self.public_url = public_url.rstrip("/")
        self.from_email = from_email
        self.domain = from_email.rpartition("@")[2] or "localhost"
        base = self.public_url + "/api/campaigns"
        self.unsubscribe_base = f"{base}/unsubscribe/"
        body = clean_html(body_html)

        def tracked(match: re.Match) -> str:
            url = html.unescape(match.group(1))
            signature = link_signature(campaign_id, url)
            link = f"{base}/click/{_TOKEN}?u={quote(url, safe='')}&s={signature}"
            return f'href="{html.escape(link)}"'

        body = _HREF.sub(tracked, body)
        hidden = (
            f'<div style="display:none;max-height:0;overflow:hidden">{html.escape(preheader)}</div>'
            if preheader
            else ""
        )
        footer = (
            '<p style="font-size:12px;color:#666">You receive this because you agreed to hear '
            f'from us. <a href="{self.unsubscribe_base}{_TOKEN}">Unsubscribe</a> in one click.</p>'
            f'<img src="{base}/open/{_TOKEN}.gif" width="1" height="1" alt="">'
        )
        self._html = _Compiled(hidden + body + footer, escape=True)
        text = body_text or text_from_html(body_html)
        self._text = _Compiled(
            f"{text}\n\n--\nUnsubscribe: {self.unsubscribe_base}{_TOKEN}\n", escape=False
        )
        self._subject = _Compiled(" ".join(subject.split()), escape=False)

    def message_id(self, recipient_id: int) -> str:
        """Fixed per recipient: a resent copy is the same message to every mail program."""
        return f"<campaign-{self.campaign_id}.r{recipient_id}@{self.domain}>"

    def unsubscribe_url(self, token: str) -> str:
        return self.unsubscribe_base + token

    def list_headers(self, token: str) -> dict[str, str]:
        """RFC 2369 List-Unsubscribe (mailto and HTTPS) and RFC 8058 one-click."""
        mailto = f"mailto:{self.from_email}?subject=unsubscribe%20{token}"
        return {
            "List-Unsubscribe": f"<{mailto}>, <{self.unsubscribe_url(token)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
            "X-Campaign-Id": str(self.campaign_id),
        }

    def sendgrid_content(self) -> tuple[str, str, dict[tuple[str, str, bool], str]]:
        """(html, text, slots): one body for a whole batch; each personalization fills the
        slots (and `-token-`) through SendGrid substitutions."""
        slots: dict[tuple[str, str, bool], str] = {}
        body_html = self._html.tagged(slots, SENDGRID_TOKEN_TAG)
        body_text = self._text.tagged(slots, SENDGRID_TOKEN_TAG)
        return body_html, body_text, slots

    def subject_for(self, values: RecipientValues) -> str:
        return self._subject.render(values, "")

    def render(self, values: RecipientValues) -> RenderedMessage:
        token = recipient_token(values.recipient_id)
        return RenderedMessage(
            subject=self._subject.render(values, token),
            html=self._html.render(values, token),
            text=self._text.render(values, token),
            headers=self.list_headers(token),
        )

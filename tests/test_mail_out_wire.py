"""The bytes the SMTP transport sends are the email package's own rendering of the mail (the
outbox writes the common case itself, for speed): byte for byte, but for the Date and the
random boundary, which the test pins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_app.services.mail import compose
from crm_app.services.mail.compose import (
    WIRE_POLICY,
    OutgoingAttachment,
    OutgoingMail,
    text_to_html,
    to_mime,
    to_wire,
)

DATE = "Tue, 01 Dec 2026 21:32:19 +0000"
IDS = [f"<{n}.{n * 7919}.1801621839736437{n}@mail.firm.example>" for n in range(1, 9)]
LONG_LINE = "Please find the quarterly figures of your discretionary mandate below. " * 4


def _mail(**changes: object) -> OutgoingMail:
    text = str(changes.pop("text", "Dear client,\n\nhere is your answer.\n\nRegards"))
    values: dict = {
        "from_header": "Acme Wealth <service@firm.example>",
        "to": ("client@bank.example",),
        "cc": (),
        "subject": "Re: Your statement [#42]",
        "message_id": IDS[0],
        "headers": {"In-Reply-To": IDS[1], "References": IDS[1]},
        "text": text,
        "html": text_to_html(text),
    }
    values.update(changes)
    return OutgoingMail(**values)


def _rendered_by_the_email_package(wire: bytes, mail: OutgoingMail) -> bytes:
    message = to_mime(mail)
    boundary = re.search(rb'boundary="([^"]+)"', wire)
    assert boundary is not None
    message.set_boundary(boundary.group(1).decode("ascii"))
    return message.as_bytes(policy=WIRE_POLICY)


CASES = {
    "plain": _mail(),
    "umlauts in the text (8bit)": _mail(text="Sehr geehrte Frau Müller,\n\nGrüße"),
    "long lines (quoted-printable)": _mail(text=LONG_LINE),
    "long non-ASCII lines (base64)": _mail(text="€ " * 200),
    "dots and bare CRs": _mail(text=".first\r\nsecond\rthird\n.\n"),
    "a long thread's References": _mail(
        headers={"In-Reply-To": IDS[7], "References": " ".join(IDS)}
    ),
    "a long subject": _mail(subject="Re: " + "transfer of the portfolio holdings " * 4 + "[#42]"),
    "Cc and several recipients": _mail(
        to=("client@bank.example", "partner@bank.example"), cc=("adviser@firm.example",)
    ),
    "an acknowledgement": _mail(
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    ),
    "no display name": _mail(from_header="service@firm.example"),
    # These go through the email package itself (encoded words, quoting, address folding).
    "non-ASCII display name": _mail(from_header="Müller Vermögen <service@firm.example>"),
    "non-ASCII subject": _mail(subject="Re: Überweisung [#42]"),
    "quoted display name": _mail(from_header='"Smith, John" <service@firm.example>'),
    "many recipients": _mail(to=tuple(f"client{n}@bank.example" for n in range(9))),
}


@pytest.mark.parametrize("mail", CASES.values(), ids=CASES.keys())
def test_the_wire_bytes_are_what_the_email_package_writes(
    mail: OutgoingMail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compose, "formatdate", lambda usegmt: DATE)
    wire = to_wire(mail)
    assert wire == _rendered_by_the_email_package(wire, mail)
    assert b"\n" not in wire.replace(b"\r\n", b"")  # CRLF only, as SMTP wants


def test_a_mail_with_attachments_is_written_by_the_email_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(b"%PDF-1.4 " * 100)
    mail = _mail(attachments=(OutgoingAttachment("statement.pdf", "application/pdf", pdf),))
    rendered: list[OutgoingMail] = []
    monkeypatch.setattr(compose, "to_mime", lambda m: (rendered.append(m), to_mime(m))[1])
    wire = to_wire(mail)
    assert rendered == [mail]
    assert b"multipart/mixed" in wire and b'filename="statement.pdf"' in wire


def test_the_common_case_does_not_go_through_the_email_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compose, "to_mime", lambda mail: pytest.fail("the slow path ran"))
    assert to_wire(CASES["plain"]).startswith(b"From: Acme Wealth <service@firm.example>\r\n")

"""Generated mail for archive tests and the archive benchmark: mbox files of finance
correspondence, optionally with large binary attachments (archives are mostly attachments)."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

TOPICS = [
    ("Wire transfer to {name}", "Please confirm the wire of {amount} USD to account {acct}. "
     "The beneficiary bank asked for the SWIFT code and the intermediary bank details."),
    ("Portfolio rebalancing for {name}", "We propose moving {amount} from equities into short "
     "government bonds to bring the risk back to the agreed moderate profile."),
    ("Tax certificate {year}", "Attached is the annual tax certificate for {year}. Dividends "
     "were withheld at 15 percent under the treaty; the refund claim is pending."),
    ("Change of address for {name}", "Please update the correspondence address on file and "
     "send the next statement to the new address; KYC documents follow by post."),
    ("Margin call on account {acct}", "The account fell below the maintenance margin. Deposit "
     "{amount} or reduce the position by Friday to avoid a forced sale."),
]  # fmt: skip
NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Emmy Noether", "Carl Gauss"]


def message_bytes(
    index: int,
    *,
    domain: str = "bank.example",
    sender_domain: str = "client.example",
    attachment_bytes: int = 0,
    seed: int = 0,
) -> bytes:
    rng = random.Random(seed * 1_000_003 + index)
    name = NAMES[index % len(NAMES)]
    subject, body = TOPICS[index % len(TOPICS)]
    values = {
        "name": name,
        "amount": f"{rng.randint(1, 900) * 1000:,}",
        "acct": f"CH{rng.randint(10**9, 10**10 - 1)}",
        "year": 2015 + index % 10,
    }
    mail = EmailMessage()
    mail["From"] = f"{name} <{name.split()[0].lower()}@{sender_domain}>"
    mail["To"] = "Advisory Desk <desk@firm.example>"
    mail["Subject"] = subject.format(**values)
    mail["Date"] = format_datetime(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=13 * index))
    mail["Message-ID"] = f"<gen-{seed}-{index}@{domain}>"
    mail.set_content(f"Dear advisor,\n\n{body.format(**values)}\n\nMessage {index}.\n\n{name}")
    if attachment_bytes:
        mail.add_attachment(
            rng.randbytes(attachment_bytes),
            maintype="application",
            subtype="octet-stream",
            filename=f"statement-{index}.bin",
        )
    if index % 7 == 0:
        mail.add_attachment(
            f"Statement {index}: balance {values['amount']} USD".encode(),
            maintype="text",
            subtype="plain",
            filename=f"note-{index}.txt",
        )
    return mail.as_bytes()


def write_mbox(
    path: Path,
    count: int,
    *,
    start: int = 0,
    attachment_bytes: int = 0,
    seed: int = 0,
    target_bytes: int | None = None,
    sender_domain: str = "client.example",
) -> int:
    """Write `count` messages (or until the file reaches `target_bytes`); returns how many."""
    written = 0
    with path.open("wb") as handle:
        index = start
        while written < count and (target_bytes is None or handle.tell() < target_bytes):
            raw = message_bytes(
                index, attachment_bytes=attachment_bytes, seed=seed, sender_domain=sender_domain
            )
            raw = raw.replace(b"\nFrom ", b"\n>From ")
            handle.write(b"From desk@firm.example Thu Jan  1 00:00:00 2020\n" + raw + b"\n")
            written += 1
            index += 1
    return written


def noise(size: int) -> bytes:
    return base64.b64encode(random.Random(size).randbytes(size))[:size]

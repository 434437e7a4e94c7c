"""The new text of a reply, apart from the quoted history and the signature."""

from __future__ import annotations

from dataclasses import dataclass

from mailparser_reply import EmailReplyParser

# Languages whose "On ... wrote:" headers and sign-offs the parser recognizes.
REPLY_LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
# The parser's regexes cost more than linear time, and the newest reply sits at the top: look
# for the quoted history in this much text only. A longer mail with no history in that window
# is all reply.
REPLY_WINDOW = 4000


@dataclass(frozen=True)
class ReplySplit:
    reply_text: str
    signature: str | None


def split_reply(text: str) -> ReplySplit:
    """Split a plain-text body into the newest reply and its signature.

    Falls back to the whole text when the parser finds nothing or fails.
    """
    stripped = text.strip()
    if not stripped:
        return ReplySplit("", None)
    truncated = len(stripped) > REPLY_WINDOW
    try:
        parsed = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(stripped[:REPLY_WINDOW])
        replies = parsed.replies
    except Exception:  # a third-party heuristic: never lose the message over it
        replies = []
    if not replies or (truncated and len(replies) == 1):
        return ReplySplit(stripped, None)
    latest = replies[0]
    body = (latest.body or "").strip()
    signature = (latest.signatures or "").strip() or None
    if not body and not signature:
        return ReplySplit(stripped, None)
    return ReplySplit(body, signature)

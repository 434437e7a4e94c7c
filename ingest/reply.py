"""The new text of a reply, apart from the quoted history and the signature."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from mailparser_reply import EmailReplyParser
from mailparser_reply.parser import EmailMessage

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


# Every top-level alternative of the parser's header regex starts like one of these, so a match
# can only begin at the start of the text, at a newline, or just after one.
_LINE_ANCHORED_STARTS = ("^", "(^", "((?:(?:^|\\n|")


def _top_level_alternatives(pattern: str) -> list[str]:
    """`pattern` split at its top-level `|` (escapes, groups and character classes respected)."""
    parts, depth, start, index, in_class = [], 0, 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", index + 1):  # "[]...]": a literal ] first
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
        index += 1
    parts.append(pattern[start:])
    return parts


class LineAnchoredFindall:
    """`findall` of a MULTILINE regex whose matches can only start at a line boundary.

    `re` tries the header regex's dozen alternatives at every character of the text; this
    tries the same regex, with `match`, only where a match can begin (offset 0, each newline,
    each position after a newline), skipping past each match as `findall` does. The result is
    exactly `regex.findall(text)`; an empty match falls back to `regex.findall` itself.
    """

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        self.pattern = regex.pattern
        self.flags = regex.flags

    @staticmethod
    def applies_to(regex: re.Pattern[str]) -> bool:
        return bool(regex.flags & re.MULTILINE) and all(
            alternative.startswith(_LINE_ANCHORED_STARTS)
            for alternative in _top_level_alternatives(regex.pattern)
        )

    def findall(self, text: str) -> list[Any]:
        match, groups = self.regex.match, self.regex.groups
        found: list[Any] = []
        resume = 0
        newline = -1
        while True:
            for position in (newline, newline + 1) if newline >= 0 else (0,):
                if position < resume:
                    continue
                hit = match(text, position)
                if hit is None:
                    continue
                if hit.end() == position:
                    return self.regex.findall(text)
                if groups > 1:
                    found.append(hit.groups(""))
                else:
                    found.append(hit.group(groups) or "")
                resume = hit.end()
            newline = text.find("\n", max(newline + 1, resume - 1))
            if newline < 0:
                return found


@functools.cache
def _parser_setup() -> tuple[list[str], Any, re.Pattern[str], re.Pattern[str]]:
    """The parser's languages and its three regexes, built once per process.

    The library assembles and compiles these for every message it reads; they depend on the
    languages only, so they are handed to each `EmailMessage` ready-made (the header regex
    wrapped in `LineAnchoredFindall` when its shape allows, as the library only `findall`s it).
    """
    languages = EmailReplyParser(languages=list(REPLY_LANGUAGES)).languages
    probe = EmailMessage(text="", languages=list(languages))
    header: Any = probe.HEADER_REGEX
    if LineAnchoredFindall.applies_to(header):
        header = LineAnchoredFindall(header)
    return list(probe.languages), header, probe.DISCLAIMERS_REGEX, probe.SIGNATURE_REGEX


def _read(text: str) -> EmailMessage:
    """`EmailReplyParser(languages=REPLY_LANGUAGES).read(text)`, with the regexes cached."""
    languages, header, disclaimers, signature = _parser_setup()
    return EmailMessage(
        text=text,
        languages=list(languages),
        _header_regex=header,
        _disclaimers_regex=disclaimers,
        _signature_regex=signature,
    ).read()


def split_reply(text: str) -> ReplySplit:
    """Split a plain-text body into the newest reply and its signature.

    Falls back to the whole text when the parser finds nothing or fails.
    """
    stripped = text.strip()
    if not stripped:
        return ReplySplit("", None)
    truncated = len(stripped) > REPLY_WINDOW
    try:
        replies = _read(stripped[:REPLY_WINDOW]).replies
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

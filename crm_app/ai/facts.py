"""Another client's facts never travel into a draft.

A past answer is useful for what the firm did and how it explains it; its amounts, account and
reference numbers, names, dates, addresses and phone numbers belong to someone else. `find`
locates those details in a text; `scrub` replaces each with this ticket's own fact when it plays
the same part (the amount the other client asked about -> the amount this client asks about) or
with a marked blank for the agent (`[amount]`, `[reference]`, ...). `letter_parts` separates a
message's greeting and sign-off (with the signature under it) from its body, and
`drop_attachment_claims` removes "I have attached ..." from text that has no attachment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

BLANKS = {
    "amount": "[amount]",
    "iban": "[IBAN]",
    "account": "[account number]",
    "reference": "[reference]",
    "date": "[date]",
    "time": "[time]",
    "name": "[name]",
    "email": "[email]",
    "phone": "[phone]",
    "address": "[address]",
    "figure": "[figure]",
}
BLANK = re.compile(r"\[(?:" + "|".join(re.escape(b[1:-1]) for b in BLANKS.values()) + r")\]")

_CURRENCY = (
    r"(?:USD|EUR|GBP|CHF|SGD|AED|AUD|JPY|CAD|HKD|SEK|NOK|DKK|CNY|INR|ZAR|NZD|SAR|QAR|"
    r"US\$|S\$|A\$|C\$|HK\$|\$|€|£|¥|Fr\.|SFr\.?)"
)
_CURRENCY_WORD = r"(?:euros?|dollars?|pounds?(?: sterling)?|francs?|dirhams?|yen)"
_NUMBER = r"\d{1,3}(?:(?:[,.'\u2019]|\s|\u00a0|\u202f)\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?"
_SCALE = (
    r"(?:\s?(?:k|K|m|M|bn|mn|mio\.?|Mio\.?|mln|Mrd\.?)(?![\w])|\s(?:million|millions|"
    r"thousand|billion|Millionen|millions?))"
)
_MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|Januar|Februar|März|"
    r"Mai|Juni|Juli|Oktober|Dezember|janvier|février|mars|avril|mai|juin|juillet|août|"
    r"septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|"
    r"agosto|septiembre|octubre|noviembre|diciembre)\.?"
)
_WEEKDAYS = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_DAY = r"\d{1,2}(?:st|nd|rd|th|\.)?"
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra|Sig|Sig\.ra|Dott)\.?"
_WORD = r"[A-Z][\w'\u2019-]+"
_NAME = rf"{_WORD}(?:\s+(?:van|von|de|der|da|di|du|le|la|al|bin|el)?\s*{_WORD}){{0,2}}"

# Kind -> pattern, tried in this order; a span taken by one kind is not matched again.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")),
    (
        "reference",
        re.compile(r"\b[A-Z]{1,5}(?:-[A-Z0-9]{1,8})*-\d{2,}[A-Z0-9]*(?:-[A-Z0-9]+)*\b|#\d{3,}\b"),
    ),
    # A number named by what it is: only the number is the fact (group `v`).
    (
        "reference",
        re.compile(
            r"\b(?:order|ticket|case|reference|ref\.?|instruction|deal|contract|complaint|claim|"
            r"policy|plan|request|transaction|PIN|user ?ID|username|login)\s*(?:no\.?\s*|number\s+|"
            r"#|:\s*)?(?P<v>(?=[\w.-]*\d)[\w.-]{3,}\w)",
            re.IGNORECASE,
        ),
    ),
    (
        "phone",
        re.compile(
            r"(?<![\w+])\+\d{1,3}(?:[\s-]?\(?\d{1,4}\)?){2,6}(?!\w)"
            r"|\b0\d{2,4}\s\d{3}\s?\d{3,4}\b"
        ),
    ),
    (
        "amount",
        re.compile(
            rf"(?<![\w.,]){_CURRENCY}\s?(?:{_NUMBER})(?:{_SCALE})?(?![\w])"
            rf"|(?<![\w.,])(?:{_NUMBER})(?:{_SCALE})?\s?(?:{_CURRENCY}|{_CURRENCY_WORD})(?![\w])"
        ),
    ),
    (
        "date",
        re.compile(
            rf"\b(?:{_WEEKDAYS},?\s+)?{_DAY}\s+(?:of\s+|de\s+)?{_MONTHS}(?:\s+\d{{4}})?\b"
            rf"|\b(?:{_WEEKDAYS},?\s+)?{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
            r"|\b\d{4}-(?:0?[1-9]|1[0-2])-\d{2}\b"
            r"|\b(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|1[0-2])\1(?:\d{4}|\d{2})\b"
            rf"|\b{_WEEKDAYS}\b"
        ),
    ),
    (
        "time",
        re.compile(
            r"\b\d{1,2}[:h]\d{2}\b(?:\s?(?:am|pm|CET|CEST|GMT|BST|UTC))?"
            r"|\b\d{1,2}\s?(?:am|pm)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "address",
        re.compile(
            r"\b\d{1,4}[a-z]?,?\s+(?:Rue|Via|Viale|Calle|Avenida|Avenue|Place|Piazza|Plaza)\s+"
            r"(?:d[eu']\s?|de la\s|della\s|del\s)?[A-Z][\w'-]+(?:\s[A-Z][\w'-]+)?"
            r"|\b\d{1,4}[a-z]?\s+(?:[A-Z][\w'-]+\s+){1,3}(?:Street|St\.|Road|Rd\.?|Avenue|Ave\.?|"
            r"Lane|Way|Square|Drive|Close|Strasse|Straße|Gasse|Weg|Platz|straat|laan)\b"
            r"|\b(?:[A-Z][a-zß]+(?:strasse|straße|gasse|weg|platz))\s+\d{1,4}[a-z]?\b"
            r"|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"
        ),
    ),
    (
        "account",
        re.compile(
            r"\b\d{2,6}(?:[-./]\d{1,10}){1,3}\b|\b\d{3,}-[A-Z]{3}\b|\b[A-Z]{1,2}\d{6,9}\b"
            r"|\b\d{5,}\b"
        ),
    ),
    ("account", re.compile(r"\bending\s+(?:in\s+|with\s+)?(?P<v>\d{3,4})\b")),
    (
        "figure",
        re.compile(
            r"\b\d+(?:[.,]\d+)?\s+(?:percentage\s+)?points?\b"
            r"|\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b|\b\d+[.,]\d{2,}\b(?!\s?%)"
        ),
    ),
]
_PERCENT = re.compile(r"\b\d+(?:[.,]\d+)?\s?%")
_YOUR = re.compile(r"\byour\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


@dataclass(frozen=True)
class Fact:
    kind: str
    start: int
    end: int
    text: str

    @property
    def key(self) -> str:
        """What compares equal across formats: digits for numbers, letters and digits else."""
        if self.kind in {"amount", "account", "figure", "phone", "iban"}:
            digits = re.sub(r"\D", "", self.text)
            if self.kind == "amount" and re.search(
                r"[.,]\d{2}$", self.text.split()[0] if self.text[0].isdigit() else self.text
            ):
                digits = digits[:-2] if digits.endswith("00") else digits
            return digits
        return re.sub(r"\W", "", self.text).lower()


def find(text: str) -> list[Fact]:
    """Every detail of `text` that identifies a client, an account or an event, in order."""
    taken: list[tuple[int, int]] = []
    found: list[Fact] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            group = "v" if "v" in pattern.groupindex and match.group("v") else 0
            start, end = match.span(group)
            value = match.group(group)
            if value.strip() and free(start, end):
                if kind == "account" and re.fullmatch(r"(?:19|20)\d{2}", value):
                    continue  # a bare year is not an account number
                taken.append((start, end))
                found.append(Fact(kind, start, end, value))
    # A percentage about the client's own holdings is theirs; a fee scale is the firm's.
    for sentence in _SENTENCE.finditer(text):
        if _YOUR.search(sentence.group(0)):
            for match in _PERCENT.finditer(sentence.group(0)):
                start, end = sentence.start() + match.start(), sentence.start() + match.end()
                if free(start, end):
                    taken.append((start, end))
                    found.append(Fact("figure", start, end, match.group(0)))
    return sorted(found, key=lambda f: f.start)


# --- names ------------------------------------------------------------------------------------

_GREETING_LINE = re.compile(
    r"^\s*(?:dear|hi|hello|hey|good (?:morning|afternoon|evening)|bonjour|bonsoir|hallo|"
    r"guten tag|liebe[rs]?|sehr geehrte[rs]?|hola|estimad[oa]|ciao|buongiorno|gentile|beste|"
    r"geachte|hej)\b[^\n]*$",
    re.IGNORECASE,
)
_SIGN_OFF_LINE = re.compile(
    r"^\s*(?:(?:kind|best|warm|warmest|many|with|yours|all the|kindest|sincere)\s+)?"
    r"(?:regards|wishes|thanks|sympathy|best|cheers|sincerely|thank you|faithfully|truly|"
    r"respect|condolences)(?:\s+\w+){0,2}\s*[,.!]?\s*$"
    r"|^\s*(?:yours (?:sincerely|faithfully|truly)|mit freundlichen grüßen|freundliche grüße|"
    r"viele grüße|beste grüße|cordialement|bien à vous|salutations(?: distinguées)?|"
    r"bien cordialement|saludos(?: cordiales)?|un saludo|atentamente|cordiali saluti|"
    r"distinti saluti|met vriendelijke groet(?:en)?|groeten|vriendelijke groet)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_QUOTE_START = re.compile(
    r"^\s*(?:>|on .{4,80} wrote:$|-{2,}\s*original message|from:\s)", re.IGNORECASE
)
_GREETING_NAME = re.compile(rf"^\s*\w+(?:\s\w+)?\s+(?:{_TITLES}\s+)*({_NAME})\s*[,!:]?\s*$")
_NAME_CONTEXT = re.compile(
    rf"\b(?:{_TITLES})\s+({_NAME})"
    rf"|\b(?:colleague|adviser|advisor|manager|banker|son|daughter|wife|husband|father|mother|"
    rf"brother|sister|partner|spouse|in favour of|in favor of|on behalf of|named|called)"
    rf"(?:,)?\s+(?:{_TITLES}\s+)?({_NAME})"
)


@dataclass(frozen=True)
class Letter:
    greeting: str
    body: str
    sign_off: str  # the sign-off line and the signature under it


def letter_parts(text: str) -> Letter:
    """Greeting line, body, and the sign-off with its signature (empty when absent). Quoted
    history under the message goes with the sign-off: it is never part of the body."""
    lines = (text or "").strip().splitlines()
    greeting = ""
    if lines and _GREETING_LINE.match(lines[0]) and len(lines[0].split()) <= 10:
        greeting = lines.pop(0)
    cut = next(
        (
            i
            for i, line in enumerate(lines)
            if _SIGN_OFF_LINE.match(line) or _QUOTE_START.match(line)
        ),
        len(lines),
    )
    if cut == len(lines) and len(lines) >= 2 and _looks_like_signature(lines[-1]):
        cut = len(lines) - 1  # "...\nMaria" with no sign-off words
    return Letter(greeting, "\n".join(lines[:cut]).strip(), "\n".join(lines[cut:]).strip())


def has_title(text: str) -> bool:
    return bool(re.search(rf"\b{_TITLES}\s+[A-Z]", text or ""))


def is_greeting(line: str) -> bool:
    return bool(_GREETING_LINE.match(line)) and len(line.split()) <= 6


def is_sign_off(line: str) -> bool:
    return bool(_SIGN_OFF_LINE.match(line))


def _looks_like_signature(line: str) -> bool:
    return bool(re.fullmatch(rf"\s*{_NAME}\s*", line)) and len(line.split()) <= 3


def names_in(text: str, known: Iterable[str] = ()) -> set[str]:
    """Person names of a message: in its greeting, its signature, after a title or a role
    ("your adviser Kwame Mensah"), and the `known` ones (e.g. the ticket's client)."""
    names = {n.strip() for n in known if n and n.strip()}
    letter = letter_parts(text)
    if letter.greeting:
        match = _GREETING_NAME.match(letter.greeting)
        if match:
            names.add(match.group(1))
    for line in letter.sign_off.splitlines()[1:4]:
        if _looks_like_signature(line):
            names.add(line.strip())
    for match in _NAME_CONTEXT.finditer(text):
        names.add(match.group(1) or match.group(2))
    return {re.sub(r"['\u2019]s$", "", n) for n in names if n}


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    parts = {
        p
        for name in names
        for p in {name, *re.split(r"\s+", name)}
        if len(p) > 2 and p[0].isupper()
    }
    parts -= {"The", "Dear", "Your", "Our", "Client", "Services", "Team", "Support", "Desk"}
    if not parts:
        return None
    ordered = sorted(parts, key=len, reverse=True)  # "Patrick Walsh" before "Walsh"
    return re.compile(r"(?<![\w])(?:" + "|".join(re.escape(p) for p in ordered) + r")(?![\w])")


def replace_names(text: str, replacements: dict[str, str]) -> str:
    """One pass over `text`, longest name first, each name (or part of one) replaced by what
    `replacements` maps it to; parts not mapped become `[name]`."""
    pattern = _name_pattern(replacements)
    if pattern is None:
        return text
    lookup: dict[str, str] = {}
    for name in replacements:
        for part in re.split(r"\s+", name):
            lookup.setdefault(part, BLANKS["name"])
    lookup.update(replacements)
    return pattern.sub(lambda m: lookup.get(m.group(0), BLANKS["name"]), text)


# --- scrubbing --------------------------------------------------------------------------------


def scrub(
    text: str,
    *,
    source_question: str = "",
    own_text: str = "",
    names: Iterable[str] = (),
    source_clients: Iterable[str] = (),
    client_first_name: str = "",
    keep: Iterable[str] = (),
) -> str:
    """`text` (a past answer's body) with every fact replaced: by this ticket's own fact when
    the source used it in the same part (the other client's amount -> this client's amount,
    when each message names exactly one), else by a marked blank. The source's client
    (`source_clients`) becomes this client's first name; other `names` become `[name]`;
    anything in `keep` (this ticket's own details) is left alone."""
    own = find(own_text)
    asked = {(f.kind, f.key) for f in find(source_question)}
    keep_keys = {(f.kind, f.key) for f in own} | {(f.kind, f.key) for k in keep for f in find(k)}
    single_own = {kind: [f for f in own if f.kind == kind] for kind in BLANKS}
    out, last = [], 0
    for fact in find(text):
        out.append(text[last : fact.start])
        replacement = BLANKS[fact.kind]
        if (fact.kind, fact.key) in keep_keys:
            replacement = fact.text
        elif (fact.kind, fact.key) in asked and len(single_own[fact.kind]) == 1:
            replacement = single_own[fact.kind][0].text
        out.append(replacement)
        last = fact.end
    out.append(text[last:])
    scrubbed = "".join(out)
    keep_names = {n for n in keep if n}
    mapping = dict.fromkeys(set(names) - keep_names, BLANKS["name"])
    for client in {n for n in source_clients if n} - keep_names:
        # The other client's first name (or full name) becomes this client's first name; a
        # surname alone ("Mrs Walsh") becomes a blank.
        mapping[client] = client_first_name or BLANKS["name"]
        parts = client.split()
        if len(parts) > 1:
            mapping[parts[0]] = client_first_name or BLANKS["name"]
    return replace_names(scrubbed, mapping)


def scrub_names(text: str, names: Iterable[str], keep: Iterable[str] = ()) -> str:
    """`text` with `names` (but not those in `keep`) replaced by `[name]`."""
    return replace_names(text, dict.fromkeys(set(names) - {k for k in keep if k}, BLANKS["name"]))


def foreign(
    draft: str, sources: Iterable[str], own_text: str, names: Iterable[str] = ()
) -> list[str]:
    """Details of `sources` (and `names`) that appear in `draft` but not in this ticket
    (`own_text`): what the post-check flags and removes from a generated draft."""
    mine = {(f.kind, f.key) for f in find(own_text)}
    theirs = {(f.kind, f.key): f.text for s in sources for f in find(s)}
    leaked = [
        f.text for f in find(draft) if (f.kind, f.key) in theirs and (f.kind, f.key) not in mine
    ]
    pattern = _name_pattern(_not_in(names, own_text))
    if pattern is not None:
        leaked += [m.group(0) for m in pattern.finditer(draft)]
    return leaked


def _not_in(names: Iterable[str], text: str) -> set[str]:
    """The names (and name parts) that `text` does not mention as words."""
    parts = {p for n in names if n for p in {n, *n.split()} if len(p) > 2}
    return {p for p in parts if not re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text, re.IGNORECASE)}


def remove_foreign(
    draft: str, sources: Iterable[str], own_text: str, names: Iterable[str] = ()
) -> str:
    """`draft` with the details `foreign` finds replaced by marked blanks."""
    mine = {(f.kind, f.key) for f in find(own_text)}
    theirs = {(f.kind, f.key) for s in sources for f in find(s)}
    out, last = [], 0
    for fact in find(draft):
        if (fact.kind, fact.key) in theirs and (fact.kind, fact.key) not in mine:
            out += [draft[last : fact.start], BLANKS[fact.kind]]
            last = fact.end
    cleaned = "".join([*out, draft[last:]])
    pattern = _name_pattern(_not_in(names, own_text))
    return pattern.sub(BLANKS["name"], cleaned) if pattern is not None else cleaned


# --- attachments ------------------------------------------------------------------------------

_ATTACH_CLAIM = re.compile(
    r"\b(?:I|we)\s+(?:have\s+|'ve\s+|am\s+|are\s+)?(?:attached|enclosed|attaching|enclosing|"
    r"attach|enclose)\b|\b(?:please\s+)?(?:find|see)\s+(?:the\s+)?(?:attached|enclosed)\b|"
    r"\battached\s+(?:is|are|you will find|please find)\b|\b(?:is|are)\s+(?:attached|enclosed)\b|"
    r"\bin the attachment\b|\bas an attachment\b|\bci-joint\b|\bim anhang\b|\banbei\b|\badjunto\b|"
    r"\bin allegato\b",
    re.IGNORECASE,
)
_ATTACHED_ADJECTIVE = re.compile(r"\b(the|a|an|our)\s+(?:attached|enclosed)\s+", re.IGNORECASE)
_ANY_ATTACH = re.compile(r"\battach\w*|\benclos\w*", re.IGNORECASE)


def claims_attachment(text: str) -> bool:
    return bool(_ATTACH_CLAIM.search(text) or _ATTACHED_ADJECTIVE.search(text))


def drop_attachment_claims(text: str) -> str:
    """Remove statements that something is attached: the clause that says so, or the whole
    sentence; "the attached form" becomes "the form" (the agent attaches it, or not).
    Paragraphs stay paragraphs."""
    paragraphs = [_drop_in_paragraph(p) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p)


def _drop_in_paragraph(text: str) -> str:
    kept: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        clauses = [c for c in re.split(r"\s*;\s*", sentence) if not _ATTACH_CLAIM.search(c)]
        if not clauses:
            continue
        rebuilt = "; ".join(clauses)
        rebuilt = _ATTACHED_ADJECTIVE.sub(lambda m: f"{m.group(1)} ", rebuilt)
        if _ANY_ATTACH.search(rebuilt):
            continue
        if not re.search(r"[.!?\]]$", rebuilt):
            rebuilt += "."
        kept.append(rebuilt[0].upper() + rebuilt[1:])
    return " ".join(kept)

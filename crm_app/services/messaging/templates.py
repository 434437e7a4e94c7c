"""WhatsApp's approved template messages: what a business may send outside the 24-hour
customer-service window. A manager lists each provider's templates on the channel settings page
(or in `CRM_WHATSAPP_TEMPLATES` / `TWILIO_WHATSAPP_TEMPLATES`), one a line:

- Meta: `name | language | body`, the template's name and language code as approved in
  WhatsApp Manager. The older `name:language, name2:language` is read too.
- Twilio: `ContentSid | friendly name | language | body`, the Content template's SID
  (`HX` and 32 hex digits).

A line break in a body is written `\\n`.

The body is the template's text with its positional variables `{{1}}`, `{{2}}`: it gives how
many values the agent fills in and the composer's preview. Only the name and language (Meta) or
the ContentSid (Twilio) and the values go to the provider, which holds the approved text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from crm_app.services.errors import InvalidInput
from models.messaging import Provider

CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
# Meta's rule for template names: lowercase letters, digits and underscores.
_META_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:_[A-Za-z0-9]{2,4})?$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\d{1,3})\s*\}\}")
MAX_TEMPLATES = 50
MAX_FRIENDLY_NAME = 100
MAX_BODY = 1024  # WhatsApp's limit on a template's body text, variables filled in
MAX_VARIABLES = 20
MAX_VALUE = 256  # one variable's value (this CRM's limit, well inside the body's)
DEFAULT_LANGUAGE = {Provider.META.value: "en_US", Provider.TWILIO.value: "en"}


@dataclass(frozen=True)
class Template:
    provider: str  # "meta" or "twilio"
    name: str  # Meta: the template's name; Twilio: its friendly name
    language: str
    body: str = ""
    content_sid: str = ""  # Twilio only

    @property
    def key(self) -> str:
        """What identifies it among the provider's templates (the composer's choice)."""
        return self.content_sid or f"{self.name}:{self.language}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def variable_count(self) -> int:
        return len({int(n) for n in _PLACEHOLDER.findall(self.body)})

    def line(self) -> str:
        """The template as a manager writes it (how it is stored)."""
        fields = [self.content_sid] if self.content_sid else []
        fields += [self.name, self.language]
        if self.body:
            fields.append(self.body.replace("\n", "\\n"))
        return " | ".join(fields)


@dataclass(frozen=True)
class Parsed:
    templates: tuple[Template, ...]
    problems: tuple[str, ...]  # one sentence per line that is not a template


def render(body: str, values: Sequence[str], *, keep_blank: bool = True) -> str:
    """The body with each `{{n}}` replaced by the n-th value, in one pass (a value that itself
    reads `{{2}}` stays as it is). A blank value keeps its placeholder (the preview)."""

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        value = values[index] if 0 <= index < len(values) else ""
        return value if value or not keep_blank else match.group(0)

    return _PLACEHOLDER.sub(fill, body)


def _fields(line: str, provider: str) -> list[str]:
    parts = [p.strip() for p in line.split("|", 3 if provider == Provider.TWILIO.value else 2)]
    if provider == Provider.META.value and len(parts) == 1 and ":" in parts[0]:
        parts = [p.strip() for p in parts[0].split(":", 1)]  # the older `name:language`
    return parts


def _body_problem(body: str) -> str:
    numbers = sorted({int(n) for n in _PLACEHOLDER.findall(body)})
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        return "its variables must be numbered {{1}}, {{2}}, … without gaps"
    if len(numbers) > MAX_VARIABLES:
        return f"it has more than {MAX_VARIABLES} variables"
    if len(body) > MAX_BODY:
        return f"its body is longer than {MAX_BODY:,} characters"
    return ""


def _one(line: str, provider: str) -> Template | str:
    """A template from one line, or why the line is not one."""
    parts = _fields(line, provider)
    content_sid = ""
    if provider == Provider.TWILIO.value:
        content_sid = parts.pop(0)
        if not CONTENT_SID.match(content_sid):
            return f"“{content_sid[:40]}” is not a ContentSid (HX and 32 hex digits)"
    name = parts[0] if parts else ""
    language = (parts[1] if len(parts) > 1 else "") or DEFAULT_LANGUAGE[provider]
    body = (parts[2] if len(parts) > 2 else "").replace("\\n", "\n")  # `\n`: a line break
    if provider == Provider.META.value and not _META_NAME.match(name):
        return f"“{name[:40]}” is not a template name (lowercase letters, digits and _)"
    if provider == Provider.TWILIO.value and not 0 < len(name) <= MAX_FRIENDLY_NAME:
        return f"{content_sid} needs a friendly name of at most {MAX_FRIENDLY_NAME} characters"
    if not _LANGUAGE.match(language):
        return f"“{language[:20]}” is not a language code (en, en_US, pt_BR)"
    problem = _body_problem(body)
    if problem:
        return f"template “{name[:40]}”: {problem}"
    return Template(provider, name, language, body, content_sid)


def parse(raw: str, provider: str) -> Parsed:
    """The templates written in `raw` (one a line; Meta's older form may be comma-separated)."""
    lines = [line.strip() for line in (raw or "").splitlines()]
    if provider == Provider.META.value:
        # `a:en_US, b:de` (the older form) is one template per comma; a body may hold commas.
        lines = [
            part.strip()
            for line in lines
            for part in (line.split(",") if "|" not in line else [line])
        ]
    found: dict[str, Template] = {}
    problems: list[str] = []
    for number, line in enumerate((line for line in lines if line), start=1):
        template = _one(line, provider)
        if isinstance(template, str):
            problems.append(f"Line {number}: {template}.")
        elif template.key in found:
            problems.append(f"Line {number}: {template.label} is listed twice.")
        else:
            found[template.key] = template
    if len(found) > MAX_TEMPLATES:
        problems.append(f"At most {MAX_TEMPLATES} templates can be listed.")
    return Parsed(tuple(found.values())[:MAX_TEMPLATES], tuple(problems))


def text(templates: Sequence[Template]) -> str:
    return "\n".join(template.line() for template in templates)


def _value_problem(value: str) -> str:
    if not value.strip():
        return "is empty"
    if len(value) > MAX_VALUE:
        return f"is longer than {MAX_VALUE} characters"
    # WhatsApp refuses a parameter with a line break, a tab or more than four spaces in a row.
    if " " * 5 in value or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        return "may not hold line breaks, tabs, control characters or more than 4 spaces in a row"
    return ""


def checked_values(template: Template, values: object) -> tuple[str, ...]:
    """The values for the template's variables as given, or InvalidInput saying what is wrong
    (the number of values, an empty or overlong one, line breaks, the filled-in length)."""
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise InvalidInput("The template's values were not understood.")
    expected = template.variable_count
    if len(values) != expected:
        raise InvalidInput(
            f"“{template.label}” takes {expected} value{'s' if expected != 1 else ''}; "
            f"{len(values)} {'was' if len(values) == 1 else 'were'} given."
        )
    cleaned = tuple(v.strip() for v in values)
    for index, value in enumerate(cleaned, start=1):
        problem = _value_problem(value)
        if problem:
            raise InvalidInput(f"{{{{{index}}}}} {problem}.")
    filled = render(template.body, cleaned)
    if len(filled) > MAX_BODY:
        raise InvalidInput(
            f"Filled in, the message has {len(filled):,} characters; WhatsApp allows "
            f"{MAX_BODY:,} in a template."
        )
    return cleaned

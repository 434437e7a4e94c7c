"""The compliance check every draft passes before an agent sees it: flags statements a
regulated advisory firm must not send as they stand (promised returns, guarantees, advice with
no suitability note, investment talk with no disclaimer)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

FINANCE_DISCLAIMER = (
    "This message is for information only and is not personal investment advice. The value of "
    "investments can fall as well as rise, and past performance is not a reliable guide to "
    "future returns."
)

INVESTMENT_TOPIC = re.compile(
    r"\b(invest\w*|portfolio\w*|funds?|stocks?|equit(?:y|ies)|bonds?|returns?|yield\w*|"
    r"allocation|etfs?|rebalanc\w*|shares?|securities|dividends?|risk profile)\b",
    re.IGNORECASE,
)

_RULES: list[tuple[str, str, re.Pattern[str]]] = [
    (
        "guarantee",
        "Guarantees about money outcomes are not allowed.",
        re.compile(
            r"\bguarantee[sd]?\b[^.\n]{0,80}|\bcan(?:no|')t lose\b[^.\n]{0,40}|"
            r"\brisk[- ]free\b[^.\n]{0,60}|\bno risk\b[^.\n]{0,60}",
            re.IGNORECASE,
        ),
    ),
    (
        "promised_return",
        "Do not promise a return or performance figure.",
        re.compile(
            r"\b(?:you|it|this|your \w+) (?:will|shall) (?:earn|make|return|yield|gain|grow|"
            r"double|deliver)\b[^.\n]{0,80}|\b\d+(?:\.\d+)?\s?%\s+(?:a|per) (?:year|annum|"
            r"month)\b[^.\n]{0,40}(?:guarantee|assured|certain)",
            re.IGNORECASE,
        ),
    ),
]
_ADVICE = re.compile(
    r"\b(?:you should|i (?:would )?recommend|we (?:would )?recommend|"
    r"i suggest|we suggest|i advise|we advise)\b[^.\n]{0,30}\b(?:buy|sell|invest|"
    r"move|switch|put|allocate|transfer)\b[^.\n]{0,80}",
    re.IGNORECASE,
)
_SUITABILITY = re.compile(
    r"suitab\w*|risk profile|personal circumstances|"
    r"not (?:personal )?(?:investment|financial) advice|"
    r"speak (?:to|with) your advis",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ComplianceFlag:
    kind: str
    message: str
    excerpt: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def touches_investments(text: str) -> bool:
    return bool(INVESTMENT_TOPIC.search(text or ""))


def check(draft: str) -> list[ComplianceFlag]:
    """Risky statements in a draft, each with the words that triggered it."""
    flags: list[ComplianceFlag] = []
    for kind, message, pattern in _RULES:
        flags += [
            ComplianceFlag(kind, message, m.group(0).strip()[:160]) for m in pattern.finditer(draft)
        ]
    # The standard disclaimer is not a suitability note: judge the reply without it.
    body = draft.replace(FINANCE_DISCLAIMER, "")
    advice = _ADVICE.search(body)
    if advice and not _SUITABILITY.search(body):
        flags.append(
            ComplianceFlag(
                "advice_without_suitability",
                "A recommendation needs a suitability note (the client's risk profile and "
                "circumstances).",
                advice.group(0).strip()[:160],
            )
        )
    if (
        touches_investments(body)
        and FINANCE_DISCLAIMER not in draft
        and not re.search(
            r"not (?:personal )?(?:investment|financial) advice", draft, re.IGNORECASE
        )
    ):
        flags.append(
            ComplianceFlag(
                "missing_disclaimer", "The reply touches investments but has no disclaimer.", ""
            )
        )
    return flags


def check_grounding(draft: str, *, sources: list[str], own_text: str) -> list[ComplianceFlag]:
    """The checks a draft built from past answers gets on top of `check`: no detail of a
    source that is not this ticket's (amounts, numbers, names, dates), no claim of an
    attachment, one sign-off."""
    from crm_app.ai import facts

    flags = [
        ComplianceFlag(
            "foreign_fact", "This detail comes from another client's case, not this one.", leaked
        )
        for leaked in dict.fromkeys(facts.foreign(draft, sources, own_text))
    ]
    if facts.claims_attachment(draft):
        flags.append(
            ComplianceFlag(
                "attachment_claim",
                "The draft says something is attached: attach it or remove the sentence.",
                "",
            )
        )
    sign_offs = [line for line in draft.splitlines() if facts.is_sign_off(line)]
    if len(sign_offs) > 1:
        flags.append(
            ComplianceFlag(
                "several_sign_offs",
                "The draft signs off more than once.",
                " / ".join(sign_offs)[:160],
            )
        )
    return flags

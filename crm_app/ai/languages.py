"""Which language each client question is written in, offline (py3langid's naive Bayes model over
byte n-grams, shipped in the package).

Used by the FAQ clustering: the offline sentence encoder is English-only, so questions in another
language land near each other whatever they ask. Knowing the language lets the clustering remove
that shared direction (see `faq_clusters`).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# The languages a European wealth desk's clients write in, and a few more. A closed list keeps
# short questions ("card rejected again!!") from being read as a rarely written language.
LANGUAGES = (
    *("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "no", "fi", "cs", "sk"),
    *("hu", "ro", "el", "tr", "ru", "uk", "ar", "zh", "ja"),
)
MIN_CONFIDENCE = 0.5  # below it, a question counts as written in the window's main language


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect(texts: list[str]) -> list[str]:
    """An ISO 639-1 code per text. A text the model is unsure of (short, mixed, empty) gets the
    most common confident language among the texts (English when none is confident)."""
    identifier = _identifier()
    guesses = [identifier.classify(t) if t and t.strip() else ("", 0.0) for t in texts]
    confident = [lang for lang, p in guesses if lang and p >= MIN_CONFIDENCE]
    main = Counter(confident).most_common(1)[0][0] if confident else "en"
    return [lang if lang and p >= MIN_CONFIDENCE else main for lang, p in guesses]


def other_language_probability(texts: list[str]) -> list[float]:
    """For each text on its own, the probability of its likeliest language other than English
    (0..1); 0 for an empty text. A short English query ("reset pin", "refund missing") spreads
    its probability over many languages, so none of them gets much; a real sentence in another
    language gets most of it."""
    identifier = _identifier()
    return [
        max((p for lang, p in identifier.rank(t) if lang != "en"), default=0.0)
        if t and t.strip()
        else 0.0
        for t in texts
    ]

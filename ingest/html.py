"""HTML for display (sanitized with nh3) and HTML as readable text."""

from __future__ import annotations

import functools
import re

import html2text
import nh3

_ALLOWED_TAGS = (nh3.ALLOWED_TAGS - {"img"}) | {
    "img", "font", "center", "span", "div", "table", "thead", "tbody", "tfoot", "tr", "td",
    "th", "caption", "col", "colgroup", "u", "s", "strike", "small", "big", "hr", "br", "p",
    "pre", "blockquote", "sub", "sup",
}  # fmt: skip
_GENERIC_ATTRS = {"style", "align", "valign", "width", "height", "dir", "lang", "title", "class"}
_ALLOWED_ATTRS: dict[str, set[str]] = {
    "*": _GENERIC_ATTRS,
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "width", "height", "border"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor"},
    "td": {"colspan", "rowspan", "bgcolor", "nowrap"},
    "th": {"colspan", "rowspan", "bgcolor", "nowrap"},
    "tr": {"bgcolor"},
    "ol": {"start", "type"},
    "col": {"span"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
# Styles that fetch remote content (tracking pixels in CSS) or run code in old engines.
_DANGEROUS_STYLE = re.compile(
    r"url\s*\(|expression\s*\(|@import|behavior\s*:|javascript:", re.IGNORECASE
)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style" and _DANGEROUS_STYLE.search(value):
        return None
    if tag == "img" and attribute == "src":
        # Only inline images travel with the mail; any other source is remote content that
        # tells the sender when (and whether) the mail was opened.
        lowered = value.strip().lower()
        if lowered.startswith("cid:"):
            return value.strip()
        if lowered.startswith("data:image/") and not lowered.startswith("data:image/svg"):
            return value.strip()
        return None
    return value


@functools.cache
def _cleaner() -> nh3.Cleaner:
    """One reusable sanitizer: `nh3.clean` would rebuild these rules on every call."""
    return nh3.Cleaner(
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRS,
        url_schemes=_URL_SCHEMES | {"data"},
        attribute_filter=_filter_attribute,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def sanitize_html(html: str) -> str:
    """HTML safe to show in the CRM: no scripts, handlers, forms or remote images; cid: kept."""
    return _cleaner().clean(html)


_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML (paragraphs and lists kept, markup dropped)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    converter.ignore_emphasis = True
    converter.ignore_tables = False
    converter.unicode_snob = True
    try:
        text = converter.handle(html)
    except Exception:  # html2text is a hand-written parser; fall back to stripping tags
        text = nh3.clean(html, tags=set())
    return _BLANK_LINES.sub("\n\n", text).strip()

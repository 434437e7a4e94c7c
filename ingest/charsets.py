"""Decoding text whose declared charset is missing, unknown or wrong, as real mail's often is."""

from __future__ import annotations

import codecs

# Declared names mapped to the superset real senders actually use (as browsers do): mail
# labelled gb2312 is routinely GBK/GB18030, "iso-8859-1" is routinely windows-1252, etc.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "cp936": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "default": "",
    "charset": "",
}

# Single-byte charsets under which any byte string decodes "successfully", so a clean decode
# proves nothing: valid UTF-8 labelled as one of these is far more likely UTF-8.
_PERMISSIVE = {"cp1252", "latin-1", "iso8859-1", "iso8859-15", "cp1250", "cp1251", "cp1254"}

_DETECT_LIMIT = 64 * 1024
_MIN_CONFIDENCE = 0.2


def normalize_charset(declared: str | None) -> str | None:
    """The Python codec to try for a declared charset name, or None when it is unusable."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").lower()
    if not name:
        return None
    name = _SUPERSETS.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def detect_charset(data: bytes) -> str | None:
    """A guess at the charset of undeclared or mislabelled bytes (None when unsure)."""
    import chardet  # imported on first use: most mail never needs it, and PST children start faster

    try:
        guess = chardet.detect(data[:_DETECT_LIMIT])
    except Exception:  # the detector is a heuristic; never let it fail a message
        return None
    encoding = guess.get("encoding")
    if not encoding or (guess.get("confidence") or 0) < _MIN_CONFIDENCE:
        return None
    return normalize_charset(encoding)


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode bytes to text; return the text and the codec actually used.

    Order: the declared charset (widened to its common superset) when it decodes cleanly and
    is not contradicted by valid UTF-8; then UTF-8; then detection; then windows-1252.
    """
    codec = normalize_charset(declared)
    is_ascii = data.isascii()
    if is_ascii and codec in (None, "cp1252", "utf-8", "ascii"):
        return data.decode("ascii"), "ascii"
    if codec and codec != "utf-8" and not (codec in _PERMISSIVE and not is_ascii):
        try:
            return data.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if codec in _PERMISSIVE:
        # A permissive single-byte label that is not UTF-8: trust the label over a guess.
        return data.decode(codec, errors="replace"), codec
    detected = detect_charset(data)
    if detected:
        try:
            return data.decode(detected, errors="replace"), detected
        except LookupError:
            pass
    return data.decode("cp1252", errors="replace"), "cp1252"


def decode_surrogate_escaped(value: str) -> str:
    """Fix a str holding raw 8-bit bytes as surrogates (how the email package keeps them)."""
    try:
        raw = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value  # already real text
    return decode_text(raw)[0]

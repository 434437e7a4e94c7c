"""The text of an attachment, for search: plain text and HTML as they are, PDF pages (pypdf)
and Word documents (the XML inside a .docx), within fixed limits.

An archive is written by others, so an attachment may be corrupt, encrypted, enormous or built to
hurt a parser. Nothing here raises for such a file: `attachment_text` answers with the text it
could read and, when it read none, the reason, which the caller records on the item. Limits:
a document larger than `MAX_DOCUMENT_BYTES` is not parsed, a PDF is read for its first
`MAX_PDF_PAGES` pages, and the text is cut at `max_chars`.

`kind_of(filename, content_type)` decides which attachments are worth keeping while a message
is read (a sink keeps those bytes, see `jobs/pst_ingest.TextAttachmentSink`), so the choice and
the reading live in one place.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from xml.etree import ElementTree

MAX_DOCUMENT_BYTES = 20 << 20  # a PDF or .docx is parsed whole: larger ones are listed only
MAX_TEXT_BYTES = 1 << 20  # plain text and HTML: the first MB is read
MAX_PDF_PAGES = 50
MAX_CHARS = 200_000
MAX_DOCX_XML_BYTES = 20 << 20  # the unzipped document.xml (a zip bomb stops here)

TEXT_SUFFIXES = (".txt", ".csv", ".md", ".log", ".xml", ".json", ".ics")
HTML_SUFFIXES = (".htm", ".html")
PDF_TYPES = ("application/pdf", "application/x-pdf")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class Kind(StrEnum):
    TEXT = "text"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"


@dataclass(frozen=True, slots=True)
class AttachmentText:
    text: str
    error: str | None = None  # why no text was read, when there is a reason worth recording


def kind_of(filename: str | None, content_type: str | None) -> Kind | None:
    """Which reader an attachment needs, or None when its text is not extracted."""
    name = (filename or "").lower()
    ctype = (content_type or "").lower().split(";")[0].strip()
    if ctype == "text/html" or name.endswith(HTML_SUFFIXES):
        return Kind.HTML
    if ctype in PDF_TYPES or name.endswith(".pdf"):
        return Kind.PDF
    if ctype == DOCX_TYPE or name.endswith(".docx"):
        return Kind.DOCX
    if ctype.startswith("text/") or name.endswith(TEXT_SUFFIXES):
        return Kind.TEXT
    return None


def byte_limit(kind: Kind) -> int:
    """How many bytes of an attachment of this kind are kept for reading: text is cut, a
    document is kept whole or not at all (`truncated` documents are skipped)."""
    return MAX_TEXT_BYTES if kind in (Kind.TEXT, Kind.HTML) else MAX_DOCUMENT_BYTES


def attachment_text(
    data: bytes, kind: Kind, *, truncated: bool = False, max_chars: int = MAX_CHARS
) -> AttachmentText:
    """The text of an attachment of `kind`; `truncated` says the bytes are only its beginning."""
    if kind in (Kind.TEXT, Kind.HTML):
        text = data[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")
        if kind is Kind.HTML:
            from ingest.html import html_to_text

            text = html_to_text(text)
        return AttachmentText(_clean(text, max_chars))
    if truncated or len(data) > MAX_DOCUMENT_BYTES:
        return AttachmentText("", f"larger than {MAX_DOCUMENT_BYTES >> 20} MB: text not read")
    if kind is Kind.PDF:
        return _pdf_text(data, max_chars)
    return _docx_text(data, max_chars)


def _clean(text: str, max_chars: int) -> str:
    text = text.replace("\x00", "")
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text)
    return text.strip()[:max_chars]


def _pdf_text(data: bytes, max_chars: int) -> AttachmentText:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file warns on every object
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:  # many PDFs are "encrypted" with an empty user password: readable
                if not reader.decrypt(""):
                    return AttachmentText("", "PDF is password-protected: text not read")
            except Exception:
                return AttachmentText("", "PDF is password-protected: text not read")
        parts: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            page_text = page.extract_text() or ""
            parts.append(page_text)
            size += len(page_text)
            if size >= max_chars:
                break
    except Exception as error:  # damaged or hostile files: pypdf raises many kinds, never fatal
        return AttachmentText("", f"PDF could not be read: {_reason(error)}")
    text = _clean("\n\n".join(parts), max_chars)
    return AttachmentText(text, None if text else "PDF has no text layer (a scan?)")


def _docx_text(data: bytes, max_chars: int) -> AttachmentText:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                return AttachmentText("", "Word document too large to read")
            with archive.open(info) as member:
                xml = member.read(MAX_DOCX_XML_BYTES + 1)
        if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:  # Word writes none: entity expansion bombs
            return AttachmentText("", "Word document declares entities: text not read")
        root = ElementTree.fromstring(xml)
    except Exception as error:  # damaged or hostile files (bad zip, bad XML): never fatal
        return AttachmentText("", f"Word document could not be read: {_reason(error)}")
    paragraphs = []
    for paragraph in root.iter(f"{_W}p"):
        runs = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                runs.append(node.text)
            elif node.tag == f"{_W}tab":
                runs.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                runs.append("\n")
        paragraphs.append("".join(runs))
    text = _clean("\n".join(paragraphs), max_chars)
    return AttachmentText(text, None if text else "Word document has no text")


def _reason(error: BaseException) -> str:
    message = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__

"""The text of attachments for the knowledge store: PDF, Word, text and HTML, and files that are
damaged, protected, oversized or hostile (never an exception, always a reason)."""

from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.attachment_text import (
    MAX_DOCUMENT_BYTES,
    Kind,
    attachment_text,
    byte_limit,
    kind_of,
)


def pdf_with_pages(*pages: str) -> bytes:
    """A real PDF (Helvetica text, one content stream per page) with a correct xref table."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(paragraphs: list[str], *, xml: bytes | None = None) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    document = (
        xml
        or (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>"
        ).encode()
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document)
    return out.getvalue()


def test_a_pdf_attachment_gives_the_text_of_its_pages():
    pdf = pdf_with_pages("Annual tax certificate 2025", "Dividends withheld at 15 percent")
    result = attachment_text(pdf, Kind.PDF)
    assert result.error is None
    assert "Annual tax certificate 2025" in result.text
    assert "Dividends withheld at 15 percent" in result.text


def test_a_pdf_locked_with_a_password_is_reported_and_one_with_an_empty_password_is_read():
    pdf = pdf_with_pages("Statement of account 4711")
    locked = attachment_text(encrypted(pdf, "client-password"), Kind.PDF)
    assert locked.text == ""
    assert locked.error == "PDF is password-protected: text not read"
    open_one = attachment_text(encrypted(pdf, ""), Kind.PDF)
    assert "Statement of account 4711" in open_one.text


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.4\n" + b"\x00\xff" * 500,
        pdf_with_pages("cut short")[:120],
        b"<html>not a pdf</html>",
    ],
    ids=["empty", "garbage", "truncated", "not-a-pdf"],
)
def test_a_damaged_pdf_gives_a_reason_and_no_exception(data):
    result = attachment_text(data, Kind.PDF)
    assert result.text == ""
    assert result.error and result.error.startswith(("PDF could not be read", "PDF has no text"))


def test_a_pdf_without_a_text_layer_says_so():
    result = attachment_text(pdf_with_pages(""), Kind.PDF)
    assert (result.text, result.error) == ("", "PDF has no text layer (a scan?)")


def test_a_document_too_large_or_cut_short_is_listed_without_being_parsed():
    pdf = pdf_with_pages("fits")
    assert attachment_text(pdf, Kind.PDF, truncated=True).error == (
        f"larger than {MAX_DOCUMENT_BYTES >> 20} MB: text not read"
    )
    assert attachment_text(b"x" * (MAX_DOCUMENT_BYTES + 1), Kind.DOCX).text == ""


def test_a_word_document_gives_its_paragraphs():
    result = attachment_text(docx(["Rebalancing proposal", "Move 10% into short bonds"]), Kind.DOCX)
    assert result.error is None
    assert result.text == "Rebalancing proposal\nMove 10% into short bonds"


def test_a_word_document_with_entity_declarations_is_refused_before_parsing():
    # "Billion laughs": each entity is two of the one before, 2**29 "lol"s once expanded.
    entities = [b'<!ENTITY e0 "lol">'] + [
        b'<!ENTITY e%d "&e%d;&e%d;">' % (i, i - 1, i - 1) for i in range(1, 30)
    ]
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE w [' + b"".join(entities) + b"]>"
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body><w:p><w:r><w:t>&e29;</w:t></w:r></w:p></w:body></w:document>"
    )
    result = attachment_text(docx([], xml=bomb), Kind.DOCX)
    assert (result.text, result.error) == ("", "Word document declares entities: text not read")


def test_a_file_named_docx_that_is_no_zip_gives_a_reason():
    result = attachment_text(b"PK\x03\x04 but not really", Kind.DOCX)
    assert result.text == ""
    assert result.error and result.error.startswith("Word document could not be read")


def test_text_and_html_are_read_up_to_their_limit():
    html = attachment_text(b"<p>Wire to <b>account</b></p><script>x()</script>", Kind.HTML)
    assert "Wire to account" in html.text and "x()" not in html.text
    assert attachment_text("Grüße\x00 aus Zürich".encode(), Kind.TEXT).text == "Grüße aus Zürich"
    assert byte_limit(Kind.TEXT) < byte_limit(Kind.PDF)


@pytest.mark.parametrize(
    ("filename", "content_type", "kind"),
    [
        ("Statement.PDF", "application/octet-stream", Kind.PDF),
        (None, "application/pdf; name=x.pdf", Kind.PDF),
        ("letter.docx", "application/octet-stream", Kind.DOCX),
        ("notes.txt", "application/octet-stream", Kind.TEXT),
        ("page.html", "", Kind.HTML),
        (None, "text/plain", Kind.TEXT),
        ("photo.jpg", "image/jpeg", None),
        ("old.doc", "application/msword", None),
    ],
)
def test_the_kind_of_an_attachment_comes_from_its_type_or_its_name(filename, content_type, kind):
    assert kind_of(filename, content_type) is kind

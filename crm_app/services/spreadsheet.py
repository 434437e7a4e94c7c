"""The one place the product writes CSV and XLSX files, so every file escapes formulas.

A cell a user controls ("=HYPERLINK(...)", "@SUM(...)", "-2+3+cmd|...") must never become a
formula when the file is opened in Excel, LibreOffice or Google Sheets (OWASP "CSV injection"):
text starting with = + - @ tab or CR is written as text. In CSV that means a leading
apostrophe; in XLSX a string cell with Excel's quote prefix, so the value itself is unchanged.
A plain number ("+447700900414", "-12.50") cannot carry a formula and is left as it is, so phone
numbers and amounts survive a round trip through the import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9.]*")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text)


def plain_value(value: Any) -> Any:
    """A Python value as a spreadsheet cell holds it: text, number, bool or ""."""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, int | float | bool):
        return value
    return str(value)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: formula-like text gets a leading apostrophe."""
    value = plain_value(value)
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def unescape_csv_cell(text: str) -> str:
    """Undo `csv_cell` on a file the product wrote, so an export imports back unchanged."""
    if text.startswith("'") and is_formula_like(text[1:]):
        return text[1:]
    return text


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A UTF-8 CSV with a BOM (Excel reads UTF-8 CSV only with it), every cell escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet_name: str = "Sheet1"
) -> bytes:
    """An XLSX workbook of one sheet; formula-like text is stored as quoted text, never `f`."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])

    def cell(value: Any) -> Any:
        value = plain_value(value)
        if not isinstance(value, str) or not is_formula_like(value):
            return value
        # openpyxl turns any string starting with "=" into a formula; force a text cell.
        typed = WriteOnlyCell(sheet, value=value)
        typed.data_type = "s"
        typed.quotePrefix = True
        return typed

    sheet.append([cell(c) for c in columns])
    for row in rows:
        sheet.append([cell(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def spreadsheet_bytes(
    fmt: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet_name: str = "Sheet1"
) -> bytes | None:
    """`csv_bytes` or `xlsx_bytes` by name; None for any other format."""
    if fmt == "csv":
        return csv_bytes(columns, rows)
    if fmt == "xlsx":
        return xlsx_bytes(columns, rows, sheet_name)
    return None

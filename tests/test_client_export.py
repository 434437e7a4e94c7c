"""CSV and XLSX export of the client list, as the actor may see it."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from crm_app.services import client_export, clients
from tests.factories import make_user


def test_export_never_turns_a_clients_text_into_a_spreadsheet_formula(db: str) -> None:
    agent = make_user("agent")
    clients.create_client(
        agent,
        name='=HYPERLINK("http://evil.example","x")',
        email="eve@x.example",
        phone="+44 20 7946 0958",
    )
    rows = list(
        csv.reader(io.StringIO(client_export.export_clients(agent, "csv").decode("utf-8-sig")))
    )
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["name"].startswith("'=HYPERLINK")
    assert record["phone"] == "+442079460958"  # numbers stay as they are
    sheet = load_workbook(io.BytesIO(client_export.export_clients(agent, "xlsx"))).active
    name = sheet.cell(row=2, column=3)
    assert name.value == '=HYPERLINK("http://evil.example","x")'
    assert name.data_type == "s" and name.quotePrefix  # text, never a formula


def test_marketing_exports_carry_no_finance_columns(db: str) -> None:
    agent, marketer = make_user("agent"), make_user("marketing")
    clients.create_client(agent, name="Ada Lovelace", net_worth="2500000")
    header = client_export.export_clients(marketer, "csv").decode("utf-8-sig").splitlines()[0]
    assert "net_worth" not in header and "kyc_status" not in header
    assert "2500000" not in client_export.export_clients(marketer, "csv").decode("utf-8-sig")
    assert "net_worth" in client_export.export_clients(agent, "csv").decode("utf-8-sig")


def test_segment_export_holds_only_the_segments_clients_evaluated_now(db: str) -> None:
    from crm_app.services import segments

    manager, marketer = make_user("manager"), make_user("marketing")
    clients.create_client(manager, name="Vera Vip", tags="vip", net_worth="9000000")
    clients.create_client(manager, name="Paul Plain")
    vips = segments.save_segment(
        marketer,
        name="VIPs",
        rules={"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]},
    )
    exported = client_export.export_clients(marketer, "csv", segment_id=vips.id)
    text = exported.decode("utf-8-sig")
    assert "Vera Vip" in text and "Paul Plain" not in text
    assert "9000000" not in text  # marketing never gets finance columns, segment or not
    clients.create_client(manager, name="Nina Newvip", tags="vip")
    assert "Nina Newvip" in client_export.export_clients(
        marketer, "csv", segment_id=vips.id
    ).decode("utf-8-sig")


HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
]


def _looks_like_formula(cell: object) -> bool:
    text = str(cell)
    return text[:1] in ("=", "+", "-", "@", "\t", "\r") and not (
        text.lstrip("+-").replace(".", "").isdigit()
    )  # a plain number is no formula


def _formula_cells_in(data: bytes, fmt: str) -> list[str]:
    if fmt == "csv":
        rows = csv.reader(io.StringIO(data.decode("utf-8-sig")))
        return [c for row in rows for c in row if _looks_like_formula(c)]
    sheet = load_workbook(io.BytesIO(data)).active
    return [
        str(c.value)
        for row in sheet.iter_rows()
        for c in row
        if c.data_type == "f" or (_looks_like_formula(c.value) and not c.quotePrefix)
    ]


def test_every_spreadsheet_the_product_writes_escapes_formulas(db: str, tmp_path) -> None:
    from crm_app.services import client_import, segments

    manager = make_user("manager")
    for n, name in enumerate(HOSTILE):
        clients.create_client(
            manager,
            name=name,
            email=f"f{n}@x.example",
            tags="vip",
            region=name,
            phone="+44 20 7946 0958",
        )
    vips = segments.save_segment(
        manager,
        name="VIPs",
        rules={"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]},
    )
    files = {}
    for fmt in ("csv", "xlsx"):
        files[f"list.{fmt}"] = client_export.export_clients(manager, fmt)
        files[f"segment.{fmt}"] = client_export.export_clients(manager, fmt, segment_id=vips.id)
    upload = tmp_path / "hostile.csv"
    upload.write_text(
        "name,email\n" + "".join(f'x,"{h.replace(chr(34), chr(34) * 2)}"\n' for h in HOSTILE),
        encoding="utf-8",
    )
    result = client_import.import_clients(manager, upload, {"name": "name", "email": "email"})
    assert result.rejected_count == len(HOSTILE)
    files["rejected-rows.csv"] = client_import.rejected_rows_csv(result)
    for name, data in files.items():
        assert _formula_cells_in(data, name.rsplit(".", 1)[1]) == [], name
    report = files["rejected-rows.csv"].decode("utf-8-sig")
    assert "'=HYPERLINK" in report  # still readable, as text

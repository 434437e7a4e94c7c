"""CSV and XLSX export of the client list, as the actor may see it."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from crm_app.services import client_export, clients
from tests.factories import make_user


def test_export_never_turns_a_clients_text_into_a_spreadsheet_formula(db: str) -> None:
    agent = make_user("agent")
    clients.create_client(agent, name='=HYPERLINK("http://evil.example","x")',
                          email="eve@x.example", phone="+44 20 7946 0958")
    rows = list(csv.reader(io.StringIO(
        client_export.export_clients(agent, "csv").decode("utf-8-sig"))))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["name"].startswith("'=HYPERLINK")
    assert record["phone"] == "+442079460958"  # numbers stay as they are
    sheet = load_workbook(io.BytesIO(client_export.export_clients(agent, "xlsx"))).active
    names = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ['\'=HYPERLINK("http://evil.example","x")']


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
    vips = segments.save_segment(marketer, name="VIPs", rules={"op": "and", "rules": [
        {"field": "tags", "operator": "has", "value": "vip"}]})
    exported = client_export.export_clients(marketer, "csv", segment_id=vips.id)
    text = exported.decode("utf-8-sig")
    assert "Vera Vip" in text and "Paul Plain" not in text
    assert "9000000" not in text  # marketing never gets finance columns, segment or not
    clients.create_client(manager, name="Nina Newvip", tags="vip")
    assert "Nina Newvip" in client_export.export_clients(
        marketer, "csv", segment_id=vips.id).decode("utf-8-sig")

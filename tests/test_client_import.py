"""CSV import of clients through the real service and PostgreSQL: mapping, per-row checks,
upsert on email, the rejected-rows report, and nothing half-imported."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import func, select

from crm_app.db import session_scope
from crm_app.services import client_fields, client_import, clients
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.audit import AuditLog
from models.client import Client
from tests.factories import make_user

MAPPING = {
    "Full name": "name",
    "E-mail": "email",
    "Mobile": "phone",
    "Country": "country",
    "Net worth": "net_worth",
    "Risk": "risk_category",
    "Labels": "tags",
}
HEADER = "Full name,E-mail,Mobile,Country,Net worth,Risk,Labels\n"


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "clients.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def _count_clients() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(Client)).scalar_one()


def test_preview_suggests_a_mapping_from_common_header_spellings(db: str, tmp_path) -> None:
    agent, marketer = make_user("agent"), make_user("marketing")
    path = _csv(tmp_path, "Ada Lovelace,ada@x.example,,GB,100,moderate,vip\n")
    preview = client_import.preview_file(agent, path)
    assert preview.columns == list(MAPPING)
    assert preview.suggested == MAPPING
    assert preview.sample == [["Ada Lovelace", "ada@x.example", "", "GB", "100", "moderate", "vip"]]
    with pytest.raises(PermissionDenied):
        client_import.preview_file(marketer, path)


def test_bad_rows_are_reported_with_their_line_and_reason_and_good_rows_imported(
    db: str, tmp_path
) -> None:
    agent = make_user("agent")
    path = _csv(
        tmp_path,
        (
            'Ada Lovelace,ADA@x.example,+44 20 7946 0958,GB,"2,500,000",aggressive,"vip, esg"\n'
            "Bad Email,not-an-email,,,,,\n"
            "Bad Phone,phone@x.example,12,,,,\n"
            "Bad Money,money@x.example,,,lots,,\n"
            "Bad Risk,risk@x.example,,,,yolo,\n"
            ",,,,,,\n"  # a blank line is not a row
            ",nobody@x.example,,,,,\n"  # no name and no existing client with that email
            "Ada Again,ada@x.example,,,,,\n"  # the same email twice in one file
            "Grace Hopper,,020 7946 0000,GB,,,\n"
        ),
    )
    result = client_import.import_clients(agent, path, MAPPING)
    assert (result.rows, result.inserted, result.updated, result.rejected_count) == (8, 2, 0, 6)
    reasons = {r.line: r.reason for r in result.rejected}
    assert "not a valid email" in reasons[3]
    assert "phone" in reasons[4]
    assert "must be a number" in reasons[5]
    assert "conservative, moderate, aggressive" in reasons[6]
    assert "needs a name" in reasons[8]
    assert "line 2 already" in reasons[9]
    page = clients.list_clients(agent, search="ada")
    assert [(c.email, c.phone, c.tags, c.risk_category) for c in page.items] == [
        ("ada@x.example", "+442079460958", "vip, esg", "aggressive")
    ]
    assert "line,email,reason" in client_import.rejected_rows_csv(result).decode("utf-8-sig")


def test_import_updates_the_client_with_the_same_email_and_keeps_blank_cells(
    db: str, tmp_path
) -> None:
    agent = make_user("agent")
    existing = clients.create_client(
        agent, name="Ada Lovelace", email="ada@x.example", region="London", net_worth="100"
    )
    path = _csv(tmp_path, "Ada King,Ada@X.example,,,,conservative,\n")
    result = client_import.import_clients(agent, path, MAPPING, source="crm-export.csv")
    assert (result.inserted, result.updated) == (0, 1)
    detail = clients.get_client(agent, existing.id)
    assert detail.name == "Ada King" and detail.risk_category == "conservative"
    assert detail.region == "London" and detail.net_worth == "100.00"  # blank = unchanged
    entry = clients.client_history(agent, existing.id)[0]
    assert entry.action == "imported"
    assert ("Name", "Ada Lovelace", "Ada King") in entry.changes
    assert ("source", "—", "crm-export.csv") in entry.changes
    assert _count_clients() == 1


def test_all_or_nothing_refuses_the_whole_file_when_one_row_is_bad(db: str, tmp_path) -> None:
    agent = make_user("agent")
    path = _csv(tmp_path, "Ada Lovelace,ada@x.example,,,,,\nBad,bad,,,,,\n")
    result = client_import.import_clients(agent, path, MAPPING, all_or_nothing=True)
    assert result.aborted and result.rejected_count == 1
    assert _count_clients() == 0


def test_a_failure_midway_leaves_nothing_half_imported(db: str, tmp_path) -> None:
    agent = make_user("agent")
    clients.create_client(agent, name="Ada Lovelace", email="ada@x.example")
    path = _csv(
        tmp_path,
        "".join(f"Client {i},c{i}@x.example,,,,,\n" for i in range(3000))
        + "Ada King,ada@x.example,,,,,\n",
    )

    def crash(stage: str, done: int, total: int) -> None:
        if stage == "saving" and done == 1:  # after the update, before the insert
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        client_import.import_clients(agent, path, MAPPING, progress=crash)
    assert _count_clients() == 1
    assert clients.list_clients(agent).items[0].name == "Ada Lovelace"
    with session_scope() as session:
        assert (
            session.execute(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "client.imported")
            ).scalar_one()
            == 0
        )


def test_progress_is_reported_while_rows_are_checked(db: str, tmp_path) -> None:
    agent = make_user("agent")
    path = _csv(tmp_path, "".join(f"Client {i},c{i}@x.example,,,,,\n" for i in range(4500)))
    seen = mock.Mock()
    result = client_import.import_clients(agent, path, MAPPING, progress=seen)
    assert result.inserted == 4500
    stages = [c.args for c in seen.call_args_list]
    assert ("checking", 2000, 4500) in stages and stages[-1] == ("saving", 2, 2)


def test_mapping_is_checked_against_the_whitelist_and_the_actors_rights(db: str, tmp_path) -> None:
    agent, manager = make_user("agent"), make_user("manager")
    client_fields.define_custom_field(
        manager, key="tier", label="Tier", field_type="choice", choices="gold, silver"
    )
    path = _csv(tmp_path, "Ada,ada@x.example,gold\n", header="Name,Email,Tier\n")
    for mapping, message in [
        ({"Name": "name", "Email": "id"}, "Unknown field"),
        ({"Name": "name", "Email": "email; DROP TABLE client"}, "Unknown field"),
        ({"Name": "name", "Nope": "email"}, "no column"),
        ({"Name": "name", "Email": "name"}, "map each field once"),
        ({"Tier": "custom.tier"}, "Name"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            client_import.import_clients(agent, path, mapping)
    result = client_import.import_clients(
        agent, path, {"Name": "name", "Email": "email", "Tier": "custom.tier"}
    )
    assert result.inserted == 1
    client_id = clients.list_clients(agent).items[0].id
    assert clients.get_client(agent, client_id).custom_fields == {"tier": "gold"}


def test_marketing_may_not_import_and_agents_not_without_finance_rights(db: str, tmp_path) -> None:
    marketer, nobody = make_user("marketing"), make_user(None)
    path = _csv(tmp_path, "Ada,ada@x.example,,,,,\n")
    for actor in (marketer, nobody):
        with pytest.raises(PermissionDenied):
            client_import.import_clients(actor, path, MAPPING)


def test_a_file_that_is_not_utf8_csv_gets_a_clear_message(db: str, tmp_path) -> None:
    agent = make_user("agent")
    path = tmp_path / "clients.csv"
    path.write_bytes(b"Name,Email\n\xff\xfe\x00garbage\n")
    with pytest.raises(InvalidInput, match="UTF-8"):
        client_import.preview_file(agent, path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        client_import.preview_file(agent, empty)


def test_an_export_imports_back_without_rejections_uk_drama_numbers_included(
    db: str, tmp_path
) -> None:
    from crm_app.services import client_export

    agent = make_user("agent")
    clients.create_client(
        agent,
        name="Demo Client",
        email="demo@x.example",
        phone="+44 7700 900414",
        country="GB",
        net_worth="1500000",
        currency="GBP",
        tags="vip",
    )
    clients.create_client(agent, name="=cmd|' /C calc'!A0", email="eve@x.example")
    path = tmp_path / "export.csv"
    path.write_bytes(client_export.export_clients(agent, "csv"))
    columns = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    mapping = {c: c for c in columns if c in client_import.IMPORTABLE}
    result = client_import.import_clients(agent, path, mapping)
    assert (result.rejected_count, result.updated, result.inserted) == (0, 2, 0)
    assert result.warned_count == 1 and "+447700900414" in result.warnings[0].reason
    names = {c.name for c in clients.list_clients(agent).items}
    assert names == {"Demo Client", "=cmd|' /C calc'!A0"}  # the apostrophe is not kept

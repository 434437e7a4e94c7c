"""Segments: rule trees compiled only through the whitelist, with bound parameters."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from crm_app.db import get_engine, session_scope
from crm_app.services import client_fields, clients, segments
from crm_app.services.errors import Conflict, PermissionDenied, ServiceError
from models.client import Client
from tests.factories import make_client, make_ticket, make_user

HOSTILE = "x'); DROP TABLE client; --"


def _five_rules_with_nested_or() -> dict:
    return {
        "op": "and",
        "rules": [
            {"field": "risk_category", "operator": "in", "value": ["moderate", "aggressive"]},
            {"field": "net_worth", "operator": "gte", "value": "1000000"},
            {"field": "tags", "operator": "has", "value": "vip"},
            {
                "op": "or",
                "rules": [
                    {"field": "region", "operator": "contains", "value": "europe"},
                    {"field": "has_open_ticket", "operator": "is_true"},
                ],
            },
        ],
    }


def test_segment_count_and_preview_follow_nested_and_or_rules(db: str) -> None:
    agent = make_user("agent")
    ada = clients.create_client(
        agent,
        name="Ada",
        net_worth="2000000",
        tags="vip",
        region="Western Europe",
        risk_category="aggressive",
    ).id
    bob = clients.create_client(
        agent, name="Bob", net_worth="3000000", tags="vip", region="Asia", risk_category="moderate"
    ).id
    clients.create_client(agent, name="Cy", net_worth="3000000", tags="vip", region="Asia")
    clients.create_client(agent, name="Di", net_worth="10", tags="vip", region="Europe")
    make_ticket(agent, bob)
    preview = segments.preview_rules(agent, _five_rules_with_nested_or())
    assert preview.count == 2 and [c[0] for c in preview.clients] == [ada, bob]
    recent = {
        "op": "and",
        "rules": [{"field": "ticket_in_last_days", "operator": "within", "value": 7}],
    }
    assert segments.preview_rules(agent, recent).count == 1


def test_segments_are_dynamic_and_saved_as_json(db: str) -> None:
    manager = make_user("manager")
    saved = segments.save_segment(
        manager,
        name="VIPs",
        rules={"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]},
    )
    assert segments.count_segment(manager, saved.id) == 0
    clients.create_client(manager, name="New VIP", tags="vip")
    assert segments.count_segment(manager, saved.id) == 1
    with session_scope() as session:
        ids = session.execute(segments.segment_client_ids_query(session, manager, saved.id)).all()
    assert len(ids) == 1


def test_custom_fields_can_be_segmented_by_type(db: str) -> None:
    manager = make_user("manager")
    client_fields.define_custom_field(manager, key="score", label="Score", field_type="number")
    a = make_client(manager, "Ann Ames")
    make_client(manager, "Ben Bell")
    clients.update_client(manager, a, {"custom_fields": {"score": "87.5"}})
    rules = {"op": "and", "rules": [{"field": "custom.score", "operator": "gt", "value": "50"}]}
    assert segments.preview_rules(manager, rules).count == 1


def test_hostile_rule_json_and_values_never_reach_the_database_as_sql(db: str) -> None:
    manager = make_user("manager")
    make_client(manager, "Ada Lovelace")
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    hostile_trees = [
        {"op": "and", "rules": [{"field": HOSTILE, "operator": "eq", "value": "x"}]},
        {"op": "and", "rules": [{"field": "name", "operator": "= 1 OR 1=1 --", "value": "x"}]},
        {"op": "and); DROP TABLE client; --", "rules": []},
        {"op": "and", "rules": [{"field": "custom." + HOSTILE, "operator": "eq", "value": 1}]},
        {"op": "and", "rules": [{"field": "password_hash", "operator": "eq", "value": "x"}]},
        {"op": "and", "rules": [{"field": "name", "operator": "eq", "value": {"$ne": 1}}]},
        {"op": "and", "rules": [{"field": "net_worth", "operator": "gt", "value": HOSTILE}]},
        {
            "op": "and",
            "rules": [{"field": "kyc_review_due", "operator": "before", "value": HOSTILE}],
        },
        {"op": "and", "rules": [{"field": "risk_category", "operator": "in", "value": [HOSTILE]}]},
        {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": HOSTILE}]},
        {
            "op": "or",
            "rules": [
                {
                    "op": "or",
                    "rules": [
                        {"op": "or", "rules": [{"op": "or", "rules": [{"op": "or", "rules": []}]}]}
                    ],
                }
            ],
        },
        {"op": "and", "rules": [{"field": "name", "operator": "eq", "value": "x"}] * 41},
        "DROP TABLE client",
        ["not", "a", "tree"],
    ]
    event.listen(get_engine(), "before_cursor_execute", capture)
    try:
        for tree in hostile_trees:
            with pytest.raises(ServiceError):
                segments.preview_rules(manager, tree)
            with pytest.raises(ServiceError):
                segments.save_segment(manager, name="Evil", rules=tree)
        # Hostile text is a harmless value where text is allowed: bound, matched literally.
        as_value = {
            "op": "or",
            "rules": [
                {"field": "name", "operator": "contains", "value": HOSTILE},
                {"field": "email", "operator": "eq", "value": "' OR '1'='1"},
                {"field": "region", "operator": "starts_with", "value": "%"},
            ],
        }
        assert segments.preview_rules(manager, as_value).count == 0
    finally:
        event.remove(get_engine(), "before_cursor_execute", capture)
    joined = "\n".join(statements)
    assert "DROP" not in joined.upper() and "1=1" not in joined and "'1'='1" not in joined
    assert "password_hash" not in joined
    with session_scope() as session:  # the table is still there, with its row
        assert session.execute(select(func.count()).select_from(Client)).scalar_one() == 1


def test_marketing_builds_segments_but_not_on_finance_or_kyc_fields(db: str) -> None:
    marketing, agent = make_user("marketing"), make_user("agent")
    for field in ("net_worth", "aum", "kyc_status", "kyc_review_due"):
        rules = {"op": "and", "rules": [{"field": field, "operator": "is_not_empty"}]}
        with pytest.raises(PermissionDenied):
            segments.preview_rules(marketing, rules)
        with pytest.raises(PermissionDenied):
            segments.save_segment(marketing, name=f"by {field}", rules=rules)
    assert "net_worth" not in {f["key"] for f in segments.field_options(marketing)}
    saved = segments.save_segment(
        marketing,
        name="Consenting",
        rules={"op": "and", "rules": [{"field": "marketing_consent", "operator": "is_true"}]},
    )
    with pytest.raises(PermissionDenied):
        segments.save_segment(agent, name="Agents may not", rules={})
    assert segments.get_segment(agent, saved.id).name == "Consenting"
    with pytest.raises(PermissionDenied):
        segments.list_segments(make_user("client"))
    with pytest.raises(Conflict):
        segments.save_segment(marketing, name="consenting", rules={})


def test_no_path_evaluates_a_finance_segment_for_marketing(db: str) -> None:
    """Count, preview, export and the campaign audience share one permission check."""
    from crm_app.services import client_export

    manager, marketing = make_user("manager"), make_user("marketing")
    make_client(manager, "Rich Client", net_worth="9000000")
    make_client(manager, "Modest Client", net_worth="1000")
    rich = segments.save_segment(
        manager,
        name="Millionaires",
        rules={
            "op": "and",
            "rules": [{"field": "net_worth", "operator": "gte", "value": "1000000"}],
        },
    )
    assert segments.count_segment(manager, rich.id) == 1
    assert len(segments.segment_audience(manager, rich.id)) == 1
    refused = [
        lambda: segments.count_segment(marketing, rich.id),
        lambda: segments.preview_rules(marketing, rich.rules),
        lambda: segments.segment_audience(marketing, rich.id),
        lambda: client_export.export_clients(marketing, "csv", segment_id=rich.id),
        lambda: client_export.export_clients(marketing, "xlsx", segment_id=rich.id),
    ]
    for call in refused:
        with pytest.raises(PermissionDenied, match="net worth"):
            call()
    with session_scope() as session, pytest.raises(PermissionDenied):
        segments.segment_client_ids_query(session, marketing, rich.id)

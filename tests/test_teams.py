"""Teams: managers keep them (every change audited, nobody else may), members are active staff
found by name or email over the whole staff, and a team's dashboard figures are the sum of its
members' figures (an empty team shows nothing, never everyone)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select, text

from crm_app.auth.permissions import Actor
from crm_app.db import get_engine, session_scope
from crm_app.services import dashboard, teams
from crm_app.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm_app.tools.demo_data import seed_demo
from models.audit import AuditLog
from models.user import User
from tests.factories import make_user

NOW = datetime(2026, 6, 30, 9, 30, tzinfo=UTC)


def _audit(team_id: int) -> list[tuple[str, dict]]:
    with session_scope() as session:
        rows = session.execute(
            select(AuditLog.action, AuditLog.changes)
            .where(AuditLog.entity_type == "team", AuditLog.entity_id == team_id)
            .order_by(AuditLog.id)
        )
        return [(r.action, dict(r.changes)) for r in rows]


def test_a_manager_creates_renames_fills_and_deletes_a_team_each_change_audited(db: str) -> None:
    manager = make_user("manager")
    ann, bob = make_user("agent", "Ann Agent"), make_user("agent", "Bob Agent")

    team = teams.create_team(manager, "  Private   banking desk ")
    teams.rename_team(manager, team.id, "Private banking")
    assert teams.set_members(manager, team.id, [ann.user_id, bob.user_id]) == tuple(
        sorted([ann.user_id, bob.user_id])
    )
    teams.set_members(manager, team.id, [bob.user_id])

    (row,) = teams.list_teams(manager)
    assert row.name == "Private banking"
    assert [m.name for m in row.members] == ["Bob Agent"]
    teams.delete_team(manager, team.id)
    assert teams.list_teams(manager) == []
    with session_scope() as session:  # the members keep their accounts
        assert session.get(User, bob.user_id) is not None
    assert _audit(team.id) == [
        ("team.created", {"name": "Private banking desk"}),
        ("team.renamed", {"name": ["Private banking desk", "Private banking"]}),
        ("team.members_set", {"added": sorted([ann.user_id, bob.user_id]), "removed": []}),
        ("team.members_set", {"added": [], "removed": [ann.user_id]}),
        ("team.deleted", {"name": "Private banking", "members": [bob.user_id]}),
    ]


@pytest.mark.parametrize("role", ["agent", "marketing", "client", None])
def test_only_managers_may_change_teams_or_search_staff_for_them(db: str, role: str) -> None:
    manager = make_user("manager")
    team = teams.create_team(manager, "Desk")
    other = make_user(role)
    for attempt in (
        lambda: teams.create_team(other, "Mine"),
        lambda: teams.rename_team(other, team.id, "Renamed"),
        lambda: teams.set_members(other, team.id, [other.user_id]),
        lambda: teams.delete_team(other, team.id),
        lambda: teams.search_staff(other, "a"),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    assert [t.name for t in teams.list_teams(manager)] == ["Desk"]
    assert [a for a, _ in _audit(team.id)] == ["team.created"]


def test_team_names_are_unique_and_members_are_active_staff(db: str) -> None:
    manager = make_user("manager")
    team = teams.create_team(manager, "Desk")
    with pytest.raises(Conflict):
        teams.create_team(manager, "Desk")
    with pytest.raises(InvalidInput):
        teams.create_team(manager, "   ")
    for outsider in (make_user("client"), make_user("marketing")):
        with pytest.raises(InvalidInput):
            teams.set_members(manager, team.id, [outsider.user_id])
    with pytest.raises(InvalidInput):
        teams.set_members(manager, team.id, ["1; DROP TABLE team"])  # type: ignore[list-item]
    with pytest.raises(NotFound):
        teams.set_members(manager, 999_999, [])
    assert teams.list_teams(manager)[0].members == []


def test_a_user_may_be_in_several_teams(db: str) -> None:
    manager = make_user("manager")
    ann = make_user("agent", "Ann Agent")
    for name in ("Desk", "Onboarding"):
        teams.set_members(manager, teams.create_team(manager, name).id, [ann.user_id])
    assert [[m.user_id for m in t.members] for t in teams.list_teams(manager)] == [
        [ann.user_id],
        [ann.user_id],
    ]


def test_member_search_finds_staff_by_part_of_name_or_email_beyond_the_first_hundreds(
    db: str,
) -> None:
    manager = make_user("manager")
    with session_scope() as session:
        session.execute(
            insert(User),
            [
                {
                    "email": f"agent{i:04}@firm.example",
                    "name": f"Agent {i:04}",
                    "role": "agent",
                    "identity_provider": "local",
                    "is_active": True,
                    "is_available": True,
                    "created_at": NOW,
                }
                for i in range(700)
            ]
            + [
                {
                    "email": "zoe.quant@firm.example",
                    "name": "Zoë Quantrill",
                    "role": "agent",
                    "identity_provider": "local",
                    "is_active": True,
                    "is_available": True,
                    "created_at": NOW,
                },
                {
                    "email": "gone.quant@firm.example",
                    "name": "Gone Quantrill",
                    "role": "agent",
                    "identity_provider": "local",
                    "is_active": False,
                    "is_available": True,
                    "created_at": NOW,
                },
            ],
        )
    assert [m.name for m in teams.search_staff(manager, "quant")] == ["Zoë Quantrill"]
    assert [m.email for m in teams.search_staff(manager, "ZOE.Q")] == ["zoe.quant@firm.example"]
    assert [m.name for m in teams.search_staff(manager, "agent 0699")] == ["Agent 0699"]
    assert teams.search_staff(manager, "%") == []  # a wildcard is a character, not "anything"
    assert teams.search_staff(manager, "   ") == []
    assert len(teams.search_staff(manager, "agent")) == teams.SEARCH_LIMIT


@pytest.fixture
def seeded(db: str) -> Actor:
    seed_demo(tickets=900, clients=150, agents=5, now=NOW, random_seed=7)
    dashboard.refresh_rollups(rebuild=True, now=NOW)
    return make_user("manager")


def _agents() -> list[int]:
    with get_engine().connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM user_account WHERE email LIKE 'agent%' ORDER BY id")
            ).scalars()
        )


def _figures(manager: Actor, agent_ids: tuple[int, ...]) -> dict[str, int]:
    f = dashboard.make_filter(date(2024, 6, 1), NOW.date(), agent_ids)
    volume = dashboard.daily_volume(manager, f)
    achieved = {a.target: a for a in dashboard.sla_achievement(manager, f)}
    times = dashboard.response_times(manager, f)
    return {
        "created": sum(d.created for d in volume),
        "solved": sum(d.solved for d in volume),
        "first_response_met": achieved["First response"].met,
        "first_response_breached": achieved["First response"].breached,
        "resolution_met": achieved["Resolution"].met,
        "first_responses": times["first_response"].count,
        "resolutions": times["resolution"].count,
        "priority_breaches": sum(b.breaches for b in dashboard.breaches_by(manager, f, "priority")),
        "agent_rows_solved": sum(a.solved for a in dashboard.agent_table(manager, f)),
        "open_now": dashboard.open_now(manager, f.agent_ids)["total"],
        "warnings": len(dashboard.warning_board(manager, 500, f.agent_ids)),
    }


def test_a_teams_dashboard_figures_equal_the_sum_over_its_members(seeded: Actor) -> None:
    manager = seeded
    ann, bob, *_ = _agents()
    team = teams.create_team(manager, "Desk")
    teams.set_members(manager, team.id, [ann, bob])

    agent_ids = teams.audience_agent_ids(manager, f"team:{team.id}")
    team_figures = _figures(manager, agent_ids)
    each = [_figures(manager, (a,)) for a in (ann, bob)]

    assert agent_ids == tuple(sorted([ann, bob]))
    assert team_figures == {k: each[0][k] + each[1][k] for k in team_figures}
    assert team_figures["created"] > 0 and team_figures["first_response_met"] > 0
    assert team_figures["created"] < _figures(manager, ())["created"]  # not everyone's


def test_an_empty_team_shows_no_figures_not_everyones(seeded: Actor) -> None:
    team = teams.create_team(seeded, "New desk")
    figures = _figures(seeded, teams.audience_agent_ids(seeded, f"team:{team.id}"))
    assert set(figures.values()) == {0}
    assert teams.audience_agent_ids(seeded, "everyone") == ()
    with pytest.raises(InvalidInput):
        teams.audience_agent_ids(seeded, "team:x")
    with pytest.raises(NotFound):
        teams.audience_agent_ids(seeded, "team:999999")

"""Teams: named groups of staff (agents and managers) that the dashboards filter by.

A user may be in several teams. Managers create, rename and delete teams and set their
members (`Action.MANAGE_TEAMS`); whoever sees the dashboards sees the teams to filter by. A
team's figures are its members' figures summed (`dashboard.DashboardFilter.agent_ids`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from crm_app.services.staff import ASSIGNABLE_ROLES, staff_choices
from models.base import utcnow
from models.team import Team, TeamMember
from models.user import User

MAX_NAME = 80
MAX_MEMBERS = 500
MAX_TEAMS = 200
SEARCH_LIMIT = 10


@dataclass(frozen=True)
class TeamMemberRow:
    user_id: int
    name: str
    email: str


@dataclass(frozen=True)
class TeamRow:
    id: int
    name: str
    members: list[TeamMemberRow] = field(default_factory=list)


def _clean_name(name: str) -> str:
    name = " ".join(str(name or "").split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"A team needs a name (up to {MAX_NAME} characters).")
    return name


def _staff_filter() -> ColumnElement[bool]:
    return col(User.is_active).is_(True) & col(User.role).in_(ASSIGNABLE_ROLES)


def list_teams(actor: Actor) -> list[TeamRow]:
    """Every team by name, with its members by name."""
    require(actor, Action.VIEW_DASHBOARDS)
    with session_scope() as session:
        teams = session.execute(
            select(col(Team.id), col(Team.name)).order_by(col(Team.name)).limit(MAX_TEAMS)
        ).all()
        members: dict[int, list[TeamMemberRow]] = {}
        for row in session.execute(
            select(col(TeamMember.team_id), col(User.id), col(User.name), col(User.email))
            .join(User, col(User.id) == col(TeamMember.user_id))
            .order_by(col(User.name), col(User.id))
        ):
            members.setdefault(row.team_id, []).append(TeamMemberRow(row.id, row.name, row.email))
        return [TeamRow(t.id, t.name, members.get(t.id, [])) for t in teams]


def team_agent_ids(actor: Actor, team_id: int) -> tuple[int, ...]:
    """The user ids of a team's members, for a dashboard filter."""
    require(actor, Action.VIEW_DASHBOARDS)
    with session_scope() as session:
        if session.get(Team, int(team_id)) is None:
            raise NotFound("That team no longer exists.")
        ids = session.scalars(
            select(col(TeamMember.user_id)).where(col(TeamMember.team_id) == int(team_id))
        )
        return tuple(sorted(ids))


def search_staff(actor: Actor, query: str, limit: int = SEARCH_LIMIT) -> list[TeamMemberRow]:
    """Active agents and managers whose name or email contains `query` (any case), by name:
    what a member picker offers as the manager types."""
    require(actor, Action.MANAGE_TEAMS)
    words = str(query or "").split()[:4]
    if not words:
        return []
    statement = select(col(User.id), col(User.name), col(User.email)).where(_staff_filter())
    for word in words:
        pattern = "%" + word[:80].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern += "%"
        statement = statement.where(
            or_(
                col(User.name).ilike(pattern, escape="\\"),
                col(User.email).ilike(pattern, escape="\\"),
            )
        )
    limit = min(max(int(limit), 1), 50)
    with session_scope() as session:
        rows = session.execute(statement.order_by(col(User.name), col(User.id)).limit(limit))
        return [TeamMemberRow(r.id, r.name, r.email) for r in rows]


def create_team(actor: Actor, name: str) -> TeamRow:
    """A new team without members. Side effects: audited `team.created`."""
    require(actor, Action.MANAGE_TEAMS)
    name = _clean_name(name)
    try:
        with session_scope() as session:
            if (session.scalar(select(func.count()).select_from(Team)) or 0) >= MAX_TEAMS:
                raise InvalidInput(f"There can be at most {MAX_TEAMS} teams.")
            team = Team(name=name)
            session.add(team)
            session.flush()
            audit.record(session, actor, "team.created", "team", team.id, {"name": name})
            assert team.id is not None
            return TeamRow(team.id, name, [])
    except IntegrityError as exc:
        raise Conflict(f"A team named “{name}” already exists.") from exc


def rename_team(actor: Actor, team_id: int, name: str) -> None:
    """Side effects: audited `team.renamed` with the old and new names."""
    require(actor, Action.MANAGE_TEAMS)
    name = _clean_name(name)
    try:
        with session_scope() as session:
            team = session.get(Team, int(team_id), with_for_update=True)
            if team is None:
                raise NotFound("That team no longer exists.")
            if team.name == name:
                return
            old, team.name, team.updated_at = team.name, name, utcnow()
            session.flush()
            audit.record(session, actor, "team.renamed", "team", team.id, {"name": [old, name]})
    except IntegrityError as exc:
        raise Conflict(f"A team named “{name}” already exists.") from exc


def delete_team(actor: Actor, team_id: int) -> None:
    """Side effects: the team and its memberships are deleted (not its members); audited."""
    require(actor, Action.MANAGE_TEAMS)
    with session_scope() as session:
        team = session.get(Team, int(team_id), with_for_update=True)
        if team is None:
            raise NotFound("That team no longer exists.")
        members = sorted(
            session.scalars(
                select(col(TeamMember.user_id)).where(col(TeamMember.team_id) == team.id)
            )
        )
        session.execute(delete(TeamMember).where(col(TeamMember.team_id) == team.id))
        session.delete(team)
        audit.record(
            session, actor, "team.deleted", "team", team.id, {"name": team.name, "members": members}
        )


def set_members(actor: Actor, team_id: int, user_ids: Sequence[int]) -> tuple[int, ...]:
    """Make the team's members exactly `user_ids` (active agents and managers). Side effects:
    audited `team.members_set` with who was added and who was removed; returns the member ids."""
    require(actor, Action.MANAGE_TEAMS)
    try:
        wanted = {int(u) for u in user_ids}
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Choose members from the list.") from exc
    if len(wanted) > MAX_MEMBERS:
        raise InvalidInput(f"A team has at most {MAX_MEMBERS} members.")
    with session_scope() as session:
        team = session.get(Team, int(team_id), with_for_update=True)
        if team is None:
            raise NotFound("That team no longer exists.")
        if wanted:
            staff = set(
                session.scalars(
                    select(col(User.id)).where(col(User.id).in_(wanted), _staff_filter())
                )
            )
            if staff != wanted:
                raise InvalidInput("Only active agents and managers can be team members.")
        current = set(
            session.scalars(
                select(col(TeamMember.user_id)).where(col(TeamMember.team_id) == team.id)
            )
        )
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if not added and not removed:
            return tuple(sorted(wanted))
        if removed:
            session.execute(
                delete(TeamMember).where(
                    col(TeamMember.team_id) == team.id, col(TeamMember.user_id).in_(removed)
                )
            )
        assert team.id is not None
        session.add_all(TeamMember(team_id=team.id, user_id=u) for u in added)
        team.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "team.members_set",
            "team",
            team.id,
            {"added": added, "removed": removed},
        )
        return tuple(sorted(wanted))


# --- whose figures a dashboard shows: everyone, a team, or one agent ---------------------------

EVERYONE = "everyone"
NOBODY = (-2,)  # no user has this id: an empty team's figures are empty, not everyone's


@dataclass(frozen=True)
class AudienceChoice:
    value: str  # "everyone", "team:<id>" or "agent:<id>"
    label: str
    group: str  # "", "Teams" or "Agents"


def audience_choices(actor: Actor) -> list[AudienceChoice]:
    """What a dashboard's filter offers: everyone, each team, each agent (by name)."""
    require(actor, Action.VIEW_DASHBOARDS)
    teams = [
        AudienceChoice(f"team:{t.id}", f"{t.name} ({len(t.members)})", "Teams")
        for t in list_teams(actor)
    ]
    agents = [
        AudienceChoice(f"agent:{uid}", name, "Agents")
        for uid, name in staff_choices(actor, needs=Action.VIEW_DASHBOARDS)
    ]
    return [AudienceChoice(EVERYONE, "Everyone", ""), *teams, *agents]


def audience_pairs(actor: Actor) -> tuple[list[list[str]], list[list[str]]]:
    """`audience_choices` as a filter select shows them: [value, label] pairs of the teams,
    and of the agents ("Everyone" is the select's own first option)."""
    choices = audience_choices(actor)
    return (
        [[c.value, c.label] for c in choices if c.group == "Teams"],
        [[c.value, c.label] for c in choices if c.group == "Agents"],
    )


def audience_agent_ids(actor: Actor, choice: str) -> tuple[int, ...]:
    """The agent ids a filter choice stands for: () for everyone, a team's members (NOBODY
    for a team without members), or one agent."""
    require(actor, Action.VIEW_DASHBOARDS)
    kind, _, key = str(choice or EVERYONE).partition(":")
    if kind == EVERYONE and not key:
        return ()
    if not key.isdigit() or kind not in {"team", "agent"}:
        raise InvalidInput("Choose everyone, a team or an agent from the list.")
    if kind == "agent":
        return (int(key),)
    return team_agent_ids(actor, int(key)) or NOBODY

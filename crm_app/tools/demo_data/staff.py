"""Demo staff: agents agent001… (reused when they exist) and a manager on an instance without
one; whether demo data is there at all."""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.passwords import hash_password
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.tools.demo_data.common import DEMO_DOMAIN, DEMO_MANAGER_EMAIL
from crm_app.tools.demo_vocabulary import FIRST_NAMES, LAST_NAMES
from models.user import Role, User


def has_demo_data() -> bool:
    with session_scope() as session:
        return (
            session.execute(
                select(func.count())
                .select_from(User)
                .where(col(User.email).like(f"%@{DEMO_DOMAIN}"))
            ).scalar_one()
            > 0
        )


def _ensure_staff(agents: int, password: str, rng: random.Random) -> tuple[list[int], int, bool]:
    """Demo agents agent001… up to `agents` (reusing existing ones), and a manager if none."""
    password_hash = hash_password(password)  # hashed once: argon2 is slow on purpose
    with session_scope() as session:
        existing = dict(
            session.execute(
                select(col(User.email), col(User.id)).where(
                    col(User.email).like(f"agent%@{DEMO_DOMAIN}")
                )
            ).all()
        )
        created: list[User] = []
        for n in range(1, agents + 1):
            email = f"agent{n:03d}@{DEMO_DOMAIN}"
            if email not in existing:
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                created.append(
                    User(email=email, name=name, password_hash=password_hash, role=Role.AGENT.value)
                )
        has_manager = (
            session.execute(
                select(func.count()).select_from(User).where(col(User.role) == Role.MANAGER.value)
            ).scalar_one()
            > 0
        )
        manager_created = False
        if not has_manager and DEMO_MANAGER_EMAIL not in existing:
            # Seeding an empty instance would otherwise lock out the first-manager setup page.
            created.append(
                User(
                    email=DEMO_MANAGER_EMAIL,
                    name="Demo Manager",
                    password_hash=password_hash,
                    role=Role.MANAGER.value,
                )
            )
            manager_created = True
        session.add_all(created)
        session.flush()
        agent_ids = sorted(
            [uid for email, uid in existing.items()]
            + [u.id for u in created if u.role == Role.AGENT.value and u.id is not None]
        )
        audit.record(
            session,
            SYSTEM,
            "demo.staff_seeded",
            "user",
            None,
            {"created": [u.email for u in created]},
        )
    agents_created = sum(1 for u in created if u.role == Role.AGENT.value)
    return agent_ids, agents_created, manager_created

"""Every setting the CRM reads, from environment variables (and an optional `.env`).

| variable | default | meaning |
|---|---|---|
| `DATABASE_URL` | unset: embedded PostgreSQL in `.data/pg` | any PostgreSQL URL (`postgresql://…`); when set, nothing is started |
| `CRM_DATA_DIR` | `<checkout>/.data` | where the embedded database and uploads live |
| `CRM_SECRET_KEY` | generated once into `<data dir>/secret.key` | key that encrypts secrets at rest (mailbox passwords, API keys) |
| `CRM_SESSION_HOURS` | `12` | how long a login session lives |
| `CRM_LOGIN_MAX_FAILURES` | `5` | failed logins per email within the window before login is refused |
| `CRM_LOGIN_WINDOW_MINUTES` | `15` | the window for the rule above |
| `CRM_SIGNUP_DEFAULT_ROLE` | empty (no role) | role given to self sign-ups, e.g. `client` for a portal |
| `CRM_SLA_SCAN_SECONDS` | `60` | how often the SLA scan runs |
| `CRM_SLA_NEAR_BREACH_SHARE` | `0.8` | share of an SLA target elapsed that counts as near breach |
| `CRM_JOBS_LEADER_POLL_SECONDS` | `2` | how often a standby jobs process tries to take the lead |
| `CRM_LOG_LEVEL` | `INFO` | log level; logs are JSON lines |
| `REDIS_URL` | unset | Redis for Reflex state when several web workers run |
| `CRM_ATTACHMENT_MAX_MB` | `25` | largest file an agent may attach to a reply or note |
| `CRM_ATTACHMENT_MAX_FILES` | `10` | most files on one reply or note |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ROLES = ("manager", "agent", "marketing", "client")


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    secret_key: str | None
    session_hours: int
    login_max_failures: int
    login_window_minutes: int
    signup_default_role: str | None
    sla_scan_seconds: int
    sla_near_breach_share: float
    jobs_leader_poll_seconds: float
    log_level: str
    redis_url: str | None
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_max_files: int = 10


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    signup_role = _env("CRM_SIGNUP_DEFAULT_ROLE") or None
    if signup_role is not None and signup_role not in ROLES:
        raise ValueError(f"CRM_SIGNUP_DEFAULT_ROLE must be one of {ROLES}, not {signup_role!r}")
    return Settings(
        database_url=_env("DATABASE_URL") or None,
        data_dir=Path(_env("CRM_DATA_DIR") or PROJECT_ROOT / ".data"),
        secret_key=_env("CRM_SECRET_KEY") or None,
        session_hours=int(_env("CRM_SESSION_HOURS", "12")),
        login_max_failures=int(_env("CRM_LOGIN_MAX_FAILURES", "5")),
        login_window_minutes=int(_env("CRM_LOGIN_WINDOW_MINUTES", "15")),
        signup_default_role=signup_role,
        sla_scan_seconds=int(_env("CRM_SLA_SCAN_SECONDS", "60")),
        sla_near_breach_share=float(_env("CRM_SLA_NEAR_BREACH_SHARE", "0.8")),
        jobs_leader_poll_seconds=float(_env("CRM_JOBS_LEADER_POLL_SECONDS", "2")),
        log_level=_env("CRM_LOG_LEVEL", "INFO").upper(),
        redis_url=_env("REDIS_URL") or None,
        attachment_max_bytes=int(float(_env("CRM_ATTACHMENT_MAX_MB", "25")) * 1024 * 1024),
        attachment_max_files=int(_env("CRM_ATTACHMENT_MAX_FILES", "10")),
    )

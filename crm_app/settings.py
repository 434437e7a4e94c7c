"""Every setting the CRM reads, from environment variables (and an optional `.env`).

| variable | default | meaning |
|---|---|---|
| `DATABASE_URL` | unset: embedded PostgreSQL in `.data/pg` | any PostgreSQL URL (`postgresql://…`); when set, nothing is started |
| `CRM_DATA_DIR` | `<checkout>/.data` | where the embedded database and uploads live |
| `CRM_SECRET_KEY` | generated once into `<data dir>/secret.key` | key that encrypts secrets at rest (mailbox passwords, API keys) |
| `CRM_SESSION_HOURS` | `12` | how long a login session lives |
| `CRM_LOGIN_FREE_FAILURES` | `3` | failed sign-ins per account before each further attempt must wait |
| `CRM_LOGIN_IP_FREE_FAILURES` | `20` | the same per client IP, over all accounts (slows password spraying) |
| `CRM_LOGIN_BACKOFF_SECONDS` | `2` | the first wait; it doubles with every further failure |
| `CRM_LOGIN_BACKOFF_MAX_SECONDS` | `900` | the longest wait between two attempts |
| `CRM_LOGIN_FORGET_HOURS` | `24` | failures older than this no longer count |
| `CRM_KNOWN_DEVICE_DAYS` | `180` | how long a browser that signed in stays "known": with the right password it gets in past an account's throttle (its own failures are throttled separately) |
| `CRM_PASSWORD_MIN_SCORE` | `3` | least zxcvbn strength score (0-4) a new password needs, beside 10 characters |
| `CRM_UPLOAD_MAX_CONCURRENT` | `2` | uploads one user may have in flight at once, over all web workers |
| `CRM_UPLOAD_ABANDON_HOURS` | `24` | uploaded files not used within this time are deleted by the `upload_cleanup` job |
| `CRM_SMTP_HOST` | unset (`scripts/run` starts a local sink that stores mail in `<data dir>/mail`) | SMTP server for the CRM's own mail (sign-up notices); unset and no sink: such mail is logged and dropped |
| `CRM_SMTP_PORT` | `587` | its port |
| `CRM_SMTP_USER`, `CRM_SMTP_PASSWORD` | unset | SMTP login, when the server wants one |
| `CRM_SMTP_TLS` | `starttls` | `starttls`, `ssl` (implicit TLS) or `none` |
| `CRM_MAIL_FROM` | `Finance CRM <no-reply@localhost>` | sender of the CRM's own mail |
| `CRM_MAIL_SINK_DIR` | set by `scripts/run` when it runs the local sink | folder of the local SMTP sink; when set, managers see "Sent mail (local)" |
| `SENDGRID_API_KEY` | unset | send ticket replies of mailboxes on "system" mail settings through SendGrid instead of SMTP |
| `CRM_SENDGRID_API_HOST` | `https://api.sendgrid.com` | SendGrid API address (a proxy or a test server) |
| `SENDGRID_WEBHOOK_PUBLIC_KEY` | unset | verification key of SendGrid's signed Event Webhook (`POST /api/webhooks/sendgrid/events`); unset: every event is refused |
| `SENDGRID_WEBHOOK_TOLERANCE_SECONDS` | `600` | a signed event batch older than this is refused as a replay; `0` turns the age check off (replaying recorded payloads) |
| `CRM_OUTBOX_SEND_SECONDS` | `5` | how often the mail send job works the outbox |
| `CRM_OUTBOX_MAX_ATTEMPTS` | `8` | temporary failures retried this many times before a message is marked failed |
| `CRM_OUTBOX_BACKOFF_SECONDS` | `30` | the first retry's wait; it doubles with every attempt (at most 6 hours) |
| `CRM_MAIL_MAX_MESSAGE_MB` | `50` | a received mail larger than this is recorded as a failed import, not fetched |
| `CRM_MAIL_POLL_TICK_SECONDS` | `15` | how often the `imap_poll` job looks for mailboxes due a poll (each mailbox has its own interval) |
| `CRM_SIGNUP_DEFAULT_ROLE` | empty (no role) | role given to self sign-ups, e.g. `client` for a portal |
| `CRM_SLA_SCAN_SECONDS` | `60` | how often the SLA scan runs |
| `CRM_SLA_NEAR_BREACH_SHARE` | `0.8` | share of an SLA target elapsed that counts as near breach |
| `CRM_JOBS_LEADER_POLL_SECONDS` | `2` | how often a standby jobs process tries to take the lead |
| `CRM_LOG_LEVEL` | `INFO` | log level; logs are JSON lines |
| `REDIS_URL` | unset | Redis for Reflex state when several web workers run |
| `CRM_ALLOWED_ORIGINS` | empty: same origin only | comma-separated extra origins (`https://crm.firm.example`) allowed to call the app from a browser (websocket, CORS) |
| `CRM_COOKIE_SECURE` | `auto`: when the request came over HTTPS | `true` marks the session cookie `Secure` always (set it behind a TLS-terminating proxy), `false` never |
| `CRM_ALLOWED_HOSTS` | empty: any | comma-separated host names the app answers to (`crm.firm.example`); set it in production so a rebinding domain cannot reach the app |
| `CRM_TRUST_PROXY` | `false` | trust `X-Forwarded-Proto`/`-Host` from a reverse proxy in front of the app |
| `CRM_ATTACHMENT_MAX_MB` | `25` | largest file an agent may attach to a reply or note |
| `CRM_ATTACHMENT_MAX_FILES` | `10` | most files on one reply or note |
| `CRM_PUBLIC_URL` | `http://localhost:3000` | the address clients and staff reach the app at, for links in mail (invitations, resets, notices) |
| `CRM_FIRM_NAME` | `Finance CRM` | the firm's name as the client portal and its mail show it |
| `CRM_PORTAL_ACCENT` | `teal` | the portal's accent colour (a Radix colour name: teal, blue, indigo, jade, …) |
| `CRM_INVITE_HOURS` | `72` | how long a portal invitation or sign-up link stays valid |
| `CRM_RESET_MINUTES` | `60` | how long a password reset link stays valid |
| `CRM_METRICS_TOKEN` | unset: loopback callers only | bearer token a Prometheus scraper sends to read `/api/metrics` |
| `CRM_DB_POOL_SIZE`, `CRM_DB_MAX_OVERFLOW` | `10`, `10` | connections each process keeps open to PostgreSQL, and may open beyond that under load |
| `CRM_AI_LOCAL_EMBEDDINGS` | `multilingual` | offline embedding: `multilingual` (MiniLM beside Google's multilingual USE: a question in German or French finds the English answer; about 140 MB more while loaded) or `english` (MiniLM alone); a change re-embeds the store in the background |
| `CRM_AI_KEEP_MODEL` | `0` | `1` keeps the embedding model loaded while idle (no reload delay; about 300 MB more in the jobs process) |
| `CRM_DB_STATEMENT_TIMEOUT_MS` | `0` (none) | longest a statement of the app may run before PostgreSQL cancels it |
| `ORY_SDK_URL` | unset | Ory Kratos public URL (`https://auth.firm.example`); set, people can sign in with Ory on the product's own pages |
| `CRM_AUTH_MODE` | `both` with `ORY_SDK_URL`, else `builtin` | `builtin` (own accounts), `ory` (Ory only: built-in sign-in and sign-up refused) or `both` |
| `CRM_ORY_WHOAMI_CACHE_SECONDS` | `5` | how long an Ory session check is trusted before `/sessions/whoami` is asked again (a disabled identity loses access within this time) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv

from models.user import Role

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ROLES = tuple(role.value for role in Role)
SMTP_TLS_MODES = ("starttls", "ssl", "none")
AUTH_MODES = ("builtin", "ory", "both")


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    secret_key: str | None
    session_hours: int
    login_free_failures: int
    login_ip_free_failures: int
    login_backoff_seconds: float
    login_backoff_max_seconds: float
    login_forget_hours: float
    known_device_days: int
    password_min_score: int
    upload_max_concurrent: int
    upload_abandon_hours: float
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_tls: str
    mail_from: str
    signup_default_role: str | None
    sla_scan_seconds: int
    sla_near_breach_share: float
    jobs_leader_poll_seconds: float
    log_level: str
    redis_url: str | None
    allowed_origins: tuple[str, ...]
    allowed_hosts: tuple[str, ...]
    cookie_secure: bool | None  # None: decide per request (HTTPS or not)
    trust_proxy: bool
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_max_files: int = 10
    public_url: str = "http://localhost:3000"
    firm_name: str = "Finance CRM"
    portal_accent: str = "teal"
    invite_hours: float = 72
    reset_minutes: float = 60
    mail_sink_dir: Path | None = None
    sendgrid_api_key: str | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    outbox_send_seconds: float = 5.0
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 30.0
    # Mail in: a larger message is recorded as a failed import without being fetched whole.
    mail_max_message_bytes: int = 50 * 1024 * 1024
    # How often the jobs process looks for mailboxes due a poll (each has its own interval).
    mail_poll_tick_seconds: int = 15
    metrics_token: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 0
    ory_sdk_url: str | None = None
    auth_mode: str = "builtin"
    ory_whoami_cache_seconds: float = 5.0


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _tristate(value: str) -> bool | None:
    value = value.lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    signup_role = _env("CRM_SIGNUP_DEFAULT_ROLE") or None
    if signup_role is not None and signup_role not in ROLES:
        raise ValueError(f"CRM_SIGNUP_DEFAULT_ROLE must be one of {ROLES}, not {signup_role!r}")
    smtp_tls = _env("CRM_SMTP_TLS", "starttls").lower()
    if smtp_tls not in SMTP_TLS_MODES:
        raise ValueError(f"CRM_SMTP_TLS must be one of {SMTP_TLS_MODES}, not {smtp_tls!r}")
    ory_sdk_url = _env("ORY_SDK_URL").rstrip("/") or None
    auth_mode = _env("CRM_AUTH_MODE").lower() or ("both" if ory_sdk_url else "builtin")
    if auth_mode not in AUTH_MODES or (auth_mode != "builtin" and not ory_sdk_url):
        raise ValueError(
            f"CRM_AUTH_MODE must be one of {AUTH_MODES} (ory and both need ORY_SDK_URL)"
        )
    return Settings(
        database_url=_env("DATABASE_URL") or None,
        data_dir=Path(_env("CRM_DATA_DIR") or PROJECT_ROOT / ".data"),
        secret_key=_env("CRM_SECRET_KEY") or None,
        session_hours=int(_env("CRM_SESSION_HOURS", "12")),
        login_free_failures=int(_env("CRM_LOGIN_FREE_FAILURES", "3")),
        login_ip_free_failures=int(_env("CRM_LOGIN_IP_FREE_FAILURES", "20")),
        login_backoff_seconds=float(_env("CRM_LOGIN_BACKOFF_SECONDS", "2")),
        login_backoff_max_seconds=float(_env("CRM_LOGIN_BACKOFF_MAX_SECONDS", "900")),
        login_forget_hours=float(_env("CRM_LOGIN_FORGET_HOURS", "24")),
        known_device_days=int(_env("CRM_KNOWN_DEVICE_DAYS", "180")),
        password_min_score=int(_env("CRM_PASSWORD_MIN_SCORE", "3")),
        upload_max_concurrent=int(_env("CRM_UPLOAD_MAX_CONCURRENT", "2")),
        upload_abandon_hours=float(_env("CRM_UPLOAD_ABANDON_HOURS", "24")),
        smtp_host=_env("CRM_SMTP_HOST") or None,
        smtp_port=int(_env("CRM_SMTP_PORT", "587")),
        smtp_user=_env("CRM_SMTP_USER") or None,
        smtp_password=_env("CRM_SMTP_PASSWORD") or None,
        smtp_tls=smtp_tls,
        mail_from=_env("CRM_MAIL_FROM") or "Finance CRM <no-reply@localhost>",
        signup_default_role=signup_role,
        sla_scan_seconds=int(_env("CRM_SLA_SCAN_SECONDS", "60")),
        sla_near_breach_share=float(_env("CRM_SLA_NEAR_BREACH_SHARE", "0.8")),
        jobs_leader_poll_seconds=float(_env("CRM_JOBS_LEADER_POLL_SECONDS", "2")),
        log_level=_env("CRM_LOG_LEVEL", "INFO").upper(),
        redis_url=_env("REDIS_URL") or None,
        allowed_origins=tuple(
            origin.strip().rstrip("/").lower()
            for origin in _env("CRM_ALLOWED_ORIGINS").split(",")
            if origin.strip()
        ),
        allowed_hosts=tuple(
            host.strip().lower() for host in _env("CRM_ALLOWED_HOSTS").split(",") if host.strip()
        ),
        cookie_secure=_tristate(_env("CRM_COOKIE_SECURE", "auto")),
        trust_proxy=_env("CRM_TRUST_PROXY", "false").lower() in ("1", "true", "yes"),
        attachment_max_bytes=int(float(_env("CRM_ATTACHMENT_MAX_MB", "25")) * 1024 * 1024),
        attachment_max_files=int(_env("CRM_ATTACHMENT_MAX_FILES", "10")),
        public_url=(_env("CRM_PUBLIC_URL") or "http://localhost:3000").rstrip("/"),
        firm_name=_env("CRM_FIRM_NAME") or "Finance CRM",
        portal_accent=(_env("CRM_PORTAL_ACCENT") or "teal").lower(),
        invite_hours=float(_env("CRM_INVITE_HOURS", "72")),
        reset_minutes=float(_env("CRM_RESET_MINUTES", "60")),
        mail_sink_dir=Path(_env("CRM_MAIL_SINK_DIR")) if _env("CRM_MAIL_SINK_DIR") else None,
        sendgrid_api_key=_env("SENDGRID_API_KEY") or None,
        sendgrid_api_host=_env("CRM_SENDGRID_API_HOST") or "https://api.sendgrid.com",
        outbox_send_seconds=float(_env("CRM_OUTBOX_SEND_SECONDS", "5")),
        outbox_max_attempts=int(_env("CRM_OUTBOX_MAX_ATTEMPTS", "8")),
        outbox_backoff_seconds=float(_env("CRM_OUTBOX_BACKOFF_SECONDS", "30")),
        mail_max_message_bytes=int(float(_env("CRM_MAIL_MAX_MESSAGE_MB", "50")) * 1024 * 1024),
        mail_poll_tick_seconds=int(_env("CRM_MAIL_POLL_TICK_SECONDS", "15")),
        metrics_token=_env("CRM_METRICS_TOKEN") or None,
        db_pool_size=int(_env("CRM_DB_POOL_SIZE", "10")),
        db_max_overflow=int(_env("CRM_DB_MAX_OVERFLOW", "10")),
        db_statement_timeout_ms=int(_env("CRM_DB_STATEMENT_TIMEOUT_MS", "0")),
        ory_sdk_url=ory_sdk_url,
        auth_mode=auth_mode,
        ory_whoami_cache_seconds=float(_env("CRM_ORY_WHOAMI_CACHE_SECONDS", "5")),
    )

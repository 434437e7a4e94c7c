"""Operator commands: `python -m crm_app.cli COMMAND --help`.

migrate          upgrade the database to the latest schema
create-manager   create the first manager on an empty instance (scripted installs)
seed-demo        opt-in demo data at a chosen volume (agents, clients, tickets, threads)
import-archive   import PST/OST, mbox or EML files into the knowledge store (foreground)
search-knowledge search tickets, FAQ and archived mail as the suggested replies do
backup PATH      the database, stored files and secret key into a new folder
restore PATH     a backup folder into an empty database (stop the app first)
create-token     print a new API token for a user (audited), as their profile page makes one
set-role         give a user a role (audited): the first manager of an Ory-only instance
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from sqlmodel import col

from crm_app.logging_setup import configure_logging
from models.user import Role


def _migrate(_: argparse.Namespace) -> int:
    from crm_app.db import upgrade_to_head
    from crm_app.services.sla import ensure_default_targets

    upgrade_to_head()
    ensure_default_targets()
    print("database is at the latest schema")
    return 0


def _create_manager(args: argparse.Namespace) -> int:
    from crm_app.db import upgrade_to_head
    from crm_app.services.accounts import create_first_manager
    from crm_app.services.errors import ServiceError

    upgrade_to_head()
    password = os.environ.get("CRM_MANAGER_PASSWORD") or getpass.getpass("Password: ")
    try:
        user = create_first_manager(args.email, args.name, password)
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"created manager {user.email} (id {user.id})")
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    from crm_app.db import upgrade_to_head
    from crm_app.services.errors import ServiceError
    from crm_app.tools.demo_data import DEMO_DOMAIN, SeedProgress, seed_demo

    upgrade_to_head()
    configure_logging()  # Alembic's logging config replaces the handlers during the upgrade

    def progress(step: SeedProgress) -> None:
        share = step.done / step.total if step.total else 1.0
        print(
            f"\r{step.stage}: {step.done:,}/{step.total:,} ({share:.0%}), "
            f"{step.messages:,} messages, {step.seconds:.0f} s",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if step.done == step.total:
            print(file=sys.stderr)

    try:
        result = seed_demo(
            args.tickets,
            args.clients,
            args.messages_per_ticket,
            args.agents,
            append=args.append,
            progress=progress,
            **({"password": args.password} if args.password else {}),
        )
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    from crm_app.tools.demo_data import DEMO_PASSWORD

    print(
        f"seeded {result.clients:,} clients, {result.tickets:,} tickets and "
        f"{result.messages:,} messages in {result.seconds:.1f} s "
        f"({result.agents_created} new agents)"
    )
    print(
        f"demo staff sign in as agent001@{DEMO_DOMAIN} … with the password "
        f"{args.password or DEMO_PASSWORD!r}"
        + (f"; manager: manager@{DEMO_DOMAIN}" if result.manager_created else "")
    )
    return 0


def _import_archive(args: argparse.Namespace) -> int:
    from crm_app.tools.archive_import import import_archives

    return import_archives(
        args.paths,
        label=args.label,
        confidential=args.confidential,
        client_id=args.client,
        as_json=args.json,
    )


def _search_knowledge(args: argparse.Namespace) -> int:
    from crm_app.tools.archive_import import search_knowledge

    return search_knowledge(args.query, limit=args.limit, as_email=args.as_email, as_json=args.json)


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from crm_app.backup import SECRET_KEY_WARNING, BackupError, backup

    try:
        result = backup(Path(args.path), include_secret_key=not args.without_secret_key)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"backed up {len(result.tables)} tables ({sum(result.tables.values()):,} rows) and "
        f"the folders {', '.join(result.folders) or '(none)'} into {result.path}"
    )
    if result.secret_key:
        print(SECRET_KEY_WARNING, file=sys.stderr)
    return 0


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from crm_app.backup import BackupError, restore

    try:
        counts = restore(Path(args.path), replace=args.replace)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"restored {len(counts)} tables ({sum(counts.values()):,} rows); row counts match")
    return 0


def _create_token(args: argparse.Namespace) -> int:
    from crm_app.db import upgrade_to_head
    from crm_app.services.api_tokens import create_token_for_email
    from crm_app.services.errors import ServiceError

    upgrade_to_head()
    try:
        created = create_token_for_email(args.email, args.scope, args.days, name=args.name)
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(
        f"token for {args.email} ({created.row.scope}, expires "
        f"{created.row.expires_at:%Y-%m-%d}); it is shown only now:",
        file=sys.stderr,
    )
    print(created.token)
    return 0


def _set_role(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from crm_app.auth.permissions import SYSTEM
    from crm_app.db import session_scope, upgrade_to_head
    from crm_app.services.accounts import assign_role
    from crm_app.services.errors import ServiceError
    from models.user import User

    upgrade_to_head()
    with session_scope() as session:
        user_id = session.execute(
            select(col(User.id)).where(col(User.email) == args.email.strip().lower())
        ).scalar_one_or_none()
    if user_id is None:
        print("error: no user has that email address (an Ory user: sign in once)", file=sys.stderr)
        return 1
    try:
        user = assign_role(SYSTEM, user_id, None if args.role == "none" else args.role)
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"{user.email} now has the role {user.role or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crm_app.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to head").set_defaults(run=_migrate)
    manager = commands.add_parser(
        "create-manager",
        help="create the first manager (password from CRM_MANAGER_PASSWORD or a prompt)",
    )
    manager.add_argument("--email", required=True)
    manager.add_argument("--name", required=True)
    manager.set_defaults(run=_create_manager)
    demo = commands.add_parser("seed-demo", help="seed demo data (opt-in; COPY, fast at volume)")
    demo.add_argument("--tickets", type=int, required=True)
    demo.add_argument("--clients", type=int, required=True)
    demo.add_argument("--messages-per-ticket", type=float, default=5.0)
    demo.add_argument("--agents", type=int, default=20)
    demo.add_argument(
        "--append", action="store_true", help="add to a database that already holds demo data"
    )
    demo.add_argument(
        "--password",
        default=None,
        help="password for the demo staff (default: the documented demo one)",
    )
    demo.set_defaults(run=_seed_demo)
    archive = commands.add_parser(
        "import-archive",
        help="queue PST/OST, mbox or EML files (or folders of them) and import them now",
    )
    archive.add_argument("paths", nargs="+", metavar="PATH")
    archive.add_argument("--label", default="", help="a label for the archive(s)")
    archive.add_argument(
        "--confidential", action="store_true", help="managers only (never shown to agents)"
    )
    archive.add_argument("--client", type=int, default=None, help="id of the client it concerns")
    archive.add_argument(
        "--json", action="store_true", help="one JSON object per file, then a summary object"
    )
    archive.set_defaults(run=_import_archive)
    knowledge = commands.add_parser(
        "search-knowledge", help="the top knowledge hits for a question, with their provenance"
    )
    knowledge.add_argument("query")
    knowledge.add_argument("--limit", type=int, default=10)
    knowledge.add_argument(
        "--as-email", default=None, help="search as this user (their permissions apply)"
    )
    knowledge.add_argument("--json", action="store_true", help="one JSON object per hit")
    knowledge.set_defaults(run=_search_knowledge)
    backup = commands.add_parser("backup", help="back up database, files and key to a new folder")
    backup.add_argument("path")
    backup.add_argument(
        "--without-secret-key",
        action="store_true",
        help="leave the secret key out (keep it elsewhere: without it stored secrets are lost)",
    )
    backup.set_defaults(run=_backup)
    restore = commands.add_parser("restore", help="restore a backup folder (stop the app first)")
    restore.add_argument("path")
    restore.add_argument(
        "--replace", action="store_true", help="drop the app's tables and files already there"
    )
    restore.set_defaults(run=_restore)
    token = commands.add_parser(
        "create-token", help="print a new API token for a user (audited; shown once)"
    )
    token.add_argument("--email", required=True)
    token.add_argument("--scope", choices=("read", "write"), default="read")
    token.add_argument("--days", type=int, default=90, help="lifetime in days (1-365)")
    token.add_argument("--name", default="CLI token", help="label shown on the profile page")
    token.set_defaults(run=_create_token)
    role = commands.add_parser("set-role", help="give a user a role (audited)")
    role.add_argument("--email", required=True)
    role.add_argument("--role", required=True, choices=(*(r.value for r in Role), "none"))
    role.set_defaults(run=_set_role)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

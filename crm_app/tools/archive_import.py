"""`import-archive` and `search-knowledge`: the operator's way to bring archives in and to check
what the suggested replies will find."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

from crm_app.auth.permissions import SYSTEM, Actor

_TERMINAL = {"done", "failed", "cancelled"}


class _Bar:
    """One progress line on stderr (a terminal bar; plain lines when stderr is a file)."""

    def __init__(self, err: TextIO, names: dict[int, str]) -> None:
        self.err, self.names = err, names
        self.started = time.monotonic()
        self.last = 0.0
        self.tty = err.isatty()

    def __call__(self, archive_id: int, stored: int, linked: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        share = done / total if total else 0.0
        filled = int(share * 30)
        line = (
            f"{self.names.get(archive_id, archive_id)} [{'#' * filled}{'.' * (30 - filled)}] "
            f"{share:4.0%} stored={stored} linked={linked} {now - self.started:.0f}s"
        )
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n",
              file=self.err, flush=True)  # fmt: skip

    def close(self) -> None:
        if self.tty:
            print(file=self.err)


def import_archives(
    paths: list[str],
    *,
    label: str = "",
    confidential: bool = False,
    client_id: int | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Queue the files, import them in the foreground, print per-file results and a summary.
    Exit status 1 when a file failed or had item errors."""
    from crm_app.ai import runtime
    from crm_app.db import upgrade_to_head
    from crm_app.logging_setup import configure_logging
    from crm_app.services import archives
    from crm_app.services.errors import ServiceError
    from ingest.sources import discover
    from jobs import pst_ingest

    out, err = out or sys.stdout, err or sys.stderr
    upgrade_to_head()
    configure_logging()
    queued: dict[int, str] = {}
    problems: list[dict[str, object]] = []
    for given in paths:
        if not Path(given).exists():
            problems.append({"file": given, "status": "failed", "error": "no such file or folder"})
            continue
        for path in discover([given]):
            try:
                archive_id = archives.queue_archive(
                    SYSTEM,
                    path.resolve(),
                    label=label,
                    client_id=client_id,
                    confidential=confidential,
                )
            except ServiceError as error:
                problems.append({"file": str(path), "status": "failed", "error": error.message})
                continue
            queued[archive_id] = str(path)
    bar = _Bar(err, {i: Path(p).name for i, p in queued.items()})
    if queued:
        runtime.run_in_background(lambda: pst_ingest.drain(only=list(queued), progress=bar))
        # Another jobs process may have claimed one first: wait for it to finish there.
        while True:
            rows = archives.list_archives_by_id(SYSTEM, list(queued))
            if all(r.status in _TERMINAL for r in rows):
                break
            runtime.run_in_background(lambda: pst_ingest.drain(only=list(queued), progress=bar))
            time.sleep(1.0)
    bar.close()
    rows = archives.list_archives_by_id(SYSTEM, list(queued)) if queued else []
    summary = {"files": 0, "messages_stored": 0, "duplicates_linked": 0, "errors": 0}
    failed = False
    for problem in problems:
        summary["files"] += 1
        summary["errors"] += 1
        failed = True
        _print_file(out, as_json, problem, [])
    for row in rows:
        lines = [
            (f"{e.folder}#{e.position}: " if e.folder else "") + e.message
            for e in archives.item_errors(SYSTEM, row.id, limit=20)
        ]
        record = {
            "file": queued[row.id],
            "archive_id": row.id,
            "status": row.status,
            "messages_stored": row.messages,
            "duplicates_linked": row.duplicates,
            "attachments": row.attachments,
            "skipped": row.skipped,
            "errors": row.errors,
            "error": row.error or None,
        }
        summary["files"] += 1
        summary["messages_stored"] += row.messages
        summary["duplicates_linked"] += row.duplicates
        summary["errors"] += row.errors + (1 if row.status == "failed" and not row.errors else 0)
        failed = failed or row.status != "done" or row.errors > 0
        _print_file(out, as_json, record, lines)
    if as_json:
        out.write(json.dumps(summary) + "\n")
    else:
        print(
            f"{summary['files']} file(s): {summary['messages_stored']} messages stored, "
            f"{summary['duplicates_linked']} duplicates linked, {summary['errors']} errors",
            file=out,
        )
    out.flush()
    return 1 if failed else 0


def _print_file(out: TextIO, as_json: bool, record: dict[str, object], lines: list[str]) -> None:
    if as_json:
        out.write(json.dumps({**record, "error_lines": lines}, ensure_ascii=False) + "\n")
        return
    if "archive_id" not in record:
        print(f"{record['file']}: error: {record['error']}", file=out)
        return
    print(
        f"{record['file']}: {record['status']}: messages stored={record['messages_stored']} "
        f"duplicates linked={record['duplicates_linked']} attachments={record['attachments']} "
        f"skipped={record['skipped']} errors={record['errors']}",
        file=out,
    )
    if record.get("error"):
        print(f"  error: {record['error']}", file=out)
    for line in lines:
        print(f"  item error: {line}", file=out)


def _actor_for(email: str | None) -> Actor:
    if not email:
        return SYSTEM
    from sqlalchemy import func, select

    from crm_app.db import session_scope
    from models.user import User

    with session_scope() as session:
        user = session.execute(
            select(User).where(func.lower(User.email) == email.strip().lower())
        ).scalar()
        if user is None:
            raise SystemExit(f"error: no user {email}")
        return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


def search_knowledge(
    query: str,
    *,
    limit: int = 10,
    as_email: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    from crm_app.services import knowledge
    from crm_app.services.errors import ServiceError

    out = out or sys.stdout
    try:
        hits = knowledge.search_knowledge(_actor_for(as_email), query, k=limit)
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    for rank, hit in enumerate(hits, 1):
        if as_json:
            out.write(json.dumps({"rank": rank, **hit.as_dict()}, ensure_ascii=False) + "\n")
            continue
        where = " | ".join(
            part
            for part in (
                hit.kind_label,
                hit.date,
                f"from {hit.sender}" if hit.sender else "",
                f"folder {hit.folder}" if hit.folder else "",
                f"archive {hit.archives}" if hit.archives else "",
                hit.message_id,
            )
            if part
        )
        print(f"{rank}. {hit.title}  [{hit.score:.4f}]\n   {where}\n   {hit.snippet}", file=out)
        if hit.link:
            print(f"   {hit.link}", file=out)
    if not hits:
        print("no matches", file=sys.stderr)
    return 0

"""CSV import of clients: map the file's columns to client fields, check every row, upsert on
email, report the rows that were refused and why.

Valid rows go in as one transaction: COPY into a temporary table, then one UPDATE for the rows
whose email matches a live client and one INSERT for the rest, each writing the per-client audit
entries in the same statement. A failure anywhere (the database, the process) leaves nothing
half-imported. With `all_or_nothing`, one refused row refuses the whole file.

On an update a blank cell leaves the stored value alone: a file that only carries emails and
tags changes only tags.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import text

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.client_fields import (
    CURRENCIES,
    CUSTOM_PREFIX,
    FIELDS,
    RESTRICTED_FIELDS,
    clean_text,
    custom_field_definitions,
    may_see_finances,
    parse_bool,
    parse_choice,
    parse_country,
    parse_custom_value,
    parse_date,
    parse_email,
    parse_email_list,
    parse_money,
    parse_phone,
    parse_phone_list,
    parse_tags,
    phone_warnings,
)
from crm_app.services.errors import InvalidInput, ServiceError
from crm_app.services.spreadsheet import csv_bytes, unescape_csv_cell
from models.client import ClientKind, KycStatus, RiskCategory

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_REPORTED = 1_000  # rejected rows listed one by one; the count covers all of them
PROGRESS_EVERY = 2_000
# Serializes imports so two files carrying the same email cannot both insert it.
IMPORT_LOCK = 0x636C_696D  # "clim"
SOURCE_JSON = "jsonb_build_object('source', jsonb_build_array(NULL, CAST(:source AS text)))"

# Field key -> (temp table column type, label). Only these can be mapped; custom.<key> too.
IMPORTABLE: dict[str, str] = {
    "name": "text",
    "email": "text",
    "kind": "text",
    "phone": "text",
    "other_emails": "varchar[]",
    "other_phones": "varchar[]",
    "country": "text",
    "region": "text",
    "risk_category": "text",
    "net_worth": "numeric(18,2)",
    "aum": "numeric(18,2)",
    "currency": "text",
    "kyc_status": "text",
    "kyc_review_due": "date",
    "tags": "varchar[]",
    "marketing_consent": "boolean",
    "marketing_consent_source": "text",
}
EXTRA_LABELS = {"other_emails": "Other emails", "other_phones": "Other phones"}
# Header spellings seen in real exports, normalized (lowercase, single underscores).
ALIASES = {
    "full_name": "name",
    "client": "name",
    "client_name": "name",
    "company": "name",
    "e_mail": "email",
    "mail": "email",
    "email_address": "email",
    "type": "kind",
    "mobile": "phone",
    "telephone": "phone",
    "tel": "phone",
    "phone_number": "phone",
    "risk": "risk_category",
    "risk_profile": "risk_category",
    "networth": "net_worth",
    "assets_under_management": "aum",
    "kyc": "kyc_status",
    "kyc_review": "kyc_review_due",
    "kyc_review_date": "kyc_review_due",
    "consent": "marketing_consent",
    "marketing_opt_in": "marketing_consent",
    "consent_source": "marketing_consent_source",
    "labels": "tags",
    "tag": "tags",
    "country_code": "country",
    "state": "region",
}


@dataclass(frozen=True)
class ImportPreview:
    """What the mapping step shows: the file's columns, a few rows and a suggested mapping."""

    columns: list[str]
    sample: list[list[str]]
    suggested: dict[str, str]  # column -> field key ("" = skip)
    fields: list[tuple[str, str]]  # (key, label) the actor may map to


@dataclass(frozen=True)
class RejectedRow:
    line: int  # line number in the file, header = 1
    reason: str
    email: str = ""


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    rejected_count: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    # Rows imported as they are but worth a look (a phone outside the assigned ranges).
    warned_count: int = 0
    warnings: list[RejectedRow] = field(default_factory=list)
    seconds: float = 0.0
    aborted: bool = False  # all-or-nothing and a row was refused: nothing imported

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _normalize_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def _open(path: Path) -> Iterator[list[str]]:
    """The file's rows; UTF-8 (with or without BOM), delimiter sniffed among , ; tab."""
    if not path.is_file():
        raise InvalidInput("The uploaded file is gone; upload it again.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput("A CSV file may be at most 512 MB.")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            head = handle.read(64 * 1024)
        except UnicodeDecodeError:
            raise InvalidInput("Save the file as UTF-8 CSV and upload it again.") from None
        try:
            dialect: Any = csv.Sniffer().sniff(head, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        handle.seek(0)
        if handle.read(1) != "\ufeff":
            handle.seek(0)
        reader = csv.reader(handle, dialect)
        try:
            yield from reader
        except UnicodeDecodeError:
            raise InvalidInput("Save the file as UTF-8 CSV and upload it again.") from None
        except csv.Error as error:
            raise InvalidInput(
                f"The file is not valid CSV near line {reader.line_num}: {error}."
            ) from None


def mappable_fields(actor: Actor, definitions: dict | None = None) -> list[tuple[str, str]]:
    show = may_see_finances(actor)
    keys = [k for k in IMPORTABLE if show or k not in RESTRICTED_FIELDS]
    out = [(k, FIELDS[k].label if k in FIELDS else EXTRA_LABELS[k]) for k in keys]
    out += [(CUSTOM_PREFIX + key, d.label) for key, d in sorted((definitions or {}).items())]
    return out


def suggest_mapping(columns: list[str], fields: list[tuple[str, str]]) -> dict[str, str]:
    by_name: dict[str, str] = {}
    for key, label in fields:
        by_name[_normalize_header(key.removeprefix(CUSTOM_PREFIX))] = key
        by_name[_normalize_header(label)] = key
    allowed = {key for key, _ in fields}
    suggested, taken = {}, set()
    for column in columns:
        name = _normalize_header(column)
        key = by_name.get(name) or ALIASES.get(name, "")
        if key not in allowed or key in taken:
            key = ""
        suggested[column] = key
        taken.add(key)
    return suggested


def preview_file(actor: Actor, path: Path, sample_rows: int = 5) -> ImportPreview:
    """The first rows of an uploaded file and a suggested column mapping."""
    require(actor, Action.EDIT_CLIENTS)
    rows = _open(Path(path))
    header = next(rows, None)
    if not header or not any(h.strip() for h in header):
        raise InvalidInput("The file is empty: the first line must name the columns.")
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    if len(set(columns)) != len(columns):
        raise InvalidInput("Two columns have the same name; rename one and upload again.")
    sample = [row for _, row in zip(range(sample_rows), rows, strict=False)]
    with session_scope() as session:
        fields = mappable_fields(actor, custom_field_definitions(session))
    return ImportPreview(columns, sample, suggest_mapping(columns, fields), fields)


# --- per-row checks ----------------------------------------------------------------------------


def _row_parser(fields: list[str], definitions: dict) -> Callable[[dict[str, str]], tuple]:
    """A function turning one row's mapped cells into the temp table's values (or raising)."""
    kinds = tuple(k.value for k in ClientKind)
    risks = tuple(r.value for r in RiskCategory)
    kyc = tuple(k.value for k in KycStatus)
    custom_keys = [f[len(CUSTOM_PREFIX) :] for f in fields if f.startswith(CUSTOM_PREFIX)]
    plain = [f for f in fields if not f.startswith(CUSTOM_PREFIX)]

    def blank(value: str) -> bool:
        return not value.strip()

    def parse(cells: dict[str, str]) -> tuple:
        country = parse_country(cells["country"]) if "country" in cells else None
        out: list[Any] = []
        for key in plain:
            value = cells.get(key, "")
            if blank(value):
                out.append(None)
                continue
            match key:
                case "name":
                    out.append(clean_text(value, "Name") or None)
                case "email":
                    out.append(parse_email(value))
                case "kind":
                    out.append(parse_choice(value, kinds, "Client type"))
                case "phone":
                    out.append(parse_phone(value, country))
                case "other_emails":
                    out.append(parse_email_list(value))
                case "other_phones":
                    out.append(parse_phone_list(value, country))
                case "country":
                    out.append(country)
                case "region":
                    out.append(clean_text(value, "Region", max_length=100))
                case "risk_category":
                    out.append(parse_choice(value, risks, "Risk category"))
                case "net_worth":
                    out.append(parse_money(value, "Net worth"))
                case "aum":
                    out.append(parse_money(value, "Assets under management"))
                case "currency":
                    out.append(parse_choice(value.upper(), CURRENCIES, "Currency"))
                case "kyc_status":
                    out.append(parse_choice(value, kyc, "KYC status"))
                case "kyc_review_due":
                    out.append(parse_date(value, "KYC review date"))
                case "tags":
                    out.append(parse_tags(value))
                case "marketing_consent":
                    out.append(parse_bool(value, "Marketing consent"))
                case "marketing_consent_source":
                    out.append(clean_text(value, "Consent source", max_length=100))
        if custom_keys:
            custom = {}
            for key in custom_keys:
                parsed = parse_custom_value(definitions[key], cells.get(CUSTOM_PREFIX + key, ""))
                if parsed is not None:
                    custom[key] = parsed
            out.append(Jsonb(custom) if custom else None)
        return tuple(out)

    return parse


def _check_mapping(
    actor: Actor, mapping: dict[str, str], columns: list[str], definitions: dict
) -> dict[int, str]:
    """{column index: field key} after checking every target is whitelisted and used once."""
    allowed = {key for key, _ in mappable_fields(actor, definitions)}
    by_index: dict[int, str] = {}
    for column, key in mapping.items():
        if not key:
            continue
        if key in RESTRICTED_FIELDS and not may_see_finances(actor):
            raise InvalidInput(f"You may not import {FIELDS[key].label.lower()}.")
        if key not in allowed:
            raise InvalidInput(f"Unknown field {str(key)[:60]!r}.")
        if column not in columns:
            raise InvalidInput(f"The file has no column {str(column)[:60]!r}.")
        if key in by_index.values():
            raise InvalidInput(f"Two columns are mapped to {key!r}; map each field once.")
        by_index[columns.index(column)] = key
    if "name" not in by_index.values() and "email" not in by_index.values():
        raise InvalidInput("Map a column to Name (new clients) or Email (updates) at least.")
    return by_index


# --- the import --------------------------------------------------------------------------------


def _audit_changes_sql(columns: list[str], before: str | None) -> str:
    """jsonb {field: [before, after]} of what a row changes; column names are whitelisted."""
    parts = []
    for column in columns:
        after = f"t.{column}" if before else f"i.{column}"
        if before:
            if column == "custom_fields":
                value = f"{before}.custom_fields || t.custom_fields"
                changed = f"t.custom_fields IS NOT NULL AND ({value}) <> {before}.custom_fields"
                pair = f"jsonb_build_array({before}.custom_fields, {value})"
            else:
                changed = f"{after} IS NOT NULL AND {after} IS DISTINCT FROM {before}.{column}"
                pair = f"jsonb_build_array(to_jsonb({before}.{column}), to_jsonb({after}))"
            parts.append(
                f"CASE WHEN {changed} THEN jsonb_build_object('{column}', {pair}) "
                f"ELSE '{{}}'::jsonb END"
            )
        else:
            parts.append(
                f"CASE WHEN {after} IS NOT NULL AND {after}::text NOT IN ('{{}}', '') "
                f"THEN jsonb_build_object('{column}', jsonb_build_array(NULL, "
                f"to_jsonb({after}))) ELSE '{{}}'::jsonb END"
            )
    return " || ".join(parts) if parts else "'{}'::jsonb"


def import_clients(
    actor: Actor,
    path: Path,
    mapping: dict[str, str],
    *,
    all_or_nothing: bool = False,
    source: str = "csv import",
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    """Import an uploaded CSV with `mapping` (file column -> field key; "" skips a column).

    `progress(stage, done, total)` is called while checking rows and at each database step.
    """
    require(actor, Action.EDIT_CLIENTS)
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    path = Path(path)
    total_lines = max(sum(1 for _ in path.open("rb")) - 1, 0) if path.is_file() else 0
    rows = _open(path)
    header = next(rows, None)
    if not header:
        raise InvalidInput("The file is empty: the first line must name the columns.")
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    result = ImportResult()

    with session_scope() as session:
        definitions = custom_field_definitions(session)
        by_index = _check_mapping(actor, mapping, columns, definitions)
        fields = [by_index[i] for i in sorted(by_index)]
        plain = [f for f in fields if not f.startswith(CUSTOM_PREFIX)]
        has_custom = len(plain) != len(fields)
        table_columns = plain + (["custom_fields"] if has_custom else [])
        parse = _row_parser(fields, definitions)
        email_at = table_columns.index("email") if "email" in table_columns else None
        name_at = table_columns.index("name") if "name" in table_columns else None
        phone_at = table_columns.index("phone") if "phone" in table_columns else None
        others_at = table_columns.index("other_phones") if "other_phones" in table_columns else None

        def reject(line: int, reason: str, email: str = "") -> None:
            result.rejected_count += 1
            if len(result.rejected) < MAX_REPORTED:
                result.rejected.append(RejectedRow(line, reason, email[:320]))

        conn = session.connection()
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})
        types = {**IMPORTABLE, "custom_fields": "jsonb"}
        conn.execute(
            text(
                "CREATE TEMP TABLE client_import (line integer NOT NULL, existing_id integer, "
                + ", ".join(f"{c} {types[c]}" for c in table_columns)
                + ") ON COMMIT DROP"
            )
        )
        raw = conn.connection.driver_connection
        assert raw is not None  # an open connection has its driver connection
        seen_emails: dict[str, int] = {}
        copy_sql = f"COPY client_import (line, {', '.join(table_columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for number, row in enumerate(rows, start=2):
                if not any(cell.strip() for cell in row):
                    continue  # blank lines are not rows
                result.rows += 1
                if result.rows > MAX_ROWS:
                    raise InvalidInput(f"A file may hold at most {MAX_ROWS:,} rows; split it.")
                if result.rows % PROGRESS_EVERY == 0:
                    report("checking", result.rows, total_lines)
                cells = {
                    key: unescape_csv_cell(row[i]) if i < len(row) else ""
                    for i, key in by_index.items()
                }
                try:
                    values = parse(cells)
                except ServiceError as error:
                    reject(number, error.message, cells.get("email", ""))
                    continue
                email = values[email_at] if email_at is not None else None
                if email_at is None or email is None:
                    if name_at is None or values[name_at] is None:
                        reject(number, "A row needs a name or an email.")
                        continue
                elif email in seen_emails:
                    reject(number, f"The email is on line {seen_emails[email]} already.", email)
                    continue
                else:
                    seen_emails[email] = number
                copy.write_row((number, *values))
                for warning in phone_warnings(
                    {
                        "phone": values[phone_at] if phone_at is not None else None,
                        "other_phones": values[others_at] if others_at is not None else None,
                    }
                ):
                    result.warned_count += 1
                    if len(result.warnings) < MAX_REPORTED:
                        result.warnings.append(RejectedRow(number, warning, email or ""))
        report("checking", result.rows, result.rows)

        # Match on email: the oldest live client holding it.
        if email_at is not None:
            conn.execute(
                text(
                    "UPDATE client_import t SET existing_id = c.id FROM ("
                    " SELECT DISTINCT ON (lower(email)) id, lower(email) AS email FROM client"
                    " WHERE deleted_at IS NULL AND email IS NOT NULL ORDER BY lower(email), id) c"
                    " WHERE c.email = t.email"
                )
            )
        nameless = (
            conn.execute(
                text(
                    "DELETE FROM client_import WHERE existing_id IS NULL AND "
                    + ("name IS NULL" if name_at is not None else "true")
                    + " RETURNING line, "
                    + ("email" if email_at is not None else "''")
                )
            )
            .tuples()
            .all()
        )
        for line, email in sorted(nameless):
            reject(line, "A new client needs a name (no client has this email yet).", email or "")
        result.rejected.sort(key=lambda r: r.line)

        if all_or_nothing and result.rejected_count:
            result.aborted = True
            session.rollback()
            result.seconds = time.perf_counter() - started
            return result

        report("saving", 0, 2)
        updatable = [c for c in table_columns if c != "email"]
        if updatable:
            sets = ", ".join(
                "custom_fields = c.custom_fields || COALESCE(t.custom_fields, '{}'::jsonb)"
                if col == "custom_fields"
                else f"{col} = COALESCE(t.{col}, c.{col})"
                for col in updatable
            )
            consent = (
                "marketing_consent_at = CASE WHEN t.marketing_consent IS DISTINCT FROM "
                "c.marketing_consent AND t.marketing_consent IS NOT NULL THEN "
                "CASE WHEN t.marketing_consent THEN now() END "
                "ELSE c.marketing_consent_at END, "
                if "marketing_consent" in updatable
                else ""
            )
            changed = _audit_changes_sql(updatable, "c")
            result.updated = conn.execute(
                text(
                    f"WITH old AS (SELECT c.*, t.line, ({changed}) AS diff FROM client c"
                    "  JOIN client_import t ON t.existing_id = c.id FOR UPDATE OF c),"
                    " logged AS (INSERT INTO audit_log (actor_id, action, entity_type, entity_id,"
                    "  changes, created_at) SELECT :actor, 'client.imported', 'client', id,"
                    f"  diff || {SOURCE_JSON},"
                    "  now() FROM old WHERE diff <> '{}'::jsonb)"
                    f" UPDATE client c SET {sets}, {consent}"
                    " updated_at = CASE WHEN o.diff <> '{}'::jsonb THEN now() ELSE c.updated_at END"
                    " FROM client_import t JOIN old o ON o.id = t.existing_id"
                    " WHERE c.id = t.existing_id"
                ),
                {"actor": actor.user_id, "source": source},
            ).rowcount
        report("saving", 1, 2)

        inserted_columns = list(table_columns)
        select_values = [
            f"t.{c}"
            if c not in ("other_emails", "other_phones", "tags", "custom_fields")
            else f"COALESCE(t.{c}, " + ("'{}'::jsonb" if c == "custom_fields" else "'{}'") + ")"
            for c in inserted_columns
        ]
        defaults = {
            "kind": "'individual'",
            "risk_category": "'moderate'",
            "currency": "'USD'",
            "kyc_status": "'pending'",
            "marketing_consent": "false",
        }
        select_values = [
            f"COALESCE({v}, {defaults[c]})" if c in defaults else v
            for v, c in zip(select_values, inserted_columns, strict=True)
        ]
        for column, default in defaults.items():
            if column not in inserted_columns:
                inserted_columns.append(column)
                select_values.append(default)
        consent_at = (
            "CASE WHEN t.marketing_consent THEN now() END"
            if "marketing_consent" in table_columns
            else "NULL"
        )
        created = _audit_changes_sql(table_columns, None)
        result.inserted = conn.execute(
            text(
                f"WITH ins AS (INSERT INTO client ({', '.join(inserted_columns)}, owner_agent_id,"
                " marketing_consent_at, created_at, updated_at)"
                f" SELECT {', '.join(select_values)}, :actor, {consent_at}, now(), now()"
                " FROM client_import t WHERE t.existing_id IS NULL ORDER BY t.line"
                f" RETURNING client.*)"
                " INSERT INTO audit_log (actor_id, action, entity_type, entity_id, changes,"
                " created_at) SELECT :actor, 'client.imported', 'client', i.id,"
                f" ({created}) || {SOURCE_JSON},"
                " now() FROM ins i"
            ),
            {"actor": actor.user_id, "source": source},
        ).rowcount
        report("saving", 2, 2)
        audit.record(
            session,
            actor,
            "clients.imported",
            "client_import",
            None,
            {
                "source": source,
                "rows": result.rows,
                "inserted": result.inserted,
                "updated": result.updated,
                "rejected": result.rejected_count,
            },
        )
    result.seconds = time.perf_counter() - started
    return result


def rejected_rows_csv(result: ImportResult) -> bytes:
    """The report of refused rows as a CSV the user can fix and import again; cells are
    escaped like every file the product writes (an email cell may hold "=HYPERLINK(...)")."""
    return csv_bytes(
        ["line", "email", "reason"], ([r.line, r.email, r.reason] for r in result.rejected)
    )

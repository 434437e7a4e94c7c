"""workspace: reference tokens of message bodies for search; the user's time zone

Revision ID: 9a908e842aaa
Revises: 84ea624d48e2
Create Date: 2026-12-01 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a908e842aaa"
down_revision: str | None = "84ea624d48e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Reference-like tokens of a text, normalized (upper case, separators dropped) and joined by
# spaces: IBANs written in groups ("GB29 NWBK 6016 …") or not, codes with hyphens, dots or
# slashes ("WD-00012404", "AB-12.34") and long numbers, when they hold a digit and 4+ characters.
# Kept in step with REFERENCE_RE in crm_app/services/search.py.
REFERENCE_TOKENS_SQL = r"""
CREATE OR REPLACE FUNCTION crm_reference_tokens(body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT coalesce(string_agg(DISTINCT token, ' ' ORDER BY token), '')
  FROM (
    SELECT upper(regexp_replace(m[1], '[^A-Za-z0-9]', '', 'g')) AS token
    FROM regexp_matches(
      body,
      '(\m[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?\M'
      '|\m[A-Za-z0-9]+(?:[-./][A-Za-z0-9]+)*)',
      'g') AS m
  ) tokens
  WHERE token ~ '[0-9]' AND length(token) BETWEEN 4 AND 40
$$
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(REFERENCE_TOKENS_SQL)
    # A stored generated column: every writer (services, mail ingest, COPY) fills it.
    op.add_column("ticket_message", sa.Column(
        "reference_tokens", sa.Text(),
        sa.Computed("crm_reference_tokens(body_text)", persisted=True), nullable=True))
    op.create_index("ix_ticket_message_reference_tokens", "ticket_message",
                    ["reference_tokens"], postgresql_using="gin",
                    postgresql_ops={"reference_tokens": "gin_trgm_ops"})
    op.add_column("user_account", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("user_account", "time_zone")
    op.drop_index("ix_ticket_message_reference_tokens", table_name="ticket_message")
    op.drop_column("ticket_message", "reference_tokens")
    op.execute("DROP FUNCTION IF EXISTS crm_reference_tokens(text)")

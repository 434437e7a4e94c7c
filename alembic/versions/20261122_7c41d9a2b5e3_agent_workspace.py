"""agent workspace: queue order columns, full-text search, optimistic locking, merge, saved views,
macros, presence, round-robin setting, live change counter

Revision ID: 7c41d9a2b5e3
Revises: ef35b3318acf
Create Date: 2026-11-22 01:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from alembic import op

revision: str = "7c41d9a2b5e3"
down_revision: str | None = "ef35b3318acf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'open', 'pending')"
QUEUE_BUCKET = (
    "CASE WHEN is_unread OR status = 'new' THEN 0 ELSE 3 END + "
    "CASE sla_state WHEN 'breached' THEN 0 WHEN 'near_breach' THEN 1 ELSE 2 END"
)
QUEUE_DUE = (
    "coalesce(least(CASE WHEN first_responded_at IS NULL THEN first_response_due_at END, "
    "resolution_due_at), 'infinity'::timestamptz)"
)


def upgrade() -> None:
    # Columns with server-side values, so bulk COPY that does not name them still works.
    op.add_column("ticket", sa.Column("version", sa.Integer(), server_default=sa.text("1"),
                                      nullable=False))
    op.add_column("ticket", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_foreign_key("ticket_merged_into_id_fkey", "ticket", "ticket", ["merged_into_id"],
                          ["id"], ondelete="SET NULL")
    op.add_column("ticket", sa.Column(
        "search_vector", postgresql.TSVECTOR(),
        sa.Computed("to_tsvector('english'::regconfig, (subject)::text)", persisted=True)))
    op.add_column("ticket", sa.Column("queue_bucket", sa.SmallInteger(),
                                      sa.Computed(QUEUE_BUCKET, persisted=True)))
    op.add_column("ticket", sa.Column("queue_due_at", sa.DateTime(timezone=True),
                                      sa.Computed(QUEUE_DUE, persisted=True)))
    op.create_index("ix_ticket_search_vector", "ticket", ["search_vector"],
                    postgresql_using="gin")
    op.create_index("ix_ticket_queue", "ticket", ["queue_bucket", "queue_due_at", "id"])
    op.create_index("ix_ticket_queue_open", "ticket", ["queue_bucket", "queue_due_at", "id"],
                    postgresql_where=sa.text(OPEN))
    op.create_index("ix_ticket_queue_assignee_open", "ticket",
                    ["assignee_id", "queue_bucket", "queue_due_at", "id"],
                    postgresql_where=sa.text(OPEN))
    op.create_index("ix_ticket_queue_assignee", "ticket",
                    ["assignee_id", "queue_bucket", "queue_due_at", "id"])
    op.create_index("ix_ticket_created_at", "ticket", ["created_at"])
    op.add_column("ticket_message", sa.Column(
        "search_vector", postgresql.TSVECTOR(),
        sa.Computed("to_tsvector('english'::regconfig, body_text)", persisted=True)))
    op.create_index("ix_ticket_message_search_vector", "ticket_message", ["search_vector"],
                    postgresql_using="gin")

    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "name"),
    )
    op.create_index(op.f("ix_saved_view_owner_id"), "saved_view", ["owner_id"], unique=False)
    op.create_table(
        "macro",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("set_status", sa.String(length=32), nullable=True),
        sa.Column("set_priority", sa.String(length=32), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("title"),
    )
    op.create_table(
        "ticket_presence",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=16), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "user_id"),
    )
    op.create_index(op.f("ix_ticket_presence_seen_at"), "ticket_presence", ["seen_at"],
                    unique=False)
    op.create_table(
        "assignment_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_robin_enabled", sa.Boolean(), nullable=False),
        sa.Column("last_assignee_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["last_assignee_id"], ["user_account.id"],
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )

    # The live-update counter: a sequence (no row lock, no contention) bumped once per statement
    # that inserts or changes tickets or messages; every web worker polls its last value.
    op.execute("CREATE SEQUENCE workspace_change_seq")
    op.execute("""
        CREATE FUNCTION workspace_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM nextval('workspace_change_seq');
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE FUNCTION workspace_bump_if_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- an SLA scan batch that changes nothing must not wake every open queue
            IF EXISTS (SELECT 1 FROM changed_rows) THEN
                PERFORM nextval('workspace_change_seq');
            END IF;
            RETURN NULL;
        END $$
    """)
    op.execute("CREATE TRIGGER ticket_inserted_bump AFTER INSERT ON ticket "
               "FOR EACH STATEMENT EXECUTE FUNCTION workspace_bump()")
    op.execute("CREATE TRIGGER ticket_updated_bump AFTER UPDATE ON ticket "
               "REFERENCING NEW TABLE AS changed_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION workspace_bump_if_changed()")
    op.execute("CREATE TRIGGER ticket_message_inserted_bump AFTER INSERT ON ticket_message "
               "FOR EACH STATEMENT EXECUTE FUNCTION workspace_bump()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ticket_message_inserted_bump ON ticket_message")
    op.execute("DROP TRIGGER IF EXISTS ticket_updated_bump ON ticket")
    op.execute("DROP TRIGGER IF EXISTS ticket_inserted_bump ON ticket")
    op.execute("DROP FUNCTION IF EXISTS workspace_bump_if_changed()")
    op.execute("DROP FUNCTION IF EXISTS workspace_bump()")
    op.execute("DROP SEQUENCE IF EXISTS workspace_change_seq")
    op.drop_table("assignment_setting")
    op.drop_index(op.f("ix_ticket_presence_seen_at"), table_name="ticket_presence")
    op.drop_table("ticket_presence")
    op.drop_table("macro")
    op.drop_index(op.f("ix_saved_view_owner_id"), table_name="saved_view")
    op.drop_table("saved_view")
    op.drop_index("ix_ticket_message_search_vector", table_name="ticket_message")
    op.drop_column("ticket_message", "search_vector")
    op.drop_index("ix_ticket_created_at", table_name="ticket")
    op.drop_index("ix_ticket_queue_assignee", table_name="ticket")
    op.drop_index("ix_ticket_queue_assignee_open", table_name="ticket")
    op.drop_index("ix_ticket_queue_open", table_name="ticket")
    op.drop_index("ix_ticket_queue", table_name="ticket")
    op.drop_index("ix_ticket_search_vector", table_name="ticket")
    op.drop_column("ticket", "queue_due_at")
    op.drop_column("ticket", "queue_bucket")
    op.drop_column("ticket", "search_vector")
    op.drop_constraint("ticket_merged_into_id_fkey", "ticket", type_="foreignkey")
    op.drop_column("ticket", "merged_into_id")
    op.drop_column("ticket", "version")

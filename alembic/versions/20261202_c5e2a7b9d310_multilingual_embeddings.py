"""multilingual embeddings: an HNSW index for the 896-wide offline vectors (MiniLM + USE)

The vector column stays width-free: the 384-wide English-only choice and a configured litellm
model of any width still fit, and the 384 index keeps serving them (and the old vectors while
the `ai_index` job re-embeds them in the background: they carry the old model's name, so the
job finds them as stale and search reads them by the query's English half meanwhile).

Revision ID: c5e2a7b9d310
Revises: f36130662296
Create Date: 2026-12-02 14:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c5e2a7b9d310"
down_revision: str | None = "f36130662296"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_retrieval_chunk_embedding_multilingual_hnsw ON retrieval_chunk "
        "USING hnsw ((embedding::vector(896)) vector_cosine_ops) "
        "WHERE vector_dims(embedding) = 896"
    )


def downgrade() -> None:
    # The wider vectors stay until ai_index re-embeds them: they name a model the older code
    # does not use, so it finds them stale and its search skips them by width meanwhile.
    op.execute("DROP INDEX IF EXISTS ix_retrieval_chunk_embedding_multilingual_hnsw")

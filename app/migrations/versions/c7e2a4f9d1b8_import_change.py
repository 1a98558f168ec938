"""import changes in their own table, read page by page; batches keep only counts

Revision ID: c7e2a4f9d1b8
Revises: b3f8d1c6e2a9
Create Date: 2026-12-04 17:05:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e2a4f9d1b8'
down_revision = 'b3f8d1c6e2a9'
branch_labels = None
depends_on = None

#: what a batch's ``counts`` kept before: its detail, now in ``import_change``
DETAIL = ("changes", "errors", "notes", "conflicts", "signature", "choices")


def upgrade():
    op.create_table(
        'import_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('sheet', sa.String(length=40), nullable=False),
        sa.Column('row', sa.Integer(), nullable=True),
        sa.Column('column', sa.String(length=200), nullable=True),
        sa.Column('key', sa.Text(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('value', sa.Text(), nullable=True),
        sa.Column('data', sa.Text(), nullable=True),
        sa.Column('choice', sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_import_change_page', 'import_change', ['batch_id', 'kind', 'seq'])
    # Batches of before keep their per-sheet counts and warnings; an unapplied preview is
    # previewed again (its detail, needed by the apply, is not in the new table).
    conn = op.get_bind()
    batch = sa.table('import_batch', sa.column('id', sa.Integer), sa.column('counts', sa.Text),
                     sa.column('status', sa.String), sa.column('error', sa.Text))
    for ident, counts, status in conn.execute(sa.select(batch.c.id, batch.c.counts, batch.c.status)):
        try:
            summary = json.loads(counts or "{}")
        except ValueError:
            summary = {}
        kept = {k: v for k, v in summary.items() if k not in DETAIL}
        values = {"counts": json.dumps(kept, ensure_ascii=False)}
        if status == "preview":
            values.update(status="stale", error="Aperçu d'une version précédente de BHasile : "
                                                "importez le fichier de nouveau.")
        conn.execute(batch.update().where(batch.c.id == ident).values(**values))


def downgrade():
    op.drop_index('ix_import_change_page', table_name='import_change')
    op.drop_table('import_change')

"""history indexes for the queries the pages make: BRIN on the time (PostgreSQL), the updates
of one record only (partial), no username nor batch index — an import writes ~11 history
rows per row it creates, each index cost on every one of them

Revision ID: a9c4e2f7b1d6
Revises: a7c4e2f9d815
Create Date: 2026-12-03 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9c4e2f7b1d6'
down_revision = 'a7c4e2f9d815'
branch_labels = None
depends_on = None

UPDATES = sa.text("action = 'update'")


def upgrade():
    with op.batch_alter_table('changement', schema=None) as batch_op:
        batch_op.drop_index('ix_changement_username')
        batch_op.drop_index('ix_changement_batch_id')
        batch_op.drop_index('ix_changement_entity')
        batch_op.drop_index('ix_changement_at')
        batch_op.create_index('ix_changement_entity_update', ['entity', 'entity_id'], unique=False,
                              postgresql_where=UPDATES, sqlite_where=UPDATES)
        batch_op.create_index('ix_changement_at', ['at'], unique=False, postgresql_using='brin')


def downgrade():
    with op.batch_alter_table('changement', schema=None) as batch_op:
        batch_op.drop_index('ix_changement_at')
        batch_op.drop_index('ix_changement_entity_update')
        batch_op.create_index('ix_changement_at', ['at'], unique=False)
        batch_op.create_index('ix_changement_entity', ['entity', 'entity_id'], unique=False)
        batch_op.create_index('ix_changement_batch_id', ['batch_id'], unique=False)
        batch_op.create_index('ix_changement_username', ['username'], unique=False)

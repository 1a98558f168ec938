"""import batches in the background: progress (stage, rows done of total), error, timestamps

Revision ID: f2b6d8e4a1c3
Revises: d7a3f1c9e2b5
Create Date: 2026-12-03 12:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f2b6d8e4a1c3'
down_revision = 'd7a3f1c9e2b5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_stage', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('progress_done', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('progress_total', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_column('finished_at')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('error')
        batch_op.drop_column('progress_total')
        batch_op.drop_column('progress_done')
        batch_op.drop_column('progress_stage')

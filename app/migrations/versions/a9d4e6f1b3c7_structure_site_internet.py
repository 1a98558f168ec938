"""structure: site internet (the example of a field added end to end from the sheet schema)

Revision ID: a9d4e6f1b3c7
Revises: c7e2a4f9d1b8
Create Date: 2026-12-04 20:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9d4e6f1b3c7'
down_revision = 'c7e2a4f9d1b8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_internet', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.drop_column('site_internet')

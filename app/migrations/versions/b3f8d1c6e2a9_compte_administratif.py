"""budget dialogue, step 5: the compte administratif of the year (realised amounts per line,
result, affectation du résultat proposed by the opérateur and settled by the agent)

Revision ID: b3f8d1c6e2a9
Revises: a9c4e2f7b1d6
Create Date: 2026-12-03 18:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3f8d1c6e2a9'
down_revision = 'a9c4e2f7b1d6'
branch_labels = None
depends_on = None

COLUMNS = (
    ('echeance_ca', sa.Date()),
    ('ca_depose_le', sa.DateTime()),
    ('ca_depose_par', sa.String(length=128)),
    ('resultat', sa.Numeric(precision=14, scale=2)),
    ('affectation_proposee', sa.String(length=30)),
    ('ca_commentaire', sa.Text()),
    ('affectation_retenue', sa.String(length=30)),
    ('motif_affectation', sa.Text()),
    ('ca_arrete_le', sa.DateTime()),
    ('ca_arrete_par', sa.String(length=128)),
)


def upgrade():
    with op.batch_alter_table('dialogue_budgetaire', schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table('dialogue_ligne', schema=None) as batch_op:
        batch_op.add_column(sa.Column('realise', sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table('dialogue_ligne', schema=None) as batch_op:
        batch_op.drop_column('realise')
    with op.batch_alter_table('dialogue_budgetaire', schema=None) as batch_op:
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)

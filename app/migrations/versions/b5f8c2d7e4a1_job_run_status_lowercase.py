"""job_run: statuses in lowercase French, as every other stored status (issue #20)

« SUCCES », « EN_COURS », « ECHEC » become « termine », « en_cours », « echec »: the words the
exports' statuses already use (``models.enums``: one vocabulary for a background task).

Revision ID: b5f8c2d7e4a1
Revises: a9d4e6f1b3c7
Create Date: 2026-12-04 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5f8c2d7e4a1'
down_revision = 'a9d4e6f1b3c7'
branch_labels = None
depends_on = None

#: old stored value → new stored value
RENAMED = {"SUCCES": "termine", "EN_COURS": "en_cours", "ECHEC": "echec"}

job_run = sa.table("job_run", sa.column("status", sa.String))


def _rename(pairs):
    for old, new in pairs:
        op.execute(job_run.update().where(job_run.c.status == old).values(status=new))


def upgrade():
    _rename(RENAMED.items())


def downgrade():
    _rename((new, old) for old, new in RENAMED.items())

"""import_batch: statuses in lowercase French, as every other stored status (issue #20)

« preview », « applied », « refused », « stale », « unusable », « checking », « applying »,
« failed » become « apercu », « applique », « refuse », « perime », « inutilisable »,
« verification », « application », « echec » — beside the jobs' « en_attente », « termine »…

Revision ID: d3e9a7c5b1f2
Revises: b5f8c2d7e4a1
Create Date: 2026-12-04 22:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3e9a7c5b1f2'
down_revision = 'b5f8c2d7e4a1'
branch_labels = None
depends_on = None

#: old stored value → new stored value
RENAMED = {"preview": "apercu", "applied": "applique", "refused": "refuse", "stale": "perime",
           "unusable": "inutilisable", "checking": "verification", "applying": "application",
           "failed": "echec"}

import_batch = sa.table("import_batch", sa.column("status", sa.String))


def _rename(pairs):
    for old, new in pairs:
        op.execute(import_batch.update().where(import_batch.c.status == old).values(status=new))


def upgrade():
    _rename(RENAMED.items())


def downgrade():
    _rename((new, old) for old, new in RENAMED.items())

"""BHasile accounts: FAB's user, plus the territory a user works on (their scope)."""
from __future__ import annotations

from typing import Optional

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Column, ForeignKey, Integer, Table, event
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.base import NO_VALUE

from .operateur import Operateur
from .territoire import Departement, Region

user_region = Table(
    "user_region",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", Integer, ForeignKey("region.id", ondelete="CASCADE"), primary_key=True),
)
user_departement = Table(
    "user_departement",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("departement_id", Integer, ForeignKey("departement.id", ondelete="CASCADE"),
           primary_key=True),
)


class BhasileUser(User):
    """A FAB user with a scope: régions, départements, or one opérateur (none = national)."""

    __tablename__ = "ab_user"

    operateur_id: Mapped[Optional[int]] = mapped_column(ForeignKey("operateur.id"), nullable=True)
    #: Bumped whenever the account's credentials stop being valid (new password, account
    #: deactivated): a browser session or an API token carrying an older value is refused.
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    regions: Mapped[list[Region]] = relationship(secondary=user_region, lazy="selectin")
    departements: Mapped[list[Departement]] = relationship(secondary=user_departement,
                                                           lazy="selectin")
    operateur: Mapped[Optional[Operateur]] = relationship(foreign_keys=[operateur_id])


def revoke_credentials(user: BhasileUser) -> None:
    """End every session and every API token of ``user`` (they carry the old epoch)."""
    user.session_epoch = (user.session_epoch or 0) + 1


@event.listens_for(BhasileUser.password, "set", active_history=True)
def _password_changed(user: BhasileUser, value, old, _initiator) -> None:
    if old is not NO_VALUE and old is not None and value != old:
        revoke_credentials(user)


@event.listens_for(BhasileUser.active, "set", active_history=True)
def _deactivated(user: BhasileUser, value, old, _initiator) -> None:
    if old is True and not value:
        revoke_credentials(user)

"""Column helpers and mixins shared by the domain models."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import DateTime, Enum, Integer, Numeric, String, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

#: Money: 14 digits, 2 decimals (a billion euros fits with room to spare).
Money = Numeric(14, 2, asdecimal=True)
#: Ratios and ETP: 2 decimals.
Ratio = Numeric(10, 2, asdecimal=True)


def enum_column(enum_cls, **kwargs):
    """A portable enum: VARCHAR + CHECK constraint on both SQLite and PostgreSQL."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        name=f"ck_{enum_cls.__name__.lower()}",
        **kwargs,
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Versioned:
    """A record agents edit: who touched it last, when, and a version for optimistic locking.

    SQLAlchemy's ``version_id_col`` adds ``WHERE version = :old`` to every UPDATE and raises
    ``StaleDataError`` when another session changed the row in between.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    updated_at: Mapped[Optional[dt.datetime]] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, server_default=func.current_timestamp()
    )
    updated_by: Mapped[Optional[str]] = mapped_column(String(128))

    @declared_attr.directive
    def __mapper_args__(cls):  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}


__all__ = ["Decimal", "Money", "Ratio", "Versioned", "enum_column", "utcnow"]

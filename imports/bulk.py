"""Set-based statements for the import's apply: read and lock rows, UPDATE and INSERT many.

PostgreSQL receives new rows by ``COPY`` (one stream) and updates as one statement per chunk
with one array parameter per column (``unnest``): a few round trips and a short query text,
whatever the number of rows (the driver re-parses a long multi-row statement on every
execution). SQLite, in process, gets
plain executemany (and multi-row INSERT ... RETURNING). Values go through the column types'
own bind processors first (enum labels, decimals, dates), exactly as SQLAlchemy sends them.
"""
from __future__ import annotations

import enum
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

CHUNK = 5000      #: rows per statement
IN_CHUNK = 2000   #: ids per ``IN (...)`` (SQLite)


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _processed(conn: Connection, columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> list[list]:
    """Column-wise lists of the values as the driver receives them (a column whose type has no
    bind processor is taken as is, enum members aside: one list comprehension per column)."""
    rows = rows if isinstance(rows, list) else list(rows)
    out: list[list] = []
    for column, values in zip(columns, zip(*rows) if rows else [() for _ in columns]):
        proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if proc is None:
            out.append([v.value if isinstance(v, enum.Enum) else v for v in values])
        else:
            out.append([None if v is None else proc(v) for v in values])
    return out


def _array_type(conn: Connection, column: Any) -> str:
    return column.type.compile(dialect=conn.dialect) + "[]"


def lock(conn: Connection, table: Any, ids: Sequence[int]) -> dict[int, dict]:
    """The stored rows with these ids (locked ``FOR UPDATE`` on PostgreSQL), by id."""
    found: dict[int, dict] = {}
    ids = list(ids)
    if _pg(conn):
        for start in range(0, len(ids), CHUNK):
            chunk = bindparam("ids", ids[start:start + CHUNK], type_=ARRAY(Integer))
            query = select(table).where(table.c.id == chunk.any_()).with_for_update()
            found.update({row.id: row._asdict() for row in conn.execute(query)})
        return found
    for start in range(0, len(ids), IN_CHUNK):
        query = select(table).where(table.c.id.in_(ids[start:start + IN_CHUNK]))
        found.update({row.id: row._asdict() for row in conn.execute(query)})
    return found


def update_rows(conn: Connection, table: Any, names: Sequence[str], rows: list[tuple],
                stamp: Mapping[str, Any]) -> int:
    """UPDATE ``names`` of each row (id, expected version, *values) where the version is
    still the expected one, bumping it, with ``stamp`` (updated_at, updated_by); returns the
    number of rows updated."""
    if _pg(conn):
        columns = [table.c.id, table.c.version, *(table.c[n] for n in names)]
        sets = ", ".join([*(f'"{n}" = v."{n}"' for n in names), "version = t.version + 1",
                          *(f'"{n}" = %s' for n in stamp)])
        arrays = ", ".join(f"%s::{_array_type(conn, c)}" for c in columns)
        aliases = ", ".join(['"b_id"', '"b_version"', *(f'"{n}"' for n in names)])
        sql = (f'UPDATE "{table.name}" AS t SET {sets} FROM unnest({arrays}) AS v({aliases}) '
               "WHERE t.id = v.b_id AND t.version = v.b_version")
        done = 0
        for start in range(0, len(rows), CHUNK):
            params = (*stamp.values(), *_processed(conn, columns, rows[start:start + CHUNK]))
            done += conn.exec_driver_sql(sql, params).rowcount
        return done
    statement = (update(table)
                 .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
                 .values({**{n: bindparam(f"b_{n}") for n in names}, "version": table.c.version + 1,
                          **stamp}))
    keys = ["b_id", "b_version", *(f"b_{n}" for n in names)]
    return conn.execute(statement, [dict(zip(keys, row)) for row in rows]).rowcount


def insert_rows(conn: Connection, table: Any, names: Sequence[str], rows: list[tuple]) -> list[int]:
    """INSERT the rows (values of ``names``); their new ids, in order."""
    if not rows:
        return []
    sequence = None
    if _pg(conn):
        sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)).scalar()
    if sequence is None:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(statement, [dict(zip(names, row)) for row in rows]).scalars())
    ids = list(conn.exec_driver_sql("SELECT nextval(%s) FROM generate_series(1, %s)",
                                    (sequence, len(rows))).scalars())
    ids.sort()
    columns = [table.c.id, *(table.c[n] for n in names)]
    quoted = ", ".join(f'"{c.name}"' for c in columns)
    # COPY: one stream whatever the number of rows, formatted by the driver's C code (the
    # ``unnest`` arrays of the updates are dumped value by value in Python: 2× slower here)
    with conn.connection.driver_connection.cursor() as cursor, \
            cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for start in range(0, len(rows), CHUNK):
            chunk = [(i, *row) for i, row in zip(ids[start:start + CHUNK], rows[start:start + CHUNK])]
            for row in zip(*_processed(conn, columns, chunk)):
                copy.write_row(row)
    return ids

"""Change history ("mémoire de service"): one builder, ``HistoryBatch``, for every write.

Every write of a domain record, whatever the path (form, API, import, grid, CLI), adds one
``changement`` row per changed field. The origin and the user come from ``audit_context``
when a batch sets them, else from the request (form or API), else ``cli``.

Two paths describe their changes to a ``HistoryBatch`` (``created``, ``updated``, ``deleted``),
which builds the rows — the same fields, the same rendering (``render_value``), no row for a
no-op — and inserts them in one statement (``COPY`` on PostgreSQL for big batches):
- the SQLAlchemy session hook, for every ORM flush (``_describe`` reads the attribute state);
- the bulk writes (the import's apply), which bypass the ORM unit of work, with plain dicts.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
from decimal import Decimal
from typing import Any, Iterator, Mapping, Optional

from flask import g, has_request_context, request
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from models import Changement
from models.base import Versioned, utcnow

_context: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar("bhasile_audit", default=None)

#: Columns that are bookkeeping, not data: never written to the history.
_SKIP = {"id", "version", "updated_at", "updated_by"}


@contextlib.contextmanager
def audit_context(origin: str, batch_id: Optional[int] = None, username: Optional[str] = None,
                  user_id: Optional[int] = None) -> Iterator[None]:
    """Tag every change made inside the block with this origin, batch and user."""
    token = _context.set({"origin": origin, "batch_id": batch_id, "username": username,
                          "user_id": user_id})
    try:
        yield
    finally:
        _context.reset(token)


def current_actor() -> dict:
    """The origin, batch and user to record for a change made now."""
    ctx = dict(_context.get() or {})
    user = getattr(g, "user", None) if has_request_context() else None
    if user is not None and getattr(user, "is_authenticated", False):
        ctx.setdefault("username", None)
        ctx["username"] = ctx["username"] or user.username
        ctx["user_id"] = ctx.get("user_id") or user.id
    if not ctx.get("origin"):
        if has_request_context():
            ctx["origin"] = "api" if request.path.startswith("/api/") else "form"
        else:
            ctx["origin"] = "cli"
    return ctx


def render_value(value: Any) -> Optional[str]:
    """How a value is written in the history (and compared): text, ISO dates, enum codes."""
    if value is None:
        return None
    if value.__class__ is str:
        return value
    if value.__class__ is int:
        return str(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def changed(old: Optional[str], new: Optional[str]) -> bool:
    """Whether two rendered values differ for a reader: nothing, '' and blanks are all « empty »
    (a form sends '' where the record held NULL: that is no change, and no history row)."""
    if _blank(old) and _blank(new):
        return False
    return old != new


def _blank(value: Optional[str]) -> bool:
    return value is None or not value.strip()


def record_key(obj: Any, values: Optional[Mapping[str, Any]] = None) -> str:
    """A human key for the record: its natural key when it has one.

    ``values`` (column name → value) stands for the record when it is not an ORM object.
    """
    get = values.get if values is not None else (lambda a: getattr(obj, a, None))
    for attr in ("code_dna", "reference", "nom", "code"):
        value = get(attr)
        if isinstance(value, str) and value:
            return value
    parts = [str(get(a)) for a in ("annee", "mois", "type") if get(a) is not None]
    return "/".join(parts) or str(get("id") or "")


def _structure_id(obj: Any) -> Optional[int]:
    if type(obj).__tablename__ == "structure":
        return obj.id
    sid = getattr(obj, "structure_id", None)
    if sid is None and type(obj).__tablename__ == "adresse_annee":
        adresse = obj.__dict__.get("adresse")
        sid = adresse.structure_id if adresse is not None else None
    return sid


def _audited(obj: Any) -> bool:
    return isinstance(obj, Versioned)


def _columns(obj: Any) -> list[tuple[str, str]]:
    """(column name, attribute name) of the columns of ``obj`` the history records."""
    table = type(obj).__table__
    pairs = _ATTRS.get(table.name)
    if pairs is None:
        mapper = inspect(type(obj))
        pairs = _ATTRS[table.name] = [(name, mapper.get_property_by_column(table.c[name]).key)
                                      for name in _fields(table)]
    return pairs


_ATTRS: dict[str, list[tuple[str, str]]] = {}


def _describe(batch: "HistoryBatch", obj: Any, action: str) -> None:
    """Describe a record the session writes to ``batch``, as the bulk path describes its rows:
    the values come from the ORM's attribute state instead of plain dicts."""
    table, state = type(obj).__table__, inspect(obj)
    if action == "create":
        values = {name: getattr(obj, attr) for name, attr in _columns(obj)}
        batch.created(table, obj.id, values, _structure_id(obj))
    elif action == "delete":
        old = {}
        for name, attr in _columns(obj):
            hist = state.attrs[attr].history
            old[name] = hist.unchanged[0] if hist.unchanged else (hist.deleted[0] if hist.deleted else None)
        batch.deleted(table, obj.id, old, _structure_id(obj))
    else:
        old, new = {}, {}
        for name, attr in _columns(obj):
            hist = state.attrs[attr].history
            if hist.has_changes():
                old[name] = hist.deleted[0] if hist.deleted else None
                new[name] = hist.added[0] if hist.added else None
            elif name in _KEYS:  # the record's key is read from its current values
                old[name] = getattr(obj, attr)
        if new:
            batch.updated(table, obj.id, old, new, _structure_id(obj))


def _before_flush(session: Session, flush_context, instances) -> None:
    actor = current_actor()
    new = session.new  # built once: ``session.new`` makes a new set on every access
    for obj in list(new) + list(session.dirty):
        if _audited(obj) and (obj in new or session.is_modified(obj, include_collections=False)):
            obj.updated_by = actor.get("username") or actor["origin"]
    deleted = [obj for obj in session.deleted if _audited(obj)]
    batch = None
    if deleted:  # described now: the flush expires what they held
        batch = HistoryBatch(session.connection(), actor)
        for obj in deleted:
            _describe(batch, obj, "delete")
    session.info["bhasile_history"] = batch


def _after_flush(session: Session, flush_context) -> None:
    batch = session.info.pop("bhasile_history", None) or HistoryBatch(session.connection())
    for obj in session.new:
        if _audited(obj):
            _describe(batch, obj, "create")
    for obj in session.dirty:
        if _audited(obj) and obj not in session.deleted:
            _describe(batch, obj, "update")
    batch.insert()


#: The columns of ``changement`` a history row fills, in the order ``COPY`` receives them.
_COLUMNS = ("at", "user_id", "username", "action", "entity", "entity_id", "key", "field",
            "old_value", "new_value", "origin", "batch_id", "structure_id")
#: The columns ``record_key`` reads.
_KEYS = {"code_dna", "reference", "nom", "code", "annee", "mois", "type"}
#: From this many rows, PostgreSQL receives the history by ``COPY`` (one round trip).
COPY_FROM = 500


class HistoryBatch:
    """The history of a bulk write: the rows the session hook would write, written at once.

    Describe each record written (``created``, ``updated``, ``deleted``) with its column
    values; ``write`` inserts every row in the transaction of ``connection``. Rows are kept as tuples
    in ``_COLUMNS`` order (a big import makes hundreds of thousands of them).
    """

    def __init__(self, connection: Any, actor: Optional[dict] = None, now: Optional[dt.datetime] = None):
        self.connection = connection
        self.actor = actor or current_actor()
        self.now = now or utcnow()
        self.rows: list[tuple] = []
        self.copy = connection.dialect.name == "postgresql"
        self.driver = not self.copy and connection.dialect.paramstyle == "qmark"  # SQLite
        at = self.now
        if self.driver:  # the time as SQLAlchemy stores it, computed once
            process = Changement.__table__.c.at.type.dialect_impl(connection.dialect).bind_processor(
                connection.dialect)
            at = process(at) if process is not None else at
        self._who = (at, self.actor.get("user_id"), self.actor.get("username"))
        self._origin = (self.actor["origin"], self.actor.get("batch_id"))

    @property
    def updated_by(self) -> str:
        """What ``updated_by`` holds for the records written in this batch."""
        return self.actor.get("username") or self.actor["origin"]

    def _ends(self, action: str, table: Any, entity_id: int, values: Mapping[str, Any],
              structure_id: Optional[int]) -> tuple[tuple, tuple]:
        key = (record_key(None, values) or str(entity_id))[:200]
        return (*self._who, action, str(table.name), entity_id, key), (*self._origin, structure_id)

    def created(self, table: Any, entity_id: int, values: Mapping[str, Any],
                structure_id: Optional[int]) -> None:
        """A new record: one row per column with a value (as the hook's ``create``)."""
        head, tail = self._ends("create", table, entity_id, values, structure_id)
        rows, get = [], values.get
        for name in _fields(table):   # render_value and _blank, inlined: ~11 fields per row
            value = get(name)
            if value is None:
                continue
            if value.__class__ is not str:
                value = str(value) if value.__class__ is int else render_value(value)
            if value and not value.isspace():
                rows.append((*head, name, None, value, *tail))
        self.rows.extend(rows or [head + (None, None, None) + tail])

    def updated(self, table: Any, entity_id: int, old: Mapping[str, Any], new: Mapping[str, Any],
                structure_id: Optional[int]) -> None:
        """A changed record: one row per field whose rendered value changes (``new``: the
        changed columns only; ``old``: the whole stored row)."""
        values = {**old, **new} if _KEYS.intersection(new) else old
        head, tail = self._ends("update", table, entity_id, values, structure_id)
        for name in _fields(table):
            if name in new:
                before, after = render_value(old[name]), render_value(new[name])
                if changed(before, after):
                    self.rows.append(head + (name, before, after) + tail)

    def deleted(self, table: Any, entity_id: int, old: Mapping[str, Any],
                structure_id: Optional[int]) -> None:
        """A deleted record: one row per column that had a value (as the hook's ``delete``)."""
        head, tail = self._ends("delete", table, entity_id, old, structure_id)
        rows = [head + (name, value, None) + tail for name in _fields(table)
                if not _blank(value := render_value(old.get(name)))]
        self.rows.extend(rows or [head + (None, None, None) + tail])

    def write(self) -> int:
        """Insert every row in the connection's transaction; returns how many (the bulk
        path's call; the session hook calls ``insert`` directly)."""
        return self.insert()

    def insert(self) -> int:
        """Insert every row in the connection's transaction; returns how many."""
        rows, self.rows = self.rows, []
        if not rows:
            return 0
        names = ", ".join(f'"{c}"' for c in _COLUMNS)
        if self.copy and len(rows) >= COPY_FROM:
            with self.connection.connection.driver_connection.cursor() as cursor, \
                    cursor.copy(f"COPY changement ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif self.driver:
            marks = ", ".join("?" for _ in _COLUMNS)
            self.connection.exec_driver_sql(f"INSERT INTO changement ({names}) VALUES ({marks})", rows)
        else:
            self.connection.execute(insert(Changement.__table__), [dict(zip(_COLUMNS, row)) for row in rows])
        return len(rows)


def _fields(table: Any) -> list[str]:
    """The columns of ``table`` the history records, in the table's order."""
    fields = _FIELDS.get(table.name)
    if fields is None:
        fields = _FIELDS[table.name] = [str(c.name) for c in table.columns if c.name not in _SKIP]
    return fields


_FIELDS: dict[str, list[str]] = {}


def record_event(session: Session, action: str, entity: str, key: str, username: Optional[str],
                 user_id: Optional[int] = None, origin: str = "form") -> None:
    """Record a non-data event (login, failed login, job run) in the history."""
    session.add(Changement(action=action, entity=entity, key=key, username=username,
                           user_id=user_id, origin=origin))


def init_audit(session_factory) -> None:
    """Attach the history hooks to the application's session class (idempotent)."""
    target = session_factory if isinstance(session_factory, type) else Session
    if not event.contains(target, "before_flush", _before_flush):
        event.listen(target, "before_flush", _before_flush)
        event.listen(target, "after_flush", _after_flush)

"""Extension objects, created unbound and initialised by ``create_app``."""
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_migrate import Migrate

db = get_sqla_class()()
migrate = Migrate()


@event.listens_for(Engine, "connect")
def _sqlite_wal(dbapi_connection, _record) -> None:
    """The embedded SQLite file in write-ahead-log mode: readers never wait for the writer (the
    web threads, the job threads), and a commit appends to the log instead of syncing the
    whole file to disk each time (``synchronous=NORMAL``, safe in WAL mode: a power cut may lose
    the last commits, never corrupt the file). Each commit cost ~30 ms of disk wait here."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

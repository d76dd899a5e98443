"""The database backend: the label store for a team, on SQLAlchemy Core (SQLite by default, PostgreSQL by URL).

Open it by passing a URL where a path goes: ``LabelStore("sqlite:///labels.db", class_names)`` (a file, no
server) or ``LabelStore("postgresql://alice@db.example.org/labels?password_env=LABELS_PW", class_names)``.
``store.copy_to(url)`` moves a JSONL session there in one call.

Semantics are those of the JSONL file: an append-only log of the same action records (header first), which
each opened store replays into its :class:`~alnb.store.log.LabelLog`. Every store call that writes is one
transaction: writers are serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a row lock on the header), catch
up with what others committed, validate, insert and commit, so the order of ``seq`` is the commit order and
every store replays the same history. A killed writer loses only its uncommitted transaction.

SQLite runs in WAL mode (readers never block the writer) with ``synchronous=FULL`` (a committed label
survives a power cut, like the JSONL fsync) and a busy timeout, so several processes on one machine share one
file. Keep the file on a local disk: SQLite's locking is unreliable on network file systems; use PostgreSQL
for several machines.

Tables (``prefix`` default ``alnb``): ``<prefix>_header`` (one row), ``<prefix>_actions`` (``seq`` order) and
``<prefix>_leases`` (index → session, annotator, expiry; see :meth:`~alnb.store.LabelStore.lease`).

Credentials
-----------
A password in the URL is used to connect and never shown: :meth:`SqlBackend.describe`, ``repr`` and
:attr:`SqlBackend.url` print it as ``***``, and :meth:`SqlBackend.saved_url` (what ``learner.json`` records)
leaves it out. Better, keep it out of the URL: ``?password_env=NAME`` reads it from the environment variable
``NAME`` when connecting, and PostgreSQL's own ``PGPASSWORD`` / ``~/.pgpass`` work as usual.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from alnb.store.backend import Lease, StoreBackend
from alnb.store.format import FORMAT_VERSION, Header, action_from_record, check_header
from alnb.store.log import Action, LabelLog

__all__ = ["PASSWORD_ENV", "SqlBackend", "resolve_saved_url"]

#: The URL query parameter naming an environment variable that holds the password.
PASSWORD_ENV = "password_env"

_BUSY_TIMEOUT_S = 60.0


def _tables(prefix: str) -> tuple[sa.MetaData, sa.Table, sa.Table, sa.Table]:
    meta = sa.MetaData()
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: an INTEGER key is the rowid
    header = sa.Table(
        f"{prefix}_header",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("class_names", sa.Text, nullable=False),  # a JSON list
        sa.Column("dataset", sa.Text),
        sa.Column("created", sa.Text, nullable=False),
    )
    actions = sa.Table(
        f"{prefix}_actions",
        meta,
        sa.Column("seq", big, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("label", sa.Integer),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("annotator", sa.Text, nullable=False),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("pseudo", sa.Boolean, nullable=False, default=False),
        sa.Column("session", sa.Text),
        sqlite_autoincrement=True,  # seq never reused, so it is the commit order for good
    )
    leases = sa.Table(
        f"{prefix}_leases",
        meta,
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("session", sa.Text, nullable=False),
        sa.Column("annotator", sa.Text, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )
    return meta, header, actions, leases


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ValueError(
            f"url {url!r} is not a database URL ({err}); expected e.g. 'sqlite:///labels.db'."
        ) from None
    return parsed


def _redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)


class SqlBackend(StoreBackend):
    """Records in a SQL database (see the module docstring); one instance serves one store.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``sqlite:///path/labels.db`` (relative paths from the current folder; missing
        folders are created) or ``postgresql://user@host:port/db`` (the ``psycopg`` driver is used when the
        URL names none; a socket folder goes in ``?host=/path``). ``?password_env=NAME`` reads the
        password from the environment variable ``NAME``.
    prefix : str
        Table name prefix, so several label stores can share one database.

    Examples
    --------
    >>> SqlBackend("postgresql://alice:secret@localhost/labels").describe()
    "'postgresql+psycopg://alice:***@localhost/labels'"
    """

    def __init__(self, url: str, *, prefix: str = "alnb") -> None:
        if not isinstance(url, str):
            raise ValueError(f"url must be a string, got {url!r}.")
        if not isinstance(prefix, str) or not prefix.isidentifier():
            raise ValueError(f"prefix must be an identifier (letters, digits, _), got {prefix!r}.")
        parsed = _parse(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self._path: Path | None = None
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                raise ValueError(
                    f"url {_redacted(parsed)!r} names no SQLite file; pass a file ('sqlite:///labels.db'), "
                    "or use LabelStore.in_memory(...) for a store that lives in memory."
                )
            self._path = Path(database).expanduser().absolute()
            parsed = parsed.set(database=str(self._path))
        self._public = parsed  # what may be shown: a password in it is always rendered as ***
        self._prefix = prefix
        self._meta, self._header_t, self._actions_t, self._leases_t = _tables(prefix)
        self._engine: Engine | None = None
        self._header: Header | None = None
        self._last_seq = 0  # the largest seq replayed into the log
        self._conn: Connection | None = None  # the write transaction, inside exclusive()
        self._written_seq: int | None = None  # seq of this transaction's last insert, until it commits

    # ------------------------------------------------------------------ naming
    @property
    def path(self) -> Path | None:
        """The SQLite file, or ``None`` for a database server."""
        return self._path

    @property
    def url(self) -> str:
        """The URL with its password shown as ``***``."""
        return _redacted(self._public)

    @property
    def is_sqlite(self) -> bool:
        return self._path is not None

    def describe(self) -> str:
        return repr(self.url)

    def saved_url(self, directory: str | os.PathLike[str] | None = None) -> str:
        """The URL to record in a saved session: no password; a SQLite file inside ``directory`` relative to it.

        :func:`resolve_saved_url` turns it back into a URL to open.
        """
        if self._path is not None:
            where = self._path.resolve()
            if directory is not None:
                with contextlib.suppress(ValueError):
                    return f"sqlite:///{where.relative_to(Path(directory).resolve()).as_posix()}"
            return f"sqlite:///{where.as_posix()}"
        u = self._public
        bare = URL.create(u.drivername, u.username, None, u.host, u.port, u.database, u.query)
        return bare.render_as_string(hide_password=False)

    def saved_location(self, directory: str | os.PathLike[str] | None = None) -> str:
        return self.saved_url(directory)

    # ------------------------------------------------------------------ connecting
    def _connect_url(self) -> URL:
        url = self._public
        name = url.query.get(PASSWORD_ENV)
        if name is None:
            return url
        if isinstance(name, tuple):
            name = name[-1]
        secret = os.environ.get(name)
        if secret is None:
            raise ValueError(
                f"the label store URL {self.url!r} reads its password from the environment variable {name!r}, "
                "which is not set; set it before opening the store."
            )
        return url.difference_update_query([PASSWORD_ENV]).set(password=secret)

    def _engine_now(self) -> Engine:
        if self._engine is not None:
            return self._engine
        if self.is_sqlite:
            assert self._path is not None
            self._path.parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self._connect_url(), connect_args={"timeout": _BUSY_TIMEOUT_S})

            @sa.event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # the driver's own BEGIN is deferred; we issue ours
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = FULL")
                cur.close()

            @sa.event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                # IMMEDIATE takes the write lock at once, so two writers never both read, then both write.
                write = conn.get_execution_options().get("alnb_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        else:
            engine = sa.create_engine(self._connect_url(), pool_pre_ping=True, pool_size=2, max_overflow=2)
        self._engine = engine
        return engine

    def _check_file(self, log: LabelLog) -> None:
        # A new SQLite connection would silently create an empty file where the labels were.
        if self._path is not None and self._header is not None and not self._path.exists():
            raise RuntimeError(
                f"The label store database {str(self._path)!r} was deleted while this LabelStore was open. Its "
                f"{len(log)} actions ({len(log.labels)} labels) are still in memory: save them with "
                "store.to_json(...) or store.copy_to(...) before creating a new store."
            )

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        engine = self._engine_now()
        with engine.connect() as conn:
            conn.execution_options(alnb_write=write)
            with conn.begin():
                if write and not self.is_sqlite and self._header is not None:
                    conn.execute(sa.select(self._header_t.c.id).with_for_update())  # serialises writers
                yield conn

    # ------------------------------------------------------------------ the interface
    def open(self, header: Header, log: LabelLog) -> Header:
        if self._header is not None:
            raise RuntimeError(
                f"this SqlBackend of {self.url!r} already serves a store; a second store on the same database "
                "needs its own backend (or pass the URL)."
            )
        with self._transaction(write=True) as conn:
            if not self.is_sqlite:  # concurrent CREATE TABLE IF NOT EXISTS can collide in PostgreSQL
                key = zlib.crc32(f"alnb-store-{self._prefix}".encode()) & 0x7FFFFFFF
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            self._meta.create_all(conn, checkfirst=True)
            row = conn.execute(sa.select(self._header_t)).mappings().first()
            if row is None:
                conn.execute(sa.insert(self._header_t), [self._header_row(header)])
                in_force = header
            else:
                record = {**row, "type": "header", "class_names": json.loads(row["class_names"])}
                in_force = check_header(record, header, self.url)
            self._catch_up(conn, log)
        self._header = in_force
        return in_force

    def refresh(self, log: LabelLog) -> None:
        self._check_file(log)
        with self._transaction(write=False) as conn:
            self._catch_up(conn, log)

    @contextlib.contextmanager
    def exclusive(self, log: LabelLog) -> Iterator[None]:
        self._check_file(log)
        self._written_seq = None
        try:
            with self._transaction(write=True) as conn:
                self._catch_up(conn, log)
                self._conn = conn
                try:
                    yield  # the transaction commits when this block ends without an error
                finally:
                    self._conn = None
            if self._written_seq is not None:  # committed: the store applies its batch to the log next
                self._last_seq = self._written_seq
        finally:
            self._written_seq = None

    def write(self, batch: Sequence[Action]) -> None:
        conn = self._writing("write")
        if not batch:
            return
        conn.execute(sa.insert(self._actions_t), [self._action_row(a) for a in batch])
        # Writers are serialised, so the largest seq now is this batch's last row.
        self._written_seq = int(conn.execute(sa.select(sa.func.max(self._actions_t.c.seq))).scalar_one())
        done = sorted({a.index for a in batch if a.type in ("label", "skip")})
        if done:
            conn.execute(sa.delete(self._leases_t).where(self._leases_t.c.idx.in_(done)))

    @property
    def has_leases(self) -> bool:
        return True

    def read_leases(self) -> dict[int, Lease]:
        conn = self._writing("read_leases")
        t = self._leases_t
        rows = conn.execute(sa.select(t.c.idx, t.c.session, t.c.annotator, t.c.expires)).all()
        return {int(r.idx): Lease(int(r.idx), r.session, r.annotator, float(r.expires)) for r in rows}

    def write_leases(self, put: Iterable[Lease], drop: Iterable[int]) -> None:
        conn = self._writing("write_leases")
        put = list(put)
        gone = sorted({*drop, *(lease.index for lease in put)})
        for start in range(0, len(gone), 500):  # stay below drivers' bound-parameter limits
            conn.execute(sa.delete(self._leases_t).where(self._leases_t.c.idx.in_(gone[start : start + 500])))
        if put:
            rows = [
                {"idx": x.index, "session": x.session, "annotator": x.annotator, "expires": x.expires}
                for x in put
            ]
            conn.execute(sa.insert(self._leases_t), rows)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # ------------------------------------------------------------------ copying
    def copy_from(self, header: Header, log: LabelLog) -> None:
        """Create the store here with ``header`` and every action of ``log``, in one transaction.

        Refuses (``ValueError``) a database that already holds a label store under this prefix.
        """
        with self._transaction(write=True) as conn:
            if not self.is_sqlite:
                key = zlib.crc32(f"alnb-store-{self._prefix}".encode()) & 0x7FFFFFFF
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            self._meta.create_all(conn, checkfirst=True)
            if conn.execute(sa.select(self._header_t.c.id)).first() is not None:
                raise ValueError(
                    f"the database {self.url!r} already holds a label store (tables {self._prefix}_*); copy to "
                    "an empty database, or pass another prefix."
                )
            conn.execute(sa.insert(self._header_t), [self._header_row(header)])
            rows = [self._action_row(a) for a in log.actions]
            for start in range(0, len(rows), 1000):
                conn.execute(sa.insert(self._actions_t), rows[start : start + 1000])

    # ------------------------------------------------------------------ rows
    def _writing(self, what: str) -> Connection:
        if self._conn is None:
            raise RuntimeError(f"SqlBackend.{what} is only allowed inside exclusive().")
        return self._conn

    @staticmethod
    def _header_row(header: Header) -> dict[str, Any]:
        return {
            "id": 1,
            "version": FORMAT_VERSION,
            "class_names": json.dumps(list(header.class_names)),
            "dataset": header.dataset,
            "created": header.created,
        }

    @staticmethod
    def _action_row(a: Action) -> dict[str, Any]:
        return {
            "type": a.type,
            "idx": a.index,
            "label": a.label,
            "round": a.round,
            "annotator": a.annotator,
            "time": a.time,
            "pseudo": a.pseudo,
            "session": a.session,
        }

    def _catch_up(self, conn: Connection, log: LabelLog) -> None:
        t = self._actions_t
        rows = conn.execute(sa.select(t).where(t.c.seq > self._last_seq).order_by(t.c.seq)).mappings().all()
        for row in rows:
            record = {
                "type": row["type"],
                "index": row["idx"],
                "label": row["label"],
                "round": row["round"],
                "annotator": row["annotator"],
                "time": row["time"],
                "pseudo": bool(row["pseudo"]),
            }
            if row["session"] is not None:
                record["session"] = row["session"]
            try:
                log.apply(action_from_record(record, log.num_classes))
            except ValueError as err:
                raise ValueError(
                    f"{self.url}: action seq {row['seq']} is not a valid action: {err}"
                ) from None
            self._last_seq = int(row["seq"])


def resolve_saved_url(saved: str, directory: str | os.PathLike[str]) -> str:
    """The URL to open for one recorded by :meth:`SqlBackend.saved_url`: a relative SQLite file is in ``directory``.

    Raises ``FileNotFoundError`` for a SQLite file that does not exist (it is never recreated empty).
    """
    parsed = _parse(saved)
    if parsed.get_backend_name() != "sqlite":
        return saved
    path = Path(parsed.database or "")
    if not path.is_absolute():
        path = (Path(directory) / path).absolute()
    if not path.is_file():
        raise FileNotFoundError(
            f"the label database {path} of the session in {directory} is missing. Copy it back there (it moves "
            "with the session folder when it lies inside it), or start a new session."
        )
    return f"sqlite:///{path.as_posix()}"

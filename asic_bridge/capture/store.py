"""Capture store on SQLite in WAL mode, one file per session.

Writers hand events to :class:`CaptureWriter` from any thread; one writer thread owns the
connection and commits in batches at most ``batch_interval_s`` apart (default 0.5 s). The
database runs in WAL mode with ``synchronous=FULL``: a process killed at any moment
(SIGKILL included) leaves every batch committed before the kill, and the file opens
cleanly afterwards (SQLite rolls back the torn tail of the WAL on the next open).

Tables: ``metadata(key, value)`` and one table per event kind, named as
:data:`asic_bridge.events.EVENT_KINDS` names it (``shares``, ``telemetry``, ``control``,
``jobs``, ``status``), whose columns are the event's fields. Schema version 1 files
(tables ``controls``, telemetry column ``chip``) are read as version 2.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from asic_bridge.errors import CaptureError
from asic_bridge.events import (
    EVENT_KINDS,
    Event,
    JobEvent,
    ShareOutcome,
    TimestampSource,
)

SCHEMA_VERSION = 2

TABLE_OF: dict[type, str] = dict(EVENT_KINDS)
EVENT_OF: dict[str, type] = {v: k for k, v in TABLE_OF.items()}
# schema version 1 names: table -> its old name, (table, column) -> the old column name
_V1_TABLE = {"control": "controls"}
_V1_COLUMN = {("telemetry", "index"): "chip"}
_ENUMS = {"outcome": ShareOutcome, "t_source": TimestampSource}


def _columns(event_type: type) -> list[str]:
    return [f.name for f in dataclasses.fields(event_type)]


def _sql_type(annotation: str) -> str:
    for py, sql in (("int", "INTEGER"), ("float", "REAL"), ("bool", "INTEGER")):
        if annotation.split("|")[0].strip() == py:
            return sql
    return "TEXT"


def _create_sql(event_type: type) -> str:
    cols = ", ".join(f'"{f.name}" {_sql_type(str(f.type))}' for f in dataclasses.fields(event_type))
    return f'CREATE TABLE IF NOT EXISTS "{TABLE_OF[event_type]}" (id INTEGER PRIMARY KEY, {cols})'


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


_INSERT_SQL = {
    t: f'INSERT INTO "{name}" ({_quoted(_columns(t))}) VALUES ({", ".join("?" * len(_columns(t)))})'
    for t, name in TABLE_OF.items()
}


# one C-level getter per event type; StrEnum fields bind to SQLite as their text
_ROW_OF = {t: operator.attrgetter(*_columns(t)) for t in TABLE_OF}


def _row(event: Event) -> tuple[Any, ...]:
    return _ROW_OF[type(event)](event)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class CaptureWriter:
    """Append events to a new capture file from any thread; commits in batches at most
    ``batch_interval_s`` apart (each batch one transaction of up to ``max_batch`` rows).

    ``metadata`` is stored as JSON-encoded values in the ``metadata`` table; hashrc
    expects at least device model and serial, firmware (or emulator version), seed,
    task, encoder, hashrc version and start time, and adds ``schema_version``.
    ``on_commit(total_committed)`` is called from the writer thread after each commit.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        metadata: dict[str, Any],
        overwrite: bool = False,
        batch_interval_s: float = 0.5,
        max_batch: int = 20_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        if not 0 < batch_interval_s <= 1.0:
            raise ValueError(f"batch_interval_s must be in (0, 1] s, got {batch_interval_s}")
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise CaptureError(f"{self.path} exists; pass overwrite=True to replace it")
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._batch_interval_s = batch_interval_s
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._committed = 0
        self._error: BaseException | None = None
        self._closed = False
        conn = _connect(self.path)
        with conn:
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT)")
            for event_type in TABLE_OF:
                conn.execute(_create_sql(event_type))
            conn.executemany(
                "INSERT INTO metadata VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in {"schema_version": SCHEMA_VERSION, **metadata}.items()],
            )
            conn.execute("COMMIT")
        self._conn = conn
        self._thread = threading.Thread(target=self._run, name=f"capture:{self.path.name}", daemon=True)
        self._thread.start()

    @property
    def committed(self) -> int:
        """Number of events durably committed so far."""
        return self._committed

    def write(self, event: Event) -> None:
        """Queue one event (thread-safe, never blocks on disk)."""
        self._check_open()
        self._queue.put(event)

    def write_many(self, events: Iterable[Event]) -> None:
        self._check_open()
        for event in events:
            self._queue.put(event)

    def set_metadata(self, key: str, value: Any) -> None:
        """Set or replace one metadata entry (committed with the next batch)."""
        self._check_open()
        self._queue.put(("__meta__", key, value))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until everything queued so far is committed."""
        self._check_open()
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        if not done.wait(timeout_s):
            raise CaptureError(f"capture writer did not flush within {timeout_s} s")
        self._raise_if_failed()

    def close(self) -> None:
        """Commit what is queued and close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._wake.set()
        self._thread.join()
        self._conn.close()
        self._raise_if_failed()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise CaptureError(f"capture {self.path} is closed")
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise CaptureError(f"capture writer for {self.path} failed: {self._error}") from self._error

    def _run(self) -> None:
        """Sleep for a batch interval (or until flush/close), then drain the queue in one
        go and commit it. Never waking per event keeps this thread from taking the GIL
        from the producer (an event loop stamping shares) on every write."""
        stop = False
        while not stop:
            self._wake.wait(self._batch_interval_s)
            self._wake.clear()
            pending: list[Any] = []
            waiters: list[threading.Event] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    pending.append(item)
            for start in range(0, len(pending), self._max_batch):
                try:
                    self._commit(pending[start: start + self._max_batch])
                except BaseException as exc:  # recorded, re-raised in the caller's thread
                    self._error = exc
                    stop = True
                    break
            for waiter in waiters:
                waiter.set()

    def _commit(self, items: list[Any]) -> None:
        rows: dict[type, list[tuple[Any, ...]]] = {}
        meta: list[tuple[str, str]] = []
        count = 0
        for item in items:
            if isinstance(item, tuple) and item and item[0] == "__meta__":
                meta.append((item[1], json.dumps(item[2])))
            else:
                rows.setdefault(type(item), []).append(_row(item))
                count += 1
        conn = self._conn
        conn.execute("BEGIN")
        try:
            for event_type, batch in rows.items():
                conn.executemany(_INSERT_SQL[event_type], batch)
            if meta:
                conn.executemany("INSERT OR REPLACE INTO metadata VALUES (?, ?)", meta)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._committed += count
        if self._on_commit is not None:
            self._on_commit(self._committed)


class CaptureReader:
    """Read a capture file (also one whose writer was killed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CaptureError(f"no capture file at {self.path}")
        try:
            self._conn = sqlite3.connect(self.path)
            self._conn.execute("SELECT key, value FROM metadata LIMIT 1").fetchall()
            self._table_names: set[str] | None = None
        except sqlite3.DatabaseError as exc:
            raise CaptureError(f"{self.path} is not a hashrc capture: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        """SQLite's own integrity check of the file."""
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def metadata(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM metadata")}

    def count(self, table: str) -> int:
        if not self._has_table(table):
            return 0
        return int(self._conn.execute(f'SELECT COUNT(*) FROM "{self._stored_table(table)}"').fetchone()[0])

    def columns(self, table: str) -> list[str]:
        self._check_table(table)
        return _columns(EVENT_OF[table])

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        """All rows of one event table, in insertion order, as tuples of its columns
        (an event kind the file predates has no rows)."""
        names = self.columns(table)
        if not self._has_table(table):
            return []
        stored = self._stored_table(table)
        present = {r[1] for r in self._conn.execute(f'PRAGMA table_info("{stored}")')}
        select = []
        for name in names:
            old = _V1_COLUMN.get((table, name))
            column = name if name in present or old not in present else old
            select.append(f'"{column}"' if column in present else "NULL")
        return self._conn.execute(f'SELECT {", ".join(select)} FROM "{stored}" ORDER BY id').fetchall()

    def _stored_table(self, table: str) -> str:
        """The table's name in this file (version 1 files used other names)."""
        self._check_table(table)
        tables = self._tables()
        if table not in tables and _V1_TABLE.get(table) in tables:
            return _V1_TABLE[table]
        return table

    def _has_table(self, table: str) -> bool:
        return self._stored_table(table) in self._tables()

    def _tables(self) -> set[str]:
        if self._table_names is None:
            self._table_names = {
                r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        return self._table_names

    def events(self, table: str) -> Iterator[Event]:
        """Rebuild the typed events of one table, in insertion order."""
        event_type = EVENT_OF[table]
        names = self.columns(table)
        for row in self.rows(table):
            values = dict(zip(names, row, strict=True))
            for name, enum in _ENUMS.items():
                if name in values and values[name] is not None:
                    values[name] = enum(values[name])
            if event_type is JobEvent:
                values["clean"] = bool(values["clean"])
            yield event_type(**values)

    def dataframe(self, table: str) -> Any:
        """One event table as a pandas DataFrame (pandas imported on use)."""
        import pandas as pd

        return pd.DataFrame(self.rows(table), columns=self.columns(table))

    def _check_table(self, table: str) -> None:
        if table not in EVENT_OF:
            raise ValueError(f"unknown table {table!r}; tables: {sorted(EVENT_OF)}")


def open_capture(path: str | Path) -> CaptureReader:
    """Open a capture for reading."""
    return CaptureReader(path)

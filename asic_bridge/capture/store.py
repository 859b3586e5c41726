"""Capture store on SQLite in WAL mode, one file per session.

Writers hand events to :class:`CaptureWriter` from any thread; one writer thread owns the
connection and commits bounded batches at most ``batch_interval_s`` apart (default 0.5 s)
under any load, holding producers back when its queue is full. The
database runs in WAL mode with ``synchronous=FULL``: a process killed at any moment
(SIGKILL included) leaves every batch committed before the kill, and the file opens
cleanly afterwards (SQLite rolls back the torn tail of the WAL on the next open).

Tables: ``metadata(key, value)`` and one table per event kind, named as
:data:`asic_bridge.events.EVENT_KINDS` names it (``shares``, ``telemetry``, ``control``,
``jobs``, ``status``), whose columns are the event's fields, and ``writer_stats`` (the
writer's queue and batch figures). Schema version 1 files
(tables ``controls``, telemetry column ``chip``) are read as version 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import operator
import shutil
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
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


def _insert_rows_sql(event_type: type, rows: int) -> str:
    """One INSERT of ``rows`` rows: a batch is bound in C and stepped once, instead of
    once per row (executemany takes the GIL back for every row, which stalls the writer
    while an event loop thread keeps the GIL busy)."""
    one = "(" + ", ".join("?" * len(_columns(event_type))) + ")"
    head = _INSERT_SQL[event_type].split(" VALUES ")[0]
    return f"{head} VALUES {', '.join([one] * rows)}"


def _insert_many(
    conn: sqlite3.Connection, event_type: type, rows: list[tuple[Any, ...]], cache: dict[Any, str]
) -> None:
    """Insert rows in multi-row statements of power-of-two sizes (a bounded set of
    statements per table, each within SQLite's limit on bound variables)."""
    width = len(_columns(event_type))
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
    biggest = 1 << (max(1, limit).bit_length() - 1)
    start = 0
    while start < len(rows):
        size = min(biggest, 1 << ((len(rows) - start).bit_length() - 1))
        sql = cache.get((event_type, size))
        if sql is None:
            sql = cache[(event_type, size)] = _insert_rows_sql(event_type, size)
        chunk = rows[start : start + size]
        conn.execute(sql, [value for row in chunk for value in row])
        start += size


# one C-level getter per event type; StrEnum fields bind to SQLite as their text
_ROW_OF = {t: operator.attrgetter(*_columns(t)) for t in TABLE_OF}


def _row(event: Event) -> tuple[Any, ...]:
    return _ROW_OF[type(event)](event)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a commit is on disk when COMMIT returns
    return conn


STATS_TABLE = "writer_stats"
"""Table holding the writer's figures as one JSON row (updated with every commit)."""

class WriterStats:
    """What the writer did, for ``hashrc captures show`` and the benchmarks (times in s).

    ``max_backlog``: most events seen waiting at one take; ``batches`` / ``max_batch`` /
    ``mean_batch``: committed transactions and their sizes in events; ``max_commit_gap_s``:
    the longest time events were waiting without a commit (from the previous commit, or
    from when the writer last found the queue empty, to the end of the commit that took
    them); ``max_commit_s``: the longest single commit; ``producer_waits`` /
    ``producer_wait_s``: how often and how long producers were held at the queue bound.
    """

    __slots__ = (
        "batches",
        "committed",
        "max_backlog",
        "max_batch",
        "max_commit_gap_s",
        "max_commit_s",
        "producer_wait_s",
        "producer_waits",
    )

    def __init__(self) -> None:
        self.batches = 0
        self.committed = 0
        self.max_backlog = 0
        self.max_batch = 0
        self.max_commit_gap_s = 0.0
        self.max_commit_s = 0.0
        self.producer_waits = 0
        self.producer_wait_s = 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        out["mean_batch"] = round(self.committed / self.batches, 1) if self.batches else 0.0
        for name in ("max_commit_gap_s", "max_commit_s", "producer_wait_s"):
            out[name] = round(out[name], 4)
        return out


_META = "__meta__"
_MIN_BATCH = 256


class CaptureWriter:
    """Append events to a new capture file from any thread; one writer thread commits.

    Batches are bounded: the writer takes at most :attr:`batch_limit` events per
    transaction (at most ``max_batch``; halved while a commit takes longer than a
    quarter of ``batch_interval_s``, e.g. when producers hold the GIL, and grown back
    when commits are quick), at least every ``batch_interval_s / 4`` and at once when
    half a batch is waiting. So under any load a queued event is committed within about
    ``batch_interval_s`` (the figures are in :attr:`stats`). The queue is bounded too:
    :meth:`is_congested` turns true at a full batch of waiting events (a server then
    stops reading from its peers); :meth:`write` blocks while ``max_queue`` events wait
    (a thread producing faster than the disk takes is held back), :meth:`try_write`
    returns False instead.

    When a commit fails (disk full, I/O error) the writer stops at once and marks
    itself failed: every later :meth:`write` raises :class:`CaptureError` naming the
    cause, and ``on_error(error)`` is called from the writer thread.

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
        max_batch: int = 10_000,
        max_queue: int | None = None,
        stall_timeout_s: float = 30.0,
        on_commit: Callable[[int], None] | None = None,
        on_error: Callable[[CaptureError], None] | None = None,
    ) -> None:
        if not 0 < batch_interval_s <= 1.0:
            raise ValueError(f"batch_interval_s must be in (0, 1] s, got {batch_interval_s}")
        if max_batch < 2:
            raise ValueError(f"max_batch must be >= 2 events, got {max_batch}")
        max_queue = 4 * max_batch if max_queue is None else max_queue
        if max_queue < max_batch:
            raise ValueError(f"max_queue ({max_queue}) must be >= max_batch ({max_batch})")
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise CaptureError(
                    f"{self.path} exists; pass --overwrite to replace it (or choose another path)"
                )
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.batch_interval_s = batch_interval_s
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.stall_timeout_s = stall_timeout_s
        self.batch_limit = max_batch
        """Events per transaction at most, now (adapted to the commit time, see above)."""
        self._wake_at = max_batch // 2
        self._on_commit = on_commit
        self._on_error = on_error
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._room = threading.Event()
        self.stats = WriterStats()
        self._error: CaptureError | None = None
        self._closed = False
        self._stopped = False  # closed or failed: the fast path of write() checks one flag
        conn = _connect(self.path)
        with conn:
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute(f"CREATE TABLE {STATS_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
            for event_type in TABLE_OF:
                conn.execute(_create_sql(event_type))
            conn.executemany(
                "INSERT INTO metadata VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in {"schema_version": SCHEMA_VERSION, **metadata}.items()],
            )
            conn.execute("COMMIT")
        self._conn = conn
        self._conn_lock = threading.Lock()  # the writer thread's commits vs pragma()
        self._sql: dict[Any, str] = {}
        self._thread = threading.Thread(target=self._run, name=f"capture:{self.path.name}", daemon=True)
        self._thread.start()

    # --- producers (any thread) -----------------------------------------------------------

    @property
    def committed(self) -> int:
        """Number of events durably committed so far."""
        return self.stats.committed

    @property
    def backlog(self) -> int:
        """Events (and markers) queued but not yet taken by the writer."""
        return len(self._queue)

    @property
    def failed(self) -> CaptureError | None:
        """The error that stopped the writer, or None while it works."""
        return self._error

    def is_congested(self) -> bool:
        """True while ``max_batch`` or more events wait: producers that can (a server
        reading from its peers) should pause until it turns false."""
        return len(self._queue) >= self.batch_limit

    def pragma(self, name: str) -> Any:
        """The value of one SQLite pragma on the writer's own connection (e.g.
        ``synchronous``: 2 = FULL, the durability this store promises)."""
        if not name.replace("_", "").isalpha():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._conn_lock:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    def write(self, event: Event) -> None:
        """Queue one event (thread-safe). Never waits for the disk unless ``max_queue``
        events wait already; then blocks until there is room (at most
        ``stall_timeout_s``). Raises :class:`CaptureError` once the writer failed."""
        if self._stopped:
            self._check_open()
        queue = self._queue
        if len(queue) >= self._wake_at:
            self._backlogged()
        queue.append(event)

    def try_write(self, event: Event) -> bool:
        """Queue one event unless ``max_queue`` events wait (then False, nothing queued)."""
        if self._stopped:
            self._check_open()
        queue = self._queue
        if len(queue) >= self._wake_at:
            if len(queue) >= self.max_queue:
                self._wake.set()
                return False
            self._wake.set()
        queue.append(event)
        return True

    def write_many(self, events: Iterable[Event]) -> None:
        for event in events:
            self.write(event)

    def set_metadata(self, key: str, value: Any) -> None:
        """Set or replace one metadata entry (committed with the next batch)."""
        self._check_open()
        self._queue.append((_META, key, value))

    def wait_for_room(self, timeout_s: float | None = None) -> None:
        """Block until fewer than ``max_queue`` events wait (``timeout_s`` default:
        ``stall_timeout_s``); :class:`CaptureError` if the writer failed or stalled."""
        limit = self.stall_timeout_s if timeout_s is None else timeout_s
        t0 = time.monotonic()
        waited = False
        while len(self._queue) >= self.max_queue:
            waited = True
            self._check_open()
            elapsed = time.monotonic() - t0
            if elapsed > limit:
                raise CaptureError(
                    f"capture writer for {self.path} stalled: {len(self._queue)} events waited "
                    f"{elapsed:.1f} s for the disk"
                )
            self._room.clear()
            self._wake.set()
            if len(self._queue) >= self.max_queue:
                self._room.wait(0.05)
        if waited:
            self.stats.producer_waits += 1
            self.stats.producer_wait_s += time.monotonic() - t0

    async def drained(self, *, timeout_s: float | None = None) -> None:
        """Await (polling every 5 ms) until the writer is no longer congested."""
        import asyncio

        limit = self.stall_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        while self.is_congested():
            self._check_open()
            if time.monotonic() > deadline:
                raise CaptureError(f"capture writer for {self.path} stalled for {limit} s")
            await asyncio.sleep(0.005)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until everything queued so far is committed."""
        self._check_open()
        done = threading.Event()
        self._queue.append(done)
        self._wake.set()
        if not done.wait(timeout_s):
            raise CaptureError(f"capture writer did not flush within {timeout_s} s")
        self._raise_if_failed()

    def close(self) -> None:
        """Commit what is queued, record the writer's figures and close the file.
        Idempotent; raises :class:`CaptureError` if the writer had failed."""
        if self._closed:
            return
        self._closed = True
        self._stopped = True
        self._queue.append(None)
        self._wake.set()
        self._thread.join()
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._raise_if_failed()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backlogged(self) -> None:
        """Slow path of :meth:`write`: wake the writer, and wait if the queue is full."""
        if not self._wake.is_set():
            self._wake.set()
        if len(self._queue) >= self.max_queue:
            self.wait_for_room()

    def _check_open(self) -> None:
        self._raise_if_failed()
        if self._closed:
            raise CaptureError(f"capture {self.path} is closed")

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        """Take at most :attr:`batch_limit` items per transaction; sleep a quarter of a
        batch interval unless half a batch is waiting (a quarter for the wait, a quarter
        for the commit, half left for a host whose CPUs are busy elsewhere). Never waking per event keeps this
        thread from taking the GIL from the producer (an event loop stamping shares) on
        every write; never draining "until empty" keeps commits coming under a flood."""
        queue = self._queue
        period = self.batch_interval_s / 4
        since = time.monotonic()  # no event has waited uncommitted since this moment
        stop = False
        while not stop or queue:
            if not stop and len(queue) < self._wake_at:
                self._wake.wait(period)
            self._wake.clear()
            t_take = time.monotonic()
            depth = len(queue)
            n = min(depth, self.batch_limit)
            if n == 0:
                since = t_take
                continue
            popleft = queue.popleft
            items = [popleft() for _ in range(n)]
            emptied = not queue
            self._room.set()
            waiters = []
            pending = []
            for item in items:
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    pending.append(item)
            self.stats.max_backlog = max(self.stats.max_backlog, depth)
            if pending:
                try:
                    self._commit(pending, since)
                except BaseException as exc:  # recorded, raised in the producers' threads
                    self._fail(exc)
                    for waiter in waiters:
                        waiter.set()
                    return
            for waiter in waiters:
                waiter.set()
            since = t_take if emptied else time.monotonic()
        self._write_stats()

    def _cause(self, exc: BaseException) -> str:
        """The error with what SQLite and the file system say about it, e.g.
        ``disk I/O error (SQLITE_IOERR_WRITE; 0.0 MB free on /data)``."""
        details = []
        name = getattr(exc, "sqlite_errorname", None)
        if name:
            details.append(name)
        if isinstance(exc, sqlite3.OperationalError | OSError):
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(self.path.parent).free
                details.append(f"{free / 1e6:.1f} MB free on {self.path.parent}")
        return f"{exc} ({'; '.join(details)})" if details else str(exc)

    def _fail(self, exc: BaseException) -> None:
        error = CaptureError(f"capture {self.path} failed: {self._cause(exc)}")
        error.__cause__ = exc
        self._error = error
        self._stopped = True
        self._room.set()
        queue = self._queue
        while queue:  # release flush() callers; the events themselves cannot be stored
            item = queue.popleft()
            if isinstance(item, threading.Event):
                item.set()
        if self._on_error is not None:
            with contextlib.suppress(Exception):
                self._on_error(error)

    def _commit(self, items: list[Any], since: float) -> None:
        rows: dict[type, list[tuple[Any, ...]]] = {}
        meta: list[tuple[str, str]] = []
        count = 0
        for item in items:
            if type(item) is tuple and item and item[0] == _META:
                meta.append((item[1], json.dumps(item[2])))
            else:
                rows.setdefault(type(item), []).append(_row(item))
                count += 1
        conn = self._conn
        t0 = time.monotonic()
        with self._conn_lock:
            conn.execute("BEGIN")
            try:
                for event_type, batch in rows.items():
                    _insert_many(conn, event_type, batch, self._sql)
                if meta:
                    conn.executemany("INSERT OR REPLACE INTO metadata VALUES (?, ?)", meta)
                conn.execute(
                    f"INSERT OR REPLACE INTO {STATS_TABLE} VALUES ('writer', ?)",
                    (json.dumps(self.stats.as_dict()),),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        t1 = time.monotonic()
        stats = self.stats
        stats.committed += count
        stats.batches += 1
        stats.max_batch = max(stats.max_batch, len(items))
        stats.max_commit_s = max(stats.max_commit_s, t1 - t0)
        stats.max_commit_gap_s = max(stats.max_commit_gap_s, t1 - since)
        if t1 - t0 > self.batch_interval_s / 4 and len(items) >= self.batch_limit // 2:
            self.batch_limit = max(_MIN_BATCH, self.batch_limit // 2)
        elif t1 - t0 < self.batch_interval_s / 16 and len(items) >= self.batch_limit // 2:
            self.batch_limit = min(self.max_batch, self.batch_limit * 5 // 4 + 1)
        self._wake_at = self.batch_limit // 2
        if self._on_commit is not None:
            self._on_commit(stats.committed)

    def _write_stats(self) -> None:
        """The final figures (best effort: the events are committed already)."""
        with self._conn_lock, contextlib.suppress(sqlite3.Error):
            self._conn.execute(
                f"INSERT OR REPLACE INTO {STATS_TABLE} VALUES ('writer', ?)",
                (json.dumps(self.stats.as_dict()),),
            )


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

    def writer_stats(self) -> dict[str, Any]:
        """The capture writer's figures (queue depth, batch sizes, worst commit gap; see
        :class:`WriterStats`), as of its last commit; empty for files that predate them."""
        if STATS_TABLE not in self._tables():
            return {}
        row = self._conn.execute(f"SELECT value FROM {STATS_TABLE} WHERE key = 'writer'").fetchone()
        return {} if row is None else json.loads(row[0])

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
        sql = self._select_sql(table, self.columns(table))
        return [] if sql is None else self._conn.execute(sql).fetchall()

    def _select_sql(self, table: str, columns: Sequence[str]) -> str | None:
        """SELECT of ``columns`` in insertion order, named as in schema version 2 whatever
        the file's version (a column it predates reads as NULL); None without the table."""
        known = self.columns(table)
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f"table {table!r} has no columns {unknown}; columns: {known}")
        if not self._has_table(table):
            return None
        stored = self._stored_table(table)
        present = {r[1] for r in self._conn.execute(f'PRAGMA table_info("{stored}")')}
        select = []
        for name in columns:
            old = _V1_COLUMN.get((table, name))
            column = name if name in present or old not in present else old
            select.append(f'"{column}" AS "{name}"' if column in present else f'NULL AS "{name}"')
        return f'SELECT {", ".join(select)} FROM "{stored}" ORDER BY id'

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

    def share_arrays(self) -> tuple[Any, Any, Any]:
        """``(t_ns, accepted, chip)`` of every share in insertion order as numpy arrays
        (int64, bool, int64 with -1 where the chip is unknown), read straight from SQLite
        into one array: no row objects, for captures of millions of shares."""
        import itertools

        import numpy as np

        n = self.count("shares")
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int64)
        cursor = self._conn.execute(
            f'SELECT t_ns, outcome = \'accepted\', COALESCE(chip, -1) FROM "{self._stored_table("shares")}" '
            "ORDER BY id")
        flat = np.fromiter(itertools.chain.from_iterable(cursor), np.int64, count=3 * n)
        return flat[0::3], flat[1::3].astype(bool), flat[2::3]

    def outcome_counts(self) -> dict[str, int]:
        """Shares per outcome (``accepted``, ``stale``, ...), counted by SQLite."""
        if not self._has_table("shares"):
            return {}
        rows = self._conn.execute(
            f'SELECT outcome, COUNT(*) FROM "{self._stored_table("shares")}" GROUP BY outcome')
        return {str(outcome): int(n) for outcome, n in rows}

    def frame(self, table: str, columns: Sequence[str]) -> Any:
        """Some columns of one event table as a DataFrame (only those are read)."""
        import pandas as pd

        sql = self._select_sql(table, columns)
        if sql is None:
            return pd.DataFrame({c: [] for c in columns})
        return pd.read_sql_query(sql, self._conn)

    def _check_table(self, table: str) -> None:
        if table not in EVENT_OF:
            raise ValueError(f"unknown table {table!r}; tables: {sorted(EVENT_OF)}")


def open_capture(path: str | Path) -> CaptureReader:
    """Open a capture for reading."""
    return CaptureReader(path)

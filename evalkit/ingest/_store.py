"""The DuckDB store: one table per kind, the ingest log and the quarantine.

Every ingest is one transaction (data rows, quarantined rows and the log line
together), so a crash or kill halfway leaves the store as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._schema import Schema, check_kind
from evalkit.ingest._tables import (
    CONTENT_COLUMNS,
    LOG_COLUMNS,
    QUARANTINE_COLUMNS,
    SEAL_COLUMNS,
    quoted,
    table_columns,
)

__all__ = ["Store"]

TRANSACTION_MEMORY = "256MB"  # DuckDB memory while a file is stored

_QUARANTINE = (
    'SELECT q.kind, q.file, q._source_sha256, q._row, q."column", q.rule, q.value, '
    "q.message, coalesce(q.content, c.content) AS content FROM quarantine q LEFT JOIN "
    "(SELECT content_k1, content_k2, any_value(content) AS content FROM quarantine_content "
    "GROUP BY content_k1, content_k2) c "
    "ON q.content_k1 = c.content_k1 AND q.content_k2 = c.content_k2"
)

_q = quoted


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical key columns as plain text, so DuckDB compares them with VARCHAR."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype({c: "str" for c in cats}) if cats else frame


class Store:
    """The embedded DuckDB store (a context manager).

    Parameters
    ----------
    path : pathlib.Path
        The DuckDB file; created with its folder when absent.
    read_only : bool, default False
        Open without write access (several readers may share the file).
    """

    def __init__(
        self, path: Path | str = Path("build/evalkit.duckdb"), *, read_only: bool = False
    ) -> None:
        import duckdb

        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise IngestError(f"{self.path}: no store yet (ingest a file first)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise IngestError(f"{self.path}: cannot open the store ({exc})") from exc
        except duckdb.Error as exc:
            raise IngestError(f"{self.path}: not a DuckDB store ({exc})") from exc
        self._con.execute("SET enable_progress_bar = false")  # a long query must not print
        if not read_only:
            self._create("ingest_log", LOG_COLUMNS)
            self._create("quarantine", QUARANTINE_COLUMNS)
            self._create("quarantine_content", CONTENT_COLUMNS)
            self._create("lock_seals", SEAL_COLUMNS)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    # -- schema -----------------------------------------------------------------------------
    def _exists(self, table: str) -> bool:
        rows = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()
        return bool(rows and rows[0][0])

    @property
    def connection(self) -> Any:
        """The open DuckDB connection (for a load that runs its own SQL in a transaction)."""
        return self._con

    def create_kind(self, schema: Schema) -> dict[str, str]:
        """Create a kind's table when absent; return its columns with their SQL types."""
        columns = table_columns(schema)
        self._create(schema.kind, columns)
        return columns

    def _create(self, table: str, columns: dict[str, str]) -> None:
        if not self._exists(table):
            spec = ", ".join(f"{_q(c)} {t}" for c, t in columns.items())
            self._con.execute(f"CREATE TABLE {_q(table)} ({spec})")
            return
        have = {
            r[0]
            for r in self._con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        }
        for column, sql_type in columns.items():
            if column not in have:  # a newer schema version added a column
                self._con.execute(f"ALTER TABLE {_q(table)} ADD COLUMN {_q(column)} {sql_type}")

    # -- reading ----------------------------------------------------------------------------
    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self._con.execute(sql, list(params)).df()

    def table(self, kind: str, *, sha256s: Sequence[str] | None = None) -> pd.DataFrame:
        """Return the stored rows of one kind.

        Parameters
        ----------
        kind : str
            ``outcome_panel``, ``questionnaire`` or ``case_events``.
        sha256s : sequence of str, optional
            Only rows from these source files.

        Returns
        -------
        pandas.DataFrame
            Canonical columns with real types, plus ``_source_sha256`` and ``_row``;
            no rows when nothing of this kind was ingested.
        """
        check_kind(kind)
        if not self._exists(kind):
            from evalkit.ingest._schema import load_schema

            return pd.DataFrame(columns=list(table_columns(load_schema(kind))))
        where, params = "", []
        if sha256s is not None:
            if not sha256s:
                return self._frame(f"SELECT * FROM {_q(kind)} LIMIT 0")
            where = f"WHERE _source_sha256 IN ({', '.join('?' * len(sha256s))})"
            params = list(sha256s)
        return self._frame(
            f"SELECT * FROM {_q(kind)} {where} ORDER BY _source_sha256, _row", params
        )

    def ingest_log(self) -> pd.DataFrame:
        """Return one row per ingested file (``ingested_at`` in UTC), oldest first."""
        return self._frame("SELECT * FROM ingest_log ORDER BY ingested_at")

    def quarantine(self, kind: str | None = None) -> pd.DataFrame:
        """Return rejected rows: one row per failure, with the pseudonymised row content.

        Parameters
        ----------
        kind : str, optional
            Only this kind.

        Returns
        -------
        pandas.DataFrame
            Columns ``kind, file, _source_sha256, _row, column, rule, value, message, content``.
        """
        if kind is not None:
            check_kind(kind)
        where, params = ("WHERE q.kind = ?", [kind]) if kind is not None else ("", [])
        if not self._exists("quarantine_content"):  # a store from before (read only)
            return self._frame(f"SELECT * FROM quarantine q {where} ORDER BY file, _row", params)
        # rowid: a row's failures in the order they were stored
        return self._frame(f"{_QUARANTINE} {where} ORDER BY q.file, q._row, q.rowid", params)

    def first_ingest_time(
        self, kind: str, sha256s: Sequence[str] | None = None
    ) -> dt.datetime | None:
        """Return when data of a kind (optionally from these files) first entered the store.

        Parameters
        ----------
        kind : str
            The kind of data.
        sha256s : sequence of str, optional
            Only these source files.

        Returns
        -------
        datetime.datetime or None
            The earliest ingest time (timezone-aware, UTC), or None.
        """
        check_kind(kind)
        sql, params = "SELECT min(ingested_at) FROM ingest_log WHERE kind = ?", [kind]
        if sha256s:
            sql += f" AND sha256 IN ({', '.join('?' * len(sha256s))})"
            params += list(sha256s)
        row = self._con.execute(sql, params).fetchone()
        if not row or row[0] is None:
            return None
        return row[0].replace(tzinfo=dt.UTC)

    def note_lock_seal(self, protocol_id: str, seal: str, now: dt.datetime | None = None) -> None:
        """Record that a protocol's data were ingested under the lock with this seal.

        Only the first time a (protocol, seal) pair is seen is kept.

        Parameters
        ----------
        protocol_id : str
            The protocol's id.
        seal : str
            The lock's seal (:attr:`evalkit.protocol.registration.Lock.seal`).
        now : datetime.datetime, optional
            The moment (default: the current UTC time).
        """
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        self._con.execute(
            "INSERT INTO lock_seals SELECT ?, ?, ? WHERE NOT EXISTS "
            "(SELECT 1 FROM lock_seals WHERE protocol_id = ? AND seal = ?)",
            [protocol_id, seal, moment, protocol_id, seal],
        )

    def lock_seals(self, protocol_id: str) -> list[tuple[str, dt.datetime]]:
        """Return the seals of the locks a protocol's ingests saw, with when each was first seen.

        Parameters
        ----------
        protocol_id : str
            The protocol's id.

        Returns
        -------
        list of (str, datetime.datetime)
            Oldest first (UTC); empty for a store from before seals were recorded.
        """
        if not self._exists("lock_seals"):
            return []
        rows = self._con.execute(
            "SELECT seal, seen_at FROM lock_seals WHERE protocol_id = ? ORDER BY seen_at",
            [protocol_id],
        ).fetchall()
        return [(str(seal), seen.replace(tzinfo=dt.UTC)) for seal, seen in rows]

    def logged(self, sha256: str, kind: str) -> dict[str, Any] | None:
        """Return the log entry of a file already ingested as this kind, if any."""
        frame = self._frame(
            "SELECT * FROM ingest_log WHERE sha256 = ? AND kind = ? ORDER BY ingested_at LIMIT 1",
            [sha256, kind],
        )
        return None if frame.empty else frame.iloc[0].to_dict()

    def scopes(self) -> list[str]:
        """Return the pseudonym scopes of the files in the store (older stores: none)."""
        rows = self._con.execute(
            "SELECT DISTINCT pseudonym_scope FROM ingest_log WHERE pseudonym_scope IS NOT NULL "
            "ORDER BY 1"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def overlapping(
        self, kind: str, keys: pd.DataFrame, sha256s: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Return which incoming keys are already stored, and from which file.

        Parameters
        ----------
        kind : str
            The kind of data.
        keys : pandas.DataFrame
            The key columns of the incoming rows plus ``_pos`` (their position).
        sha256s : sequence of str, optional
            Compare only with rows from these files (default: every stored row).

        Returns
        -------
        pandas.DataFrame
            ``_pos``, ``file``, ``ingested_at``, ``files`` and ``shas`` of the stored rows
            with the same key (one row per incoming position; ``file`` the earliest stored
            file, ``files`` every one, ``shas`` their sha256s).
        """
        names = [c for c in keys.columns if c != "_pos"]
        if keys.empty or not self._exists(kind):
            return pd.DataFrame(columns=["_pos", "file", "ingested_at", "files", "shas"])
        import pyarrow as pa

        on = " AND ".join(f"i.{_q(c)} = t.{_q(c)}" for c in names)
        params: list[Any] = [kind]
        if sha256s is not None:
            if not sha256s:
                return pd.DataFrame(columns=["_pos", "file", "ingested_at", "files", "shas"])
            on += f" AND t._source_sha256 IN ({', '.join('?' * len(sha256s))})"
            params = [*sha256s, kind]
        _evalkit_keys = pa.Table.from_pandas(_plain(keys), preserve_index=False)
        return self._con.execute(  # DuckDB reads the local Arrow table by name (see _insert)
            # the earliest file for the message, every file for the note: keep_both keeps
            # a key in several files, and the file name that sorts first is not the earliest
            "SELECT i._pos, arg_min(l.file, l.ingested_at) AS file, "
            "min(l.ingested_at) AS ingested_at, list(DISTINCT l.file) AS files, "
            "list(DISTINCT t._source_sha256) AS shas "
            f"FROM _evalkit_keys i JOIN {_q(kind)} t ON {on} "
            "LEFT JOIN ingest_log l ON l.sha256 = t._source_sha256 AND l.kind = ? "
            "GROUP BY i._pos ORDER BY i._pos",
            params,
        ).df()

    def status(self) -> pd.DataFrame:
        """Return per kind: files, rows stored, rows read, accepted, rejected, last ingest."""
        return self._frame(
            "SELECT kind, count(*) AS files, CAST(sum(rows_read) AS BIGINT) AS rows_read, "
            "CAST(sum(accepted) AS BIGINT) AS accepted, "
            "CAST(sum(rejected) AS BIGINT) AS rejected, max(ingested_at) AS last_ingest "
            "FROM ingest_log GROUP BY kind ORDER BY kind"
        )

    def stored_rows(self, kind: str) -> int:
        """Return how many rows the kind's table holds."""
        if not self._exists(kind):
            return 0
        row = self._con.execute(f"SELECT count(*) FROM {_q(kind)}").fetchone()
        return int(row[0]) if row else 0

    # -- writing ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the writes inside one transaction: all of them are stored, or none.

        Yields
        ------
        None
            Inside, :meth:`append` and :meth:`append_log` write to the open transaction.
        """
        con = self._con
        # A file's chunks flow through the open transaction: without a limit DuckDB keeps
        # what they appended in memory (1M quarantined rows: ~240 MB more at the peak);
        # with one it writes the rest to its temporary folder beside the store.
        con.execute(f"SET memory_limit = '{TRANSACTION_MEMORY}'")
        # One DuckDB thread: a file's chunks are appended while the next chunk is validated
        # on the other core; a second DuckDB thread only competes with that (~0.3 s more CPU
        # per million rows, no faster append).
        con.execute("SET threads = 1")
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("RESET memory_limit")
            con.execute("RESET threads")
            con.execute("RESET preserve_insertion_order")

    def append(
        self,
        schema: Schema,
        rows: pd.DataFrame,
        quarantine: pd.DataFrame,
        *,
        contents: pd.DataFrame | None = None,
        replace_keys: Sequence[str] = (),
        replace_among: Sequence[str] | None = None,
    ) -> None:
        """Store accepted rows and quarantined failures (inside :meth:`transaction`).

        Parameters
        ----------
        schema : Schema
            The kind's schema.
        rows : pandas.DataFrame
            Accepted rows with the stored columns.
        quarantine : pandas.DataFrame
            One row per failure with the quarantine columns.
        contents : pandas.DataFrame, optional
            Row contents the quarantine rows name (``content_k1, content_k2, content``).
        replace_keys : sequence of str, optional
            Key columns: stored rows with the same key as an incoming row are deleted
            first (an overlapping delivery kept as the latest).
        replace_among : sequence of str, optional
            Delete only rows from these files (sha256): the files the overlap was looked
            for among (a protocol's own), so another protocol's rows in a shared store stay.
        """
        columns = table_columns(schema)
        self._create(schema.kind, columns)
        if replace_keys and not rows.empty:
            self._delete_keys(schema.kind, rows, list(replace_keys), replace_among)
        self._insert(schema.kind, rows, columns)
        self._insert("quarantine", quarantine, QUARANTINE_COLUMNS)
        if contents is not None:
            self._insert("quarantine_content", contents, CONTENT_COLUMNS)

    def append_log(self, log: dict[str, Any]) -> None:
        """Store the ingest log line of a file (inside :meth:`transaction`, last)."""
        self._insert("ingest_log", pd.DataFrame([log]), LOG_COLUMNS)

    def write(
        self,
        schema: Schema,
        rows: pd.DataFrame,
        quarantine: pd.DataFrame,
        log: dict[str, Any],
        *,
        replace_keys: Sequence[str] = (),
    ) -> None:
        """Store accepted rows, quarantined failures and the log line in one transaction.

        Parameters
        ----------
        schema : Schema
            The kind's schema.
        rows : pandas.DataFrame
            Accepted rows with the stored columns.
        quarantine : pandas.DataFrame
            One row per failure with the quarantine columns.
        log : dict
            The ingest log line.
        replace_keys : sequence of str, optional
            Key columns: stored rows with the same key as an incoming row are deleted
            first (an overlapping delivery kept as the latest).
        """
        with self.transaction():
            self.append(schema, rows, quarantine, replace_keys=replace_keys)
            self.append_log(log)

    def _delete_keys(
        self, table: str, rows: pd.DataFrame, key: list[str], among: Sequence[str] | None
    ) -> None:
        import pyarrow as pa

        on = " AND ".join(f"{_q(table)}.{_q(c)} = k.{_q(c)}" for c in key)
        if among is not None:
            on += f" AND {_q(table)}._source_sha256 IN ({', '.join('?' * len(among)) or 'NULL'})"
        _evalkit_keys = pa.Table.from_pandas(_plain(rows[key]), preserve_index=False)
        self._con.execute(
            f"DELETE FROM {_q(table)} USING _evalkit_keys k WHERE {on}", list(among or [])
        )

    def _insert(self, table: str, frame: pd.DataFrame, columns: dict[str, str]) -> None:
        if frame.empty:
            return
        names = [c for c in columns if c in frame.columns]
        select = ", ".join(f"CAST({_q(c)} AS {columns[c]}) AS {_q(c)}" for c in names)
        import pyarrow as pa

        # Arrow hands DuckDB the column buffers directly (faster than scanning pandas objects).
        # DuckDB finds the local Arrow table by its name (a replacement scan): a view made
        # with register() would stay alive, with its buffers, until the file's transaction
        # ends, so a file ingested in chunks would keep every chunk in memory.
        _evalkit_incoming = pa.Table.from_pandas(frame[names], preserve_index=False)
        self._con.execute(
            f"INSERT INTO {_q(table)} ({', '.join(_q(c) for c in names)}) "
            f"SELECT {select} FROM _evalkit_incoming"
        )

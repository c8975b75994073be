"""Cutting a log into windows by its time column: in memory (pandas) or out of core (DuckDB).

Labels: ``day`` ``2026-01-05``, ``week`` the ISO week ``2026-W02``, ``month`` ``2026-01``
(times in UTC; a time without a zone is taken as UTC), or for N-rows windows
``<file>#1``, ``<file>#2``, ... in file order (in memory only). The time column itself is
not part of a window's rows. A time that is missing or not a date is an error naming how
many there are. DuckDB reads ISO 8601 times only; pandas also reads other formats.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from fairaudit.errors import ConfigError

__all__ = ["cut_files", "cut_frames"]

MSG_BAD_TIME = "the time column {column!r} has {count} value(s) that are not dates or times"
MSG_NUMBER_TIME = (
    "the time column {column!r} holds numbers, not dates or times (epoch seconds?); write "
    "it as ISO 8601 text (2026-01-05T08:00:00Z) or a timestamp column"
)
#: A number as text (DuckDB reads a CSV's fields as text).
_NUMBER = r"^\s*[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\s*$"
#: strftime patterns of the calendar windows (DuckDB's and Python's agree on these).
PATTERNS = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}


def cut_frames(path: Path, time_col: str, window: str | int, stem: str) -> list[tuple[str, Any]]:
    """Return ``(label, rows)`` of each window of the log, in time (or file) order."""
    import pandas as pd

    frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if time_col not in frame.columns:
        raise ConfigError(f"the time column {time_col!r} is not in {path.name}")
    if isinstance(window, int):
        starts = range(0, len(frame), window)
        return [(f"{stem}#{i + 1}", frame.iloc[s : s + window]) for i, s in enumerate(starts)]
    column = frame[time_col]
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ConfigError(MSG_NUMBER_TIME.format(column=time_col))  # not 1970-01-01 silently
    with warnings.catch_warnings():  # "could not infer format": each value parsed alone
        warnings.simplefilter("ignore", UserWarning)
        times = pd.to_datetime(frame[time_col], errors="coerce", utc=True)
    bad = int(times.isna().sum())
    if bad:
        raise ConfigError(MSG_BAD_TIME.format(column=time_col, count=bad))
    labels = times.dt.strftime(PATTERNS[window])
    frame = frame.drop(columns=[time_col]).assign(_window=labels.to_numpy())
    return [
        (str(name), rows.drop(columns=["_window"]))
        for name, rows in frame.groupby("_window", sort=True)
    ]


def _quoted(name: str) -> str:
    """Return ``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _check_not_numbers(con: Any, relation: Any, time_col: str) -> None:
    """Raise MSG_NUMBER_TIME when the time column holds numbers (as pandas' cut does)."""
    kind = str(relation.types[relation.columns.index(time_col)]).upper()
    if kind in ("VARCHAR", "TEXT"):
        column = _quoted(time_col)
        query = (
            f"SELECT count({column}) > 0 AND count({column}) = "
            f"count(*) FILTER (WHERE regexp_matches({column}, '{_NUMBER}')) FROM log_rows"
        )
        numeric = bool(con.sql(query).fetchall()[0][0])
    else:
        numeric = not any(word in kind for word in ("TIME", "DATE"))
    if numeric:
        raise ConfigError(MSG_NUMBER_TIME.format(column=time_col))


def cut_files(path: Path, time_col: str, window: str, folder: Path) -> list[tuple[str, Path]]:
    """Return ``(label, file)`` of each calendar window of the log, written by DuckDB under
    ``folder``: CSV files of text fields from a CSV log (as the DuckDB engine reads a CSV),
    Parquet files from a Parquet log. A window may come in several files (its chunks)."""
    import duckdb

    con = duckdb.connect(":memory:", config={"temp_directory": str(folder / "spill")})
    try:
        con.execute("SET TimeZone = 'UTC'")
        if path.suffix.lower() == ".parquet":
            relation = con.read_parquet(str(path))
        else:
            relation = con.read_csv(
                str(path), all_varchar=True, header=True, sep=",", quotechar='"'
            )
        if time_col not in relation.columns:
            raise ConfigError(f"the time column {time_col!r} is not in {path.name}")
        con.register("log_rows", relation)
        _check_not_numbers(con, relation, time_col)
        stamp = f"try_cast({_quoted(time_col)} AS TIMESTAMPTZ)"
        bad = con.sql(f"SELECT count(*) FROM log_rows WHERE {stamp} IS NULL").fetchall()[0][0]
        if bad:
            raise ConfigError(MSG_BAD_TIME.format(column=time_col, count=bad))
        pattern = PATTERNS[window].replace("'", "''")
        query = (
            f"SELECT * EXCLUDE ({_quoted(time_col)}), strftime({stamp}, '{pattern}') AS _window "
            "FROM log_rows"
        )
        windows = con.sql(query)
        if path.suffix.lower() == ".parquet":  # the rows keep their Parquet types
            windows.write_parquet(str(folder / "windows"), partition_by=["_window"], overwrite=True)
        else:
            windows.write_csv(
                str(folder / "windows"), header=True, partition_by=["_window"], overwrite=True
            )
    except duckdb.Error as e:
        raise ConfigError(
            f"cannot cut {path.name} into windows: {str(e).splitlines()[0]}"
        ) from None
    except RuntimeError as e:  # Ctrl-C inside a DuckDB query: an interruption, not a crash
        if str(e).startswith("Query interrupted"):
            import signal

            from fairaudit.runtime import Interrupted

            raise Interrupted(signal.SIGINT) from None
        raise
    finally:
        con.close()
    found = sorted((folder / "windows").glob("_window=*/*.*"))
    return [(part.parent.name.split("=", 1)[1], part) for part in found]

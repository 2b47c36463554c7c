"""Storing results: JSON-safe conversion, the tidy CSV table, the progress log, text tables.

A run folder holds

* ``progress.jsonl`` — one line ``{"key": ..., "rows": [...], "time": ...}`` per finished sweep
  point, appended (and flushed) as soon as the experiment records it. It is the source of truth
  for ``--resume``: a key found there is finished and its rows are kept.
* ``results.csv`` — the tidy table of every recorded row (first column ``key``, then the union of
  the rows' columns in order of first appearance), rewritten atomically after each record so that
  nothing finished is lost if the run dies.

:class:`FolderContext` implements :class:`isaclearn.systems.base.RunContext` on such a folder.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import numpy as np
import torch

from isaclearn.core.errors import ConfigError, InputFileError
from isaclearn.core.units import format_duration

T = TypeVar("T")

PROGRESS_FILE = "progress.jsonl"
RESULTS_FILE = "results.csv"
KEY_COLUMN = "key"


# --------------------------------------------------------------------------- JSON-safe values


def to_jsonable(obj: Any, *, finite: bool = True) -> Any:
    """``obj`` converted to plain JSON types (dict, list, str, int, float, bool, None).

    Tensors and NumPy arrays become (nested) lists, 0-d ones and NumPy scalars become Python
    numbers, complex numbers become ``{"re": ..., "im": ...}``, dataclasses become dicts, paths
    and other objects their ``str``. With ``finite=True`` non-finite floats (NaN, ±Inf), which
    strict JSON cannot hold, become ``None``; with ``finite=False`` they are kept.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if (math.isfinite(obj) or not finite) else None
    if isinstance(obj, complex):
        return {"re": to_jsonable(obj.real, finite=finite),
                "im": to_jsonable(obj.imag, finite=finite)}
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        return to_jsonable(t.numpy(), finite=finite)
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return to_jsonable(obj.item(), finite=finite)
        return [to_jsonable(v, finite=finite) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), finite=finite)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name), finite=finite)
                for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v, finite=finite) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v, finite=finite) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def write_json(path: Path, obj: Any) -> None:
    """Write ``to_jsonable(obj)`` to ``path`` atomically (strict JSON, indented)."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    atomic_write_text(path, text)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def clean_row(row: Mapping[str, Any], *, where: str = "row") -> dict[str, Any]:
    """A result row with plain values (0-d tensors become numbers, NaN and Inf are kept; keys
    must be strings)."""
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where} must be a dict of column -> value, got {type(row).__name__}")
    out: dict[str, Any] = {}
    for k, v in row.items():
        if not isinstance(k, str):
            raise ConfigError(f"{where}: column names must be strings, got {k!r}")
        out[k] = to_jsonable(v, finite=False)
    return out


# --------------------------------------------------------------------------- CSV table


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, list | dict):
        return json.dumps(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def rows_to_csv_text(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> str:
    """The tidy CSV text of ``rows`` (columns: ``columns`` or the union in first-seen order)."""
    if columns is None:
        columns = union_columns(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: _csv_cell(r.get(c)) for c in columns})
    return buf.getvalue()


def union_columns(rows: Iterable[Mapping[str, Any]], first: Sequence[str] = ()) -> list[str]:
    """Column names of ``rows`` in order of first appearance, ``first`` in front."""
    seen: dict[str, None] = dict.fromkeys(first)
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def parse_cell(text: str) -> Any:
    """A CSV cell as ``None`` (empty), ``int``, ``float`` or ``str``."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_results_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``results.csv`` with numbers parsed (see :func:`parse_cell`).

    Raises
    ------
    InputFileError
        If the file is missing or not a CSV table.
    """
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            return [{k: parse_cell(v or "") for k, v in r.items() if k is not None}
                    for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"{path}: cannot read results table ({exc})") from None


def is_number(v: Any) -> TypeGuard[int | float]:
    """Whether ``v`` is a real number (``bool`` excluded)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    """Whether ``row[c] == v`` for every ``c, v`` in ``where`` (numbers compared as numbers, so
    that values read back from CSV match the spec's values)."""
    for col, want in where.items():
        got = row.get(col)
        if is_number(got) and is_number(want):
            if float(got) != float(want):
                return False
        elif got != want and str(got) != str(want):
            return False
    return True


# --------------------------------------------------------------------------- text tables


def format_value(v: Any) -> str:
    """A table cell: numbers with 4 significant digits, ``-`` for missing."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A fixed-width text table of ``rows`` (one line per row) with a header line."""
    cells = [[format_value(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for line in cells:
        lines.append("  ".join(
            v.rjust(w) if _numeric_text(v) else v.ljust(w) for v, w in zip(line, widths)
        ))
    return "\n".join(lines)


def _numeric_text(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return v in ("-", "nan")
    return True


def mean_or_nan(values: Iterable[Any]) -> float:
    """Mean of the numeric ``values`` (NaN if there are none; NaN entries propagate)."""
    nums = [float(v) for v in values if is_number(v)]
    return sum(nums) / len(nums) if nums else math.nan


ROWS_COLUMN = "rows"
"""Column added to a summary table whose lines average several result rows: how many."""


def summary_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] = (),
    where: Mapping[str, Any] | None = None,
    exclude: Sequence[str] = (),
    group: Sequence[str] = (),
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """One line per method × sweep point: the mean of each metric over the matching rows.

    Rows are filtered by ``where`` and ``keep``, then grouped by their ``key`` column (the sweep
    point), their ``method`` column, every non-numeric shown column and the ``group`` columns;
    numeric columns are averaged within each group. A table never mixes methods: ``method``
    is a grouping column and is always shown when the rows have it. When some line averages
    more than one row, a last column ``rows`` says how many; when the shown identifying
    columns do not tell the lines apart, ``key`` is shown first.

    Parameters
    ----------
    rows : sequence of dict
        Tidy rows (as in ``results.csv``).
    columns : sequence of str
        Columns to show; empty shows ``key``, ``method`` and every numeric column not in
        ``exclude``. ``method`` and the ``group`` columns are added when missing.
    where : dict, optional
        Only rows matching these values.
    exclude : sequence of str
        Numeric columns left out of the default column choice (e.g. plot x axes).
    group : sequence of str
        Further columns that identify a line (numeric sweep coordinates such as ``rho``):
        rows that differ in them are never averaged.
    keep : callable, optional
        ``keep(row) -> bool``: only rows for which it is true (after ``where``).

    Returns
    -------
    (columns, table_rows)

    Examples
    --------
    >>> rows = [{"key": "p", "method": "a", "y": 1.0}, {"key": "p", "method": "b", "y": 3.0}]
    >>> summary_table(rows, columns=["y"])
    (['method', 'y'], [{'method': 'a', 'y': 1.0}, {'method': 'b', 'y': 3.0}])
    """
    sel = [r for r in rows if matches(r, where or {}) and (keep is None or keep(r))]
    if not sel:
        return list(columns), []
    all_cols = union_columns(sel)
    numeric = {c for c in all_cols
               if any(is_number(r.get(c)) for r in sel)
               and all(r.get(c) is None or is_number(r.get(c)) for r in sel)}
    if columns:
        cols = [c for c in columns if c in all_cols]
    else:
        cols = [c for c in (KEY_COLUMN, "method") if c in all_cols]
        cols += [c for c in all_cols if c in numeric and c not in cols and c not in exclude]
    front = 1 if cols[:1] == [KEY_COLUMN] else 0
    for c in reversed(["method", *group]):
        if c in all_cols and c not in cols:
            cols.insert(front, c)
    ident = list(dict.fromkeys(["method", *group, *(c for c in cols if c not in numeric)]))
    ident = [c for c in ident if c in all_cols and c != KEY_COLUMN]
    group_cols = [KEY_COLUMN, *ident]
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in sel:
        groups.setdefault(tuple(str(r.get(c)) for c in group_cols), []).append(r)
    shown_ids = {tuple(str(r.get(c)) for c in ident) for r in (m[0] for m in groups.values())}
    if KEY_COLUMN not in cols and len(shown_ids) < len(groups):
        cols.insert(0, KEY_COLUMN)
    averaged = any(len(m) > 1 for m in groups.values())
    out = []
    for members in groups.values():
        line: dict[str, Any] = {}
        for c in cols:
            if c in numeric and c not in ident:
                vals = [r.get(c) for r in members if r.get(c) is not None]
                line[c] = mean_or_nan(vals) if vals else None
                if (line[c] is not None and all(isinstance(v, int) for v in vals)
                        and len(set(vals)) == 1):
                    line[c] = vals[0]
            else:
                line[c] = members[0].get(c)
        if averaged:
            line[ROWS_COLUMN] = len(members)
        out.append(line)
    if averaged:
        cols.append(ROWS_COLUMN)
    return cols, out


def table_cells(table: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Summary-table lines as strict-JSON values that print the same.

    Non-finite floats (which strict JSON cannot hold) become the strings ``"nan"``, ``"inf"``
    and ``"-inf"``, which :func:`format_table` prints exactly as it prints the floats; other
    values go through :func:`to_jsonable`.
    """
    out = []
    for line in table:
        cells: dict[str, Any] = {}
        for c, v in line.items():
            if isinstance(v, float) and not math.isfinite(v):
                cells[c] = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
            else:
                cells[c] = to_jsonable(v)
        out.append(cells)
    return out


# --------------------------------------------------------------------------- progress log


def read_progress(path: Path) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Finished keys and their rows from a ``progress.jsonl`` (later lines win).

    Returns the rows by key and a list of warnings (e.g. a truncated last line left by a run
    that was killed while writing, which is skipped).
    """
    done: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    if not path.exists():
        return done, warnings
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read progress log ({exc})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = entry["key"]
            rows = entry["rows"]
            if not isinstance(key, str) or not isinstance(rows, list):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            warnings.append(f"{path.name} line {lineno} is incomplete or corrupt; its sweep "
                            f"point will be recomputed")
            continue
        done[key] = [dict(r) for r in rows]
    return done, warnings


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Loop:
    """State of one running :meth:`FolderContext.progress` loop."""

    def __init__(self, desc: str, total: int | None, start: float) -> None:
        self.desc = desc or "progress"
        self.total = total
        self.start = start
        self.count = 0
        self.bar: Any = None

    def status(self, now: float) -> str:
        elapsed = now - self.start
        of = f"/{self.total}" if self.total is not None else ""
        text = f"{self.desc}: {self.count}{of} done, {format_duration(elapsed)} elapsed"
        if self.count and self.total is not None and self.count < self.total:
            left = elapsed / self.count * (self.total - self.count)
            text += f", about {format_duration(left)} left"
        elif not self.count:
            text += ", first one still running"
        return text


class FolderContext:
    """A :class:`~isaclearn.systems.base.RunContext` that persists every recorded sweep point.

    Parameters
    ----------
    out_dir : Path
        The run folder (must exist).
    done : dict, optional
        Rows of sweep points finished by an earlier run (``--resume``); they count as done and
        are kept in the results.
    stream : callable, optional
        Returns the text stream for messages and progress bars (default: the current
        ``sys.stderr``, looked up at each call).
    log_interval_s : float
        Longest silence while a :meth:`progress` loop runs: on a terminal the loop shows a
        tqdm bar (refreshed at least this often); otherwise, whenever no line was written for
        this long, the innermost running loop logs ``desc: k/n done, elapsed, about ... left``
        (also from a background thread while one item takes longer). Progress lines also go
        to ``run.log``.
    clock : callable
        Monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        out_dir: Path,
        *,
        done: Mapping[str, list[dict[str, Any]]] | None = None,
        stream: Callable[[], Any] | None = None,
        log_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out_dir = Path(out_dir)
        self._rows: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in (done or {}).items()}
        self._resumed = set(self._rows)
        self._stream = stream or (lambda: sys.stderr)
        self.log_interval_s = log_interval_s
        self.recorded: list[str] = []
        self._clock = clock
        self._lock = threading.RLock()
        self._loops: list[_Loop] = []
        self._last_line = clock()
        self._beat: threading.Thread | None = None
        self._beat_stop = threading.Event()
        self._rewrite_progress()
        if self._rows:
            self._write_csv()

    # -- RunContext -------------------------------------------------------------------------

    @property
    def out_dir(self) -> Path:
        return self._out_dir

    def progress(self, iterable: Iterable[T], *, total: int | None = None,
                 desc: str = "") -> Iterator[T]:
        from tqdm.auto import tqdm

        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        stream = self._stream()
        interactive = bool(getattr(stream, "isatty", lambda: False)())
        loop = _Loop(desc, total, self._clock())
        if interactive:
            loop.bar = tqdm(total=total, desc=desc or None, file=stream, leave=False,
                            dynamic_ncols=True)
        with self._lock:
            self._loops.append(loop)
            self._start_heartbeat()
        try:
            for item in iterable:
                yield item
                with self._lock:
                    loop.count += 1
                    if loop.bar is not None:
                        loop.bar.update(1)
                    self._beat_line()
        finally:
            with self._lock:
                if loop in self._loops:
                    self._loops.remove(loop)
                if loop.bar is not None:
                    loop.bar.close()
                if not self._loops:
                    self._stop_heartbeat()

    def log(self, message: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        line = f"[{stamp}] {message}"
        with self._lock:
            self._last_line = self._clock()
            if any(lp.bar is not None for lp in self._loops):
                from tqdm.auto import tqdm

                tqdm.write(line, file=self._stream())
            else:
                print(line, file=self._stream(), flush=True)
            self._append_log(line)

    # -- progress lines ---------------------------------------------------------------------

    def _append_log(self, line: str) -> None:
        try:
            with open(self._out_dir / "run.log", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            pass

    def _poll_s(self) -> float:
        """How often the heartbeat thread looks at the clock."""
        return min(1.0, max(0.01, self.log_interval_s / 4))

    def _beat_line(self) -> None:
        """Log the innermost loop's status if nothing was written for about ``log_interval_s``
        (less one polling period, so that no silence exceeds it; on a terminal: refresh the
        bars and write the status to ``run.log`` only)."""
        with self._lock:
            now = self._clock()
            if not self._loops or now - self._last_line < self.log_interval_s - self._poll_s():
                return
            text = self._loops[-1].status(now)
            if any(lp.bar is not None for lp in self._loops):
                for lp in self._loops:
                    if lp.bar is not None:
                        lp.bar.refresh()
                self._last_line = now
                self._append_log(f"[{datetime.now().strftime('%H:%M:%S')}] {text}")
            else:
                self.log(text)

    def _start_heartbeat(self) -> None:
        if self._beat is not None and self._beat.is_alive():
            return
        self._beat_stop = threading.Event()
        stop = self._beat_stop

        def beat() -> None:
            while not stop.wait(self._poll_s()):
                try:
                    self._beat_line()
                except Exception:  # a progress line must never break a run
                    pass

        self._beat = threading.Thread(target=beat, name="isaclearn-progress", daemon=True)
        self._beat.start()

    def _stop_heartbeat(self) -> None:
        self._beat_stop.set()
        self._beat = None

    def is_done(self, key: str) -> bool:
        return key in self._rows

    def record(self, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not isinstance(key, str) or not key:
            raise ConfigError(f"record: key must be a non-empty string, got {key!r}")
        if isinstance(rows, Mapping):
            raise ConfigError(f"record({key!r}, ...): rows must be a list of dicts, got a dict")
        clean = [clean_row(r, where=f"record({key!r}) row {i}") for i, r in enumerate(rows)]
        entry = {"key": key, "rows": clean, "time": _now()}
        line = json.dumps(entry)  # NaN/Infinity allowed: Python's json reads them back
        with open(self._out_dir / PROGRESS_FILE, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._rows[key] = clean
        self.recorded.append(key)
        self._write_csv()

    def rows(self, key: str | None = None) -> list[dict[str, Any]]:
        if key is not None:
            return [dict(r) for r in self._rows.get(key, [])]
        return [dict(r) for rs in self._rows.values() for r in rs]

    # -- files ------------------------------------------------------------------------------

    @property
    def resumed_keys(self) -> set[str]:
        """Keys loaded from an earlier run."""
        return set(self._resumed)

    def table_rows(self) -> list[dict[str, Any]]:
        """All rows with their ``key`` column, as written to ``results.csv``."""
        out = []
        for key, rs in self._rows.items():
            for r in rs:
                out.append({KEY_COLUMN: key, **r})
        return out

    def _write_csv(self) -> None:
        rows = self.table_rows()
        text = rows_to_csv_text(rows, union_columns(rows, first=[KEY_COLUMN]))
        atomic_write_text(self._out_dir / RESULTS_FILE, text)

    def _rewrite_progress(self) -> None:
        lines = [json.dumps({"key": k, "rows": rs, "time": _now()})
                 for k, rs in self._rows.items()]
        path = self._out_dir / PROGRESS_FILE
        if lines or path.exists():
            atomic_write_text(path, "".join(line + "\n" for line in lines))

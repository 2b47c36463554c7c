"""The experiment toolkit: the pieces every system's experiments are built from.

An experiment of a system (``fn(config, ctx) -> summary``, see :mod:`isaclearn.systems.base`)
walks over sweep points, designs with every method that applies, scores and times the designs
and records one tidy row per method × point. The parts that do not depend on the paper live
here, once:

=====================  ========================================================================
:func:`sweep`          resumable loop over sweep points: a point whose key is already recorded
                       is skipped, a finished point is recorded at once (``ctx.record``)
:func:`record_once`    the same for a single key (a point that is not part of a sweep)
:func:`solver_progress`  a per-instance solver loop (CVXPY designers) shown as ``ctx.progress``
:class:`EpochLog`      the training loop's per-epoch lines, throttled, with an estimate
:func:`time_designer`  one design, timed: a warm-up call first (so that the first designer timed
                       does not pay the libraries' one-time start-up), then the best of
                       ``repeat`` calls, CUDA-synchronized; returns ``seconds_per_instance``
:func:`score`          one designer on one problem → a result row: the finite means of the
                       system's per-instance metrics over the instances whose design is finite
:func:`finite_mean`    mean over the finite entries of a tensor (NaN when there are none)
:func:`finite_instances`  which instances of a design hold only finite numbers
:func:`summarize`      a summary dict from rows: per group (e.g. method) the finite mean of
                       chosen columns
:func:`threads`        run a block with a given number of torch threads
=====================  ========================================================================

Conventions: the time of a designer is always reported as ``seconds_per_instance`` (wall-clock
seconds of one batched call divided by the batch size); a row names its designer in ``method``
and the number of instances it was scored on in a count column (``instances`` by default).

The toolkit never writes files and never prints: it talks to the user only through the
:class:`~isaclearn.systems.base.RunContext` it is given.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from time import perf_counter, thread_time
from typing import Any, TypeVar

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.units import format_duration
from isaclearn.systems.base import RunContext

P = TypeVar("P")

Row = dict[str, Any]
"""A tidy result row: column name → plain value."""

__all__ = [
    "finite_instances",
    "finite_mean",
    "mean_metrics",
    "EpochLog",
    "record_once",
    "score",
    "solver_progress",
    "summarize",
    "sweep",
    "threads",
    "time_designer",
]


# --------------------------------------------------------------------------- sweeping


def sweep(
    ctx: RunContext,
    points: Iterable[P],
    key: Callable[[P], str],
    run_point: Callable[[P], Sequence[Mapping[str, Any]]],
    *,
    desc: str = "",
) -> list[str]:
    """Run ``run_point`` on every sweep point not finished yet and record its rows at once.

    Parameters
    ----------
    ctx : RunContext
        The run's context: progress display, resume state and result store.
    points : iterable
        Sweep points, in the order they are run (and recorded).
    key : callable
        ``key(point) -> str``, the point's unique name in the results (the ``key`` column).
    run_point : callable
        ``run_point(point) -> rows``: the result rows of one point.
    desc : str
        Label of the progress display.

    Returns
    -------
    list of str
        Keys of the points run by this call, in order (points recorded by an earlier, resumed
        run, or earlier in this sweep under the same key, are skipped).

    Examples
    --------
    >>> from isaclearn.systems.base import MemoryContext
    >>> ctx = MemoryContext()
    >>> ctx.record("x=1", [{"method": "a", "y": 1.0}])          # finished before a resume
    >>> sweep(ctx, [1, 2], lambda x: f"x={x}", lambda x: [{"method": "a", "y": 2.0 * x}])
    ['x=2']
    >>> [r["y"] for r in ctx.rows()]
    [1.0, 4.0]
    """
    items = list(points)
    done: list[str] = []
    for point in ctx.progress(items, total=len(items), desc=desc):
        k = key(point)
        if ctx.is_done(k):
            continue
        ctx.record(k, [dict(r) for r in run_point(point)])
        done.append(k)
    return done


def record_once(ctx: RunContext, key: str,
                make_rows: Callable[[], Sequence[Mapping[str, Any]]], *,
                desc: str = "") -> bool:
    """Record ``make_rows()`` under ``key`` unless ``key`` is finished; whether it ran.

    The work runs inside a one-step ``ctx.progress`` (labelled ``desc``, default ``key``), so
    that a long step still shows that it is running.
    """
    if ctx.is_done(key):
        return False
    for _ in ctx.progress([key], total=1, desc=desc or key):
        ctx.record(key, [dict(r) for r in make_rows()])
    return True


def solver_progress(ctx: RunContext, desc: str) -> Callable[[range], Iterable[int]]:
    """A ``progress`` argument for a solver's per-instance loop (the CVXPY designers, the SDR
    boundary): the loop shown as ``ctx.progress(..., desc=desc)``."""
    def loop(indices: range) -> Iterable[int]:
        return ctx.progress(indices, total=len(indices), desc=desc)

    return loop


_EPOCH_LINE = re.compile(r"^epoch\s+(\d+)\s*(.*)$")
_EPOCH_TIME = re.compile(r"\((\d+(?:\.\d*)?) s\)\s*$")


class EpochLog:
    r"""A throttled receiver of the training loop's per-epoch lines (``fit(log=...)``).

    :func:`isaclearn.learn.fit` reports every epoch (``"epoch  k  train ...  val ...  lr ...
    (t s)"``). This passes the first epoch and then at most one epoch every ``interval_s``
    seconds (and the epoch limit) to ``log`` as ``"tag: epoch k/max_epochs, train ..., val
    ..., at most ~T left"``, where ``T`` is the mean time per epoch so far (the ``(t s)`` of the
    lines, else the wall time since construction) times the epochs left to the limit (early
    stopping or ``max_time_s`` may end training sooner). Other lines (resume, warm start) are
    passed on with the tag.

    Parameters
    ----------
    log : callable
        Receives the lines (e.g. ``ctx.log``).
    tag : str
        Names the network in every line.
    max_epochs : int
        The epoch limit of the training.
    interval_s : float
        Least time between two epoch lines, seconds.
    max_time_s : float or None
        Training-time limit, seconds (caps the estimate).
    clock : callable
        Monotonic clock in seconds.

    Examples
    --------
    >>> lines = []
    >>> t = iter([0.0, 1.0, 2.0, 3.0])
    >>> log = EpochLog(lines.append, "net", 3, interval_s=10.0, clock=lambda: next(t))
    >>> for k in (1, 2, 3):
    ...     log(f"epoch {k:3d}  train -0.5  val -0.6  lr 1.0e-03  (1.0 s)")
    >>> print("\n".join(lines))
    net: epoch 1/3, train -0.5  val -0.6  lr 1.0e-03  (1.0 s), at most ~2 s left
    net: epoch 3/3, train -0.5  val -0.6  lr 1.0e-03  (1.0 s)
    """

    def __init__(self, log: Callable[[str], None], tag: str, max_epochs: int, *,
                 interval_s: float = 10.0, max_time_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.tag = tag
        self.max_epochs = int(max_epochs)
        self.interval_s = float(interval_s)
        self.max_time_s = max_time_s
        self._clock = clock
        self._start = clock()
        self._epochs = 0
        self._epoch_s = 0.0
        self._timed = 0
        self._last: float | None = None

    def __call__(self, line: str) -> None:
        m = _EPOCH_LINE.match(line.strip())
        if m is None:
            self.log(f"{self.tag}: {line}")
            return
        epoch, rest = int(m.group(1)), m.group(2)
        now = self._clock()
        self._epochs += 1
        t = _EPOCH_TIME.search(rest)
        if t is not None:
            self._epoch_s += float(t.group(1))
            self._timed += 1
        last_epoch = epoch >= self.max_epochs
        if self._last is not None and now - self._last < self.interval_s and not last_epoch:
            return
        self._last = now
        text = f"{self.tag}: epoch {epoch}/{self.max_epochs}, {rest}"
        if not last_epoch:
            per_epoch = (self._epoch_s / self._timed if self._timed
                         else (now - self._start) / self._epochs)
            left = per_epoch * (self.max_epochs - epoch)
            if self.max_time_s is not None:
                left = min(left, max(0.0, self.max_time_s - (now - self._start)))
            text += f", at most ~{format_duration(left)} left"
        self.log(text)


# --------------------------------------------------------------------------- timing


def _synchronize() -> None:
    """Wait for queued CUDA work (a no-op when CUDA was never used in this process)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _batch_size(problem: Any) -> int:
    size = getattr(problem, "batch_size", None)
    if not isinstance(size, int) or size < 1:
        raise ShapeError(
            f"problem must have a positive integer batch_size, got {size!r} "
            f"({type(problem).__name__})"
        )
    return size


CLOCKS = ("wall", "cpu")
"""The clocks :func:`time_designer` times with."""


def time_designer(
    designer: Any,
    problem: Any,
    *,
    repeat: int = 1,
    warmup: bool = True,
    warmup_instances: int | None = None,
    clock: str = "wall",
) -> tuple[Any, float]:
    """Design once more than timed and report the best time per instance.

    Parameters
    ----------
    designer : Designer or callable
        Anything with ``design(problem)``, or a callable ``fn(problem)`` (e.g. a bound or a
        chunked design).
    problem : batched problem
        The ``B`` instances (``problem.batch_size``), designed in one call.
    repeat : int
        Timed calls; the fastest one is reported (1 for slow designers).
    warmup : bool
        Call the designer once, untimed, before timing. The first call of a process pays the
        libraries' one-time start-up (lazy imports, thread pools, LAPACK/cuBLAS handles,
        kernel selection); without the warm-up that cost lands on whichever designer is timed
        first.
    warmup_instances : int or None
        Warm up on the first ``warmup_instances`` instances only (a cheap warm-up for slow
        designers); ``None`` warms up on the whole batch.
    clock : {"wall", "cpu"}
        ``"wall"`` (default) times with ``time.perf_counter``; ``"cpu"`` with
        ``time.thread_time``, the CPU time of the calling thread, which other processes on a
        shared machine do not inflate. Only meaningful with one intra-op thread (the work of
        other threads is not counted) and on the CPU (GPU work is not CPU time).

    Returns
    -------
    design : Any
        What the last timed call returned (designers are deterministic, so every call returns
        the same design).
    seconds_per_instance : float
        Best time of one call (by ``clock``) divided by ``B``, seconds. CUDA work is
        synchronized before the clock starts and before it stops.

    Raises
    ------
    ConfigError
        ``repeat`` or ``warmup_instances`` below 1, ``designer`` neither a designer nor
        callable, or an unknown ``clock``.
    ShapeError
        ``problem`` has no positive ``batch_size``.
    """
    if repeat < 1:
        raise ConfigError(f"repeat must be at least 1, got {repeat}")
    if warmup_instances is not None and warmup_instances < 1:
        raise ConfigError(f"warmup_instances must be at least 1 or None, got {warmup_instances}")
    if clock not in CLOCKS:
        raise ConfigError(f"clock must be one of {list(CLOCKS)}, got {clock!r}")
    timer: Callable[[], float] = perf_counter if clock == "wall" else thread_time
    fn = getattr(designer, "design", designer)
    if not callable(fn):
        raise ConfigError(
            f"designer must have a design(problem) method or be callable, got "
            f"{type(designer).__name__}"
        )
    batch = _batch_size(problem)
    if warmup:
        warm = (problem if warmup_instances is None or warmup_instances >= batch
                else problem.subset(slice(0, warmup_instances)))
        fn(warm)
    best = math.inf
    out: Any = None
    for _ in range(repeat):
        _synchronize()
        start = timer()
        out = fn(problem)
        _synchronize()
        best = min(best, timer() - start)
    return out, best / batch


# --------------------------------------------------------------------------- scoring


def finite_mean(x: torch.Tensor | Sequence[float],
                *, dtype: torch.dtype | None = torch.float64) -> float:
    """Mean of the finite entries of ``x`` (NaN and ±Inf are left out); NaN if none is finite.

    Parameters
    ----------
    x : torch.Tensor or sequence of float
        Values of any shape (all entries are averaged).
    dtype : torch.dtype or None
        Precision of the accumulation; ``None`` keeps the dtype of ``x``.

    Examples
    --------
    >>> finite_mean(torch.tensor([1.0, float("nan"), 3.0, float("inf")]))
    2.0
    >>> finite_mean([])
    nan
    """
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)
    t = t[torch.isfinite(t)]
    if t.numel() == 0:
        return math.nan
    if dtype is not None:
        t = t.to(dtype)
    return float(t.mean())


def _batched_tensors(design: Design, batch: int) -> list[torch.Tensor]:
    out = [design.w]
    out += [t for t in design.extras.values()
            if isinstance(t, torch.Tensor) and t.dim() >= 1 and t.shape[0] == batch]
    return out


def finite_instances(design: Design) -> torch.Tensor:
    """``[B]`` bool: whether instance ``b`` of the design has only finite numbers.

    Looks at ``design.w`` (``[B, ...]``) and at every tensor of ``design.extras`` whose first
    dimension is ``B``.
    """
    batch = design.w.shape[0]
    ok = torch.ones(batch, dtype=torch.bool, device=design.w.device)
    for t in _batched_tensors(design, batch):
        ok &= torch.isfinite(t).reshape(batch, -1).all(dim=1).to(ok.device)
    return ok


def subset_design(design: Design, mask: torch.Tensor) -> Design:
    """The instances ``mask`` (``[B]`` bool or an index) of a design: ``w`` and every tensor of
    ``extras`` whose first dimension is ``B`` are indexed, the rest is kept."""
    batch = design.w.shape[0]
    extras = {k: (t[mask] if isinstance(t, torch.Tensor) and t.dim() >= 1
                  and t.shape[0] == batch else t)
              for k, t in design.extras.items()}
    return replace(design, w=design.w[mask], extras=extras)


def mean_metrics(metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Finite means of the per-instance (``[B]``) entries of an ``evaluate`` result."""
    return {k: finite_mean(v) for k, v in metrics.items() if v.dim() == 1}


def score(
    name: str,
    problem: Any,
    design: Any,
    evaluate: Callable[[Any, Design], Mapping[str, torch.Tensor]],
    *,
    reduce: Callable[[Mapping[str, torch.Tensor]], Mapping[str, Any]] | None = None,
    seconds_per_instance: float | None = None,
    extra: Mapping[str, Any] | None = None,
    count_column: str = "instances",
) -> Row:
    """One result row: a designer's metrics on a batch of problems.

    Instances whose design holds a non-finite number (a solver that failed on them) are left
    out of every metric; ``count_column`` says how many were scored.

    Parameters
    ----------
    name : str
        The designer's name (column ``method``).
    problem : batched problem
        ``B`` instances with ``subset(mask)``.
    design : Design or Designer
        The design for ``problem``, or a designer (then designed here, untimed).
    evaluate : callable
        The system's ``evaluate(problem, design) -> {metric: [B] tensor}``.
    reduce : callable or None
        ``reduce(metrics) -> {column: value}``; the system's choice of columns (e.g. a CRB in
        dB of the mean). ``None``: :func:`mean_metrics`, the finite mean of every ``[B]`` metric.
    seconds_per_instance : float or None
        Time of the design (from :func:`time_designer`), added as ``seconds_per_instance``.
    extra : mapping or None
        Further columns (diagnostics), placed after the count.
    count_column : str
        Name of the column holding the number of instances scored.

    Returns
    -------
    dict
        ``method``, ``count_column``, the reduced metrics, ``extra``, ``seconds_per_instance``
        (in this order).

    Raises
    ------
    ConfigError
        ``design`` is neither a :class:`~isaclearn.core.design.Design` nor a designer.
    """
    if isinstance(design, Design):
        d = design
    elif callable(getattr(design, "design", None)):
        d = design.design(problem)
    else:
        raise ConfigError(
            f"score needs a Design or a designer, got {type(design).__name__}"
        )
    ok = finite_instances(d)
    count = int(ok.sum())
    if count < ok.numel():
        problem = problem.subset(ok)
        d = subset_design(d, ok)
    metrics = evaluate(problem, d)  # on no instance at all when none is finite: NaN means
    values = dict(reduce(metrics) if reduce is not None else mean_metrics(metrics))
    row: Row = {"method": name, count_column: count, **values}
    if extra:
        row.update(extra)
    if seconds_per_instance is not None:
        row["seconds_per_instance"] = float(seconds_per_instance)
    return row


# --------------------------------------------------------------------------- summaries


def summarize(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    by: str = "method",
    where: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Per value of column ``by``, the finite mean of each of ``columns`` over its rows.

    Parameters
    ----------
    rows : iterable of dict
        Result rows.
    columns : sequence of str
        Numeric columns to average; a column that no row of a group has is left out of the
        group's entry.
    by : str
        Grouping column (rows without it are skipped); groups keep the order of first
        appearance and are keyed by ``str(value)``.
    where : mapping or None
        Only rows whose columns equal these values are used.

    Examples
    --------
    >>> rows = [{"method": "a", "y": 1.0}, {"method": "b", "y": 5.0},
    ...         {"method": "a", "y": 3.0, "z": 0.5}]
    >>> summarize(rows, ["y", "z"])
    {'a': {'y': 2.0, 'z': 0.5}, 'b': {'y': 5.0}}
    """
    want = dict(where or {})
    groups: dict[Hashable, list[Mapping[str, Any]]] = {}
    for r in rows:
        if by not in r or any(r.get(k) != v for k, v in want.items()):
            continue
        groups.setdefault(r[by], []).append(r)
    out: dict[str, dict[str, float]] = {}
    for g, rs in groups.items():
        entry: dict[str, float] = {}
        for c in columns:
            vals = [float(r[c]) for r in rs if c in r and r[c] is not None]
            if vals:
                entry[c] = finite_mean(vals)
        out[str(g)] = entry
    return out


# --------------------------------------------------------------------------- threads


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (at least 1), then restore the old number.

    Small tensors gain nothing from more threads, and on a shared CPU they lose: the
    experiments default to one.
    """
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)

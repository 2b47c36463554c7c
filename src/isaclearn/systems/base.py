"""What a system module declares: its experiments, their configs, profiles and plots.

Systems are the only place that knows a specific paper, but they never write files or print:
an experiment function receives a :class:`RunContext` (implemented by
:mod:`isaclearn.experiments`) through which it reports progress, records finished sweep points
(so an interrupted run can resume) and finds the folder for checkpoints.

An experiment function has the signature ``fn(config, ctx) -> dict`` where ``config`` is an
instance of the experiment's config dataclass and the returned dict is the run's summary
(JSON-serializable). Result rows are tidy dicts: one row per method × sweep point, with the
column ``method`` naming the designer and one column per metric.

A system declares itself once with a :class:`SystemSpec` (:func:`register_system`): its paper,
scenario, problem and design classes, ``evaluate``, metrics and units, designers, the layout of
its evaluate files, its bench suites and (by name prefix) its experiments. The command line,
the leaderboard and file input dispatch on the registry, so that adding a system is a matter of
writing its scenario, metrics, methods and experiments and registering them here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from isaclearn.core.errors import ConfigError

T = TypeVar("T")


class RunContext(Protocol):
    """The services an experiment may use while it runs.

    Long work is wrapped in :meth:`progress` (sweep points, epochs, per-instance solver loops)
    so that the user sees a line, with an estimate of the time left, at least every
    ``log_interval_s`` seconds.
    """

    log_interval_s: float
    """Longest silence, seconds, the context allows while a :meth:`progress` loop runs
    (callers throttle their own per-step messages to it)."""

    @property
    def out_dir(self) -> Path | None:
        """Folder for checkpoints and artefacts (``None`` when running in memory)."""
        ...

    def progress(self, iterable: Iterable[T], *, total: int | None = None,
                 desc: str = "") -> Iterable[T]:
        """Wrap ``iterable`` to show progress of long work."""
        ...

    def log(self, message: str) -> None:
        """Report a line of information to the user."""
        ...

    def is_done(self, key: str) -> bool:
        """Whether the sweep point ``key`` was finished by an earlier (resumed) run."""
        ...

    def record(self, key: str, rows: Sequence[dict[str, Any]]) -> None:
        """Store the result rows of the finished sweep point ``key`` (persisted at once)."""
        ...

    def rows(self, key: str | None = None) -> list[dict[str, Any]]:
        """Rows recorded so far (for one key, or all)."""
        ...


class MemoryContext:
    """A :class:`RunContext` that keeps everything in memory and stays silent.

    Used by tests and by Python callers who want the rows without files.
    """

    def __init__(self, out_dir: Path | None = None, *, verbose: bool = False,
                 log_interval_s: float = 10.0) -> None:
        self._out_dir = out_dir
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self.messages: list[str] = []
        self.verbose = verbose
        self.log_interval_s = log_interval_s

    @property
    def out_dir(self) -> Path | None:
        return self._out_dir

    def progress(self, iterable: Iterable[T], *, total: int | None = None,
                 desc: str = "") -> Iterator[T]:
        yield from iterable

    def log(self, message: str) -> None:
        self.messages.append(message)

    def is_done(self, key: str) -> bool:
        return key in self._rows

    def record(self, key: str, rows: Sequence[dict[str, Any]]) -> None:
        self._rows[key] = [dict(r) for r in rows]

    def rows(self, key: str | None = None) -> list[dict[str, Any]]:
        if key is not None:
            return list(self._rows.get(key, []))
        return [r for rs in self._rows.values() for r in rs]


@dataclass
class PlotSpec:
    """A figure drawn from the tidy results table (never from live objects).

    Attributes
    ----------
    filename : str
        PNG file name inside the run folder.
    x : str
        Column on the x axis.
    y : list of str
        Columns on the y axis; several give one panel each, side by side.
    group : str or None
        Column whose values become separate lines (usually ``"method"``).
    where : dict
        Only rows whose columns equal these values are drawn.
    title, xlabel : str
        Labels (``xlabel`` defaults to ``x``).
    ylabels : list of str
        Per-panel y labels (default: the column names).
    logy : bool
        Logarithmic y axis.
    kind : {"line", "scatter"}
        Lines with markers, or markers only.
    split : str, tuple of str or None
        Draw one figure per distinct value (or combination of values) of these columns among
        the rows matching ``where``; ``filename`` and ``title`` name them as format fields,
        e.g. ``PlotSpec("tradeoff_M{M}.png", ..., split="M", title="M = {M}")`` (integers as
        ``10``, other numbers in ``:g`` form).
    empty_reason : str
        Why the figure can be empty (e.g. "no SDR instance is feasible at every SINR target"):
        said in the message when nothing can be drawn.
    """

    filename: str
    x: str
    y: list[str]
    group: str | None = "method"
    where: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    xlabel: str = ""
    ylabels: list[str] = field(default_factory=list)
    logy: bool = False
    kind: str = "line"
    split: str | tuple[str, ...] | None = None
    empty_reason: str = ""

    @property
    def split_columns(self) -> tuple[str, ...]:
        """The columns of :attr:`split` as a tuple (empty when the spec is one figure)."""
        if self.split is None:
            return ()
        return (self.split,) if isinstance(self.split, str) else tuple(self.split)


@dataclass
class ExperimentSpec:
    """A named, reproducible experiment of a system.

    Attributes
    ----------
    name : str
        Full name ``"<system>.<experiment>"``.
    fn : callable
        ``fn(config, ctx) -> summary dict``.
    config_cls : type
        Dataclass of the experiment's configuration (flat fields of simple types).
    profiles : dict
        Field overrides per profile; ``"quick"`` (minutes on 2 CPU cores) and ``"paper"``.
    description : str
        One line shown by ``isaclearn list``.
    plots : list of PlotSpec
        Figures drawn from the results.
    table_columns : list of str
        Columns printed in the summary table (all metric columns when empty). The table has
        one line per sweep point (``key``) × ``method`` × non-numeric shown column ×
        ``table_group`` column; ``method`` is always shown (see
        :func:`isaclearn.experiments.results.summary_table`).
    table_where : dict
        Only rows whose columns equal these values enter the printed table.
    table_group : list of str
        Numeric columns that identify a table line (sweep coordinates within a sweep point,
        such as ``rho``): rows that differ in them are never averaged together.
    table_filter : callable or None
        ``table_filter(row) -> bool``: only rows for which it is true enter the table (after
        ``table_where``), e.g. the best epoch of each training curve.
    """

    name: str
    fn: Callable[[Any, RunContext], dict[str, Any]]
    config_cls: type
    profiles: dict[str, dict[str, Any]]
    description: str = ""
    plots: list[PlotSpec] = field(default_factory=list)
    table_columns: list[str] = field(default_factory=list)
    table_where: dict[str, Any] = field(default_factory=dict)
    table_group: list[str] = field(default_factory=list)
    table_filter: Callable[[Mapping[str, Any]], bool] | None = None

    @property
    def system(self) -> str:
        return self.name.split(".", 1)[0]

    def make_config(self, profile: str = "quick", overrides: dict[str, str] | None = None) -> Any:
        """Config for ``profile`` with ``overrides`` (strings parsed by field type) applied."""
        if profile not in self.profiles:
            raise ConfigError(
                f"unknown profile {profile!r} for {self.name}; choose from "
                f"{', '.join(sorted(self.profiles))}"
            )
        cfg = self.config_cls(**self.profiles[profile])
        for key, raw in (overrides or {}).items():
            cfg = set_field(cfg, key, raw)
        return cfg


_OPEN = {"(": ")", "[": "]"}


def _list_items(text: str, raw: str, key: str) -> list[str]:
    """The comma-separated items of a list value, with optional enclosing ``(...)`` or
    ``[...]``; unbalanced or nested brackets and empty items are refused."""
    body = text
    if body[:1] in _OPEN:
        if body[-1:] != _OPEN[body[0]]:
            raise ConfigError(f"--set {key}={raw}: unbalanced brackets; write a list as "
                              f"a,b,c or [a,b,c]")
        body = body[1:-1]
    if any(c in body for c in "()[]"):
        raise ConfigError(f"--set {key}={raw}: unbalanced or nested brackets; write a list "
                          f"as a,b,c or [a,b,c]")
    if not body.strip():
        return []
    items = [s.strip() for s in body.split(",")]
    if any(not s for s in items):
        raise ConfigError(f"--set {key}={raw}: empty item in the list (two commas in a row, "
                          f"or a comma at either end)")
    return items


def _finite(value: float, raw: str, key: str) -> float:
    if not math.isfinite(value):
        why = " (it overflows to inf)" if not math.isnan(value) and "inf" not in \
            raw.lower() else ""
        raise ConfigError(f"--set {key}={raw}: expected a finite number, got {value}{why}")
    return value


def _number(text: str) -> int | float | None:
    """``text`` as an int, else a float, else ``None``."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _parse_value(raw: str, current: Any, key: str) -> Any:
    """``raw`` parsed as a value of the type of ``current`` (the field's present value).

    Floats must be finite (``nan``, ``inf`` and overflowing literals such as ``1e400`` are
    refused); lists are ``a,b,c`` or ``[a,b,c]`` / ``(a,b,c)`` with balanced brackets and no
    empty item (an empty value or ``()`` is the empty list).
    """
    text = raw.strip()
    try:
        if isinstance(current, bool):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return _finite(float(text), raw, key)
        if isinstance(current, tuple | list):
            elem = current[0] if len(current) else 0.0
            vals = [_parse_value(s, elem, key) for s in _list_items(text, raw, key)]
            return type(current)(vals)
        if current is None:
            if text.lower() in ("none", "null"):
                return None
            number = _number(text)
            if isinstance(number, float):
                return _finite(number, raw, key)
            return text if number is None else number
        return text
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(
            f"--set {key}={raw}: expected a value of type {type(current).__name__}"
        ) from None


@dataclass(frozen=True)
class ConfigField:
    """One field of an experiment's config, as ``isaclearn list EXPERIMENT`` shows it.

    Attributes
    ----------
    name : str
        The key of ``--set KEY=VALUE``.
    type : str
        The annotation as written in the source (``"tuple[float, ...]"``).
    default : Any
        The dataclass default.
    doc : str
        The attribute docstring under the field in the source (``""`` when there is none).
    """

    name: str
    type: str
    default: Any
    doc: str


def attribute_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a class and its bases: the string literal right under a
    field (``x: int = 1`` then ``\"\"\"Meaning.\"\"\"``), parsed from the source with :mod:`ast`.

    A subclass's docstring wins over its base's; classes whose source is not available (built
    at run time) contribute nothing.

    Examples
    --------
    >>> from isaclearn.systems.temiz_unsup.experiments import TradeoffConfig
    >>> attribute_docs(TradeoffConfig)["num_users"]
    'Users ``K``.'
    """
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        node = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
        if node is None:
            continue
        body = node.body
        for stmt, nxt in zip(body, body[1:]):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def config_fields(config_cls: type) -> list[ConfigField]:
    """The fields of an experiment config dataclass with type, default and docstring."""
    docs = attribute_docs(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out.append(ConfigField(f.name, kind, default, docs.get(f.name, "")))
    return out


def check_fields(
    cfg: Any,
    *,
    at_least_1: Sequence[str] = (),
    at_least_0: Sequence[str] = (),
    unit_interval: Sequence[str] = (),
    positive: Sequence[str] = (),
) -> None:
    """Check ranges of config fields (for a config's ``__post_init__``, so that a bad
    ``--set`` value is refused before a run folder is made).

    Each name is a scalar field or a tuple field (every element is checked): ``at_least_1``
    (counts ≥ 1), ``at_least_0`` (≥ 0), ``unit_interval`` (in [0, 1]), ``positive`` (> 0).

    Raises
    ------
    ConfigError
        Naming the first field and value out of range.
    """
    rules: list[tuple[Sequence[str], Callable[[float], bool], str]] = [
        (at_least_1, lambda v: v >= 1, "must be >= 1"),
        (at_least_0, lambda v: v >= 0, "must be >= 0"),
        (unit_interval, lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]"),
        (positive, lambda v: v > 0, "must be > 0"),
    ]
    for names, ok, text in rules:
        for name in names:
            value = getattr(cfg, name)
            values = value if isinstance(value, tuple | list) else (value,)
            bad = [v for v in values if not ok(v)]
            if bad:
                what = "values" if isinstance(value, tuple | list) else "value"
                raise ConfigError(f"config field {name}: {what} {text}, got {bad[0]!r}")


MAX_SEED = 2**32 - 1
"""Largest seed accepted (seeds are integers in ``[0, 2**32 - 1]``, the range every generator
seeded from them accepts, also after the offsets some experiments add)."""

MAX_INSTANCES = 1_000_000
"""Most test instances a benchmark or leaderboard accepts (``--batch``): more is taken for a
typo rather than allocated."""


def check_seed(value: int, name: str = "seed") -> int:
    """``value`` if it is a seed in ``[0, MAX_SEED]``, else :class:`ConfigError` naming
    ``name``."""
    if not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{name} must be an integer in [0, 2**32 - 1], got {value}")
    return value


def seed_arg(text: str) -> int:
    """``argparse`` type of a ``--seed`` option: an integer in ``[0, MAX_SEED]``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1], got {value}")
    return value


def set_field(cfg: Any, key: str, raw: str) -> Any:
    """Return a copy of the dataclass ``cfg`` with field ``key`` set from the string ``raw``
    (a field named ``seed`` or ``*_seed`` must be in ``[0, MAX_SEED]``)."""
    names = {f.name for f in dataclasses.fields(cfg)}
    if key not in names:
        raise ConfigError(
            f"unknown config key {key!r}; known keys: {', '.join(sorted(names))} (`isaclearn "
            f"list EXPERIMENT` shows their types, defaults and meaning)"
        )
    value = _parse_value(raw, getattr(cfg, key), key)
    if (key == "seed" or key.endswith("_seed")) and isinstance(value, int):
        check_seed(value, f"--set {key}")
    return dataclasses.replace(cfg, **{key: value})


_REGISTRY: dict[str, ExperimentSpec] = {}


def register(spec: ExperimentSpec) -> ExperimentSpec:
    """Add ``spec`` to the registry of experiments (idempotent for the same name)."""
    _REGISTRY[spec.name] = spec
    return spec


def experiments() -> dict[str, ExperimentSpec]:
    """All registered experiments, by name (importing every system module first)."""
    from isaclearn.systems import load_all

    load_all()
    return dict(sorted(_REGISTRY.items()))


def get_experiment(name: str) -> ExperimentSpec:
    """The experiment called ``name`` (``"system.experiment"``)."""
    exps = experiments()
    if name not in exps:
        known = ", ".join(exps) or "none"
        raise ConfigError(f"unknown experiment {name!r}; known: {known}")
    return exps[name]


# --------------------------------------------------------------------------- systems

FieldKind = Literal["complex", "real", "positive", "count", "fraction", "angle_rad"]


@dataclass(frozen=True)
class FileField:
    """One named array of a system's evaluate file (``isaclearn evaluate FILE --system S``).

    Attributes
    ----------
    name : str
        Key in the ``.npz`` / ``.mat`` file (case-sensitive, with a case-insensitive fallback).
    dims : tuple of str
        Shape letters, e.g. ``("B", "K", "M")``; ``()`` for a scalar. The same letter must have
        the same size in every field of the file.
    kind : str
        ``"complex"`` (real values accepted), ``"real"``, ``"positive"`` (real > 0),
        ``"count"`` (integer ≥ 1), ``"fraction"`` (real in [0, 1]) or ``"angle_rad"``
        (real within [−π/2, π/2]).
    doc : str
        Meaning and unit, shown by ``isaclearn list --system S``.
    required : bool
        Whether the key must be present (a design field is optional when the command designs its
        own, e.g. ``--designer``).
    default : float, int or None
        Value of an absent optional scalar.
    batch : {"optional", "broadcast"}
        For fields whose first letter is ``B``: ``"optional"`` reads a field given without ``B``
        as one instance; ``"broadcast"`` as the same value for every instance. A broadcast
        ``[B, X]`` field is read as shared by every instance when given as ``[X]``, a ``1×X``
        row or an ``n×1`` column with ``n ≠ B``, and per instance when given as ``[B, X]``.
        An ``n×1`` column with ``n = B > 1`` means ``[B, 1]`` (one value per instance) in an
        ``.npz`` file, whose arrays keep their exact shape; in a ``.mat`` file (every MATLAB
        vector is a matrix) it is ambiguous and refused: store shared values as a ``1×X`` row,
        one value per instance as an ``.npz`` array of shape ``(B, 1)``.
    """

    name: str
    dims: tuple[str, ...]
    kind: FieldKind
    doc: str
    required: bool = True
    default: float | int | None = None
    batch: Literal["optional", "broadcast"] = "optional"

    @property
    def layout(self) -> str:
        """The shape as text, ``"[B, K, M]"`` (``"scalar"`` for a scalar)."""
        return f"[{', '.join(self.dims)}]" if self.dims else "scalar"


@dataclass(frozen=True)
class FileFormat:
    """How a system's problems and designs are stored in a file.

    Attributes
    ----------
    problem_fields, design_fields : tuple of FileField
        The arrays of the problem and of one design.
    problem_from_arrays : callable
        ``f(arrays) -> Problem`` from validated arrays (NumPy, complex128 / float64, batch first)
        and Python scalars, keyed by field name; raises an ``IsacError`` naming the problem.
    design_from_arrays : callable
        ``f(arrays, problem) -> Design``.
    design_to_arrays : callable
        ``f(design) -> {field name: array}``, the inverse (for ``--out``).
    """

    problem_fields: tuple[FileField, ...]
    design_fields: tuple[FileField, ...]
    problem_from_arrays: Callable[[Mapping[str, Any]], Any]
    design_from_arrays: Callable[[Mapping[str, Any], Any], Any]
    design_to_arrays: Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class DesignerEntry:
    """A designer a system offers, by name.

    Attributes
    ----------
    name : str
        Name in tables and on the command line.
    make : callable
        ``make() -> designer`` (an object with ``design(problem) -> Design``); constructing one is
        cheap, the work happens in ``design``.
    kind : {"baseline", "bound", "learned"}
        A classical designer, an upper bound or reference that is not a practical design (e.g.
        the DPC capacity, an optimality reference), or a trained network.
    slow : bool
        Solves one program per instance (CVXPY): benchmarks and leaderboards give it a few
        instances only.
    description : str
        One line for ``isaclearn list``.
    """

    name: str
    make: Callable[[], Any]
    kind: Literal["baseline", "bound", "learned"] = "baseline"
    slow: bool = False
    description: str = ""


Options = argparse.Namespace
Log = Callable[[str], None]


@dataclass
class BenchSuite:
    """A speed benchmark run by ``isaclearn bench NAME``; owned by a system.

    Attributes
    ----------
    name : str
        Subcommand name.
    description : str
        One line for ``--help`` and ``isaclearn list``.
    add_arguments : callable
        ``add_arguments(parser)`` declares the suite's options (``--json`` and ``--device`` are
        added by the command line for every suite).
    run : callable
        ``run(options, log) -> list of row dicts``; ``log`` reports progress lines.
    columns : list of str
        Row fields printed in the table.
    """

    name: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Options, Log], list[dict[str, Any]]]
    columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CliOption:
    """A command-line option a system's learned designers read (e.g. a trade-off weight).

    Added to ``isaclearn evaluate`` and ``isaclearn leaderboard``; ``load_learned`` receives the
    parsed value as ``options.<dest>``.
    """

    flag: str
    type: Callable[[str], Any]
    help: str
    default: Any = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass
class SystemSpec:
    """Everything the platform needs to know about one published system.

    Attributes
    ----------
    name : str
        Short name (``temiz_unsup``); experiments are registered as ``"<name>.<experiment>"``.
    paper : str
        The paper: file in ``shared/papers/`` and short title.
    description : str
        One line for ``isaclearn list``.
    make_scenario : callable
        ``make_scenario(**overrides) -> scenario`` with the paper's defaults; the scenario has
        ``sample(batch, *, generator) -> problem``.
    problem_cls, design_cls : type
        The classes of its problems and designs.
    evaluate : callable
        ``evaluate(problem, design) -> {metric: tensor}``, one value per instance for the
        ``[B]`` metrics.
    metrics : dict of str to str
        Metric names and units, in display order; the first is the primary metric.
    higher_is_better : dict of str to bool
        Direction of each ranked metric (default: higher is better).
    summary_metrics : list of str
        The short list shown in comparison tables and the leaderboard (default: every metric).
    designers : callable
        ``designers() -> list of DesignerEntry``: baselines, bounds and untrained learned designers
        it offers.
    bounds : dict of str to callable
        Bounds that are not designs, ``bound(problem) -> {metric: tensor [B]}`` (e.g. the DPC
        sum capacity).
    reference : str or None
        The designer or bound whose primary metric is the reference of the leaderboard's gap
        column.
    file_format : FileFormat or None
        Layout of ``isaclearn evaluate`` files (``None``: the system reads no files).
    load_learned : callable or None
        ``load_learned(paths, options) -> {name: designer}`` for trained networks given by path
        (``--checkpoint``); ``options`` carries the parsed :attr:`cli_options`. A designer may
        carry ``info["note"]``, one line the command line prints with its results (e.g. which
        trade-off weight it runs at, or that an option does not apply to it).
    find_learned : callable or None
        ``find_learned(folder) -> list of checkpoint paths`` of this system's trained networks
        under a folder (the leaderboard looks under ``runs/``).
    cli_options : list of CliOption
        Options read by ``load_learned``.
    leaderboard_scenario : callable or None
        ``leaderboard_scenario(options) -> problem``: the system's default test instances (the
        same for every designer); ``options`` has ``batch`` and ``seed``.
    bench_suites : list of BenchSuite
        Its ``isaclearn bench`` suites.
    """

    name: str
    paper: str
    description: str
    make_scenario: Callable[..., Any]
    problem_cls: type
    design_cls: type
    evaluate: Callable[[Any, Any], dict[str, Any]]
    metrics: dict[str, str]
    designers: Callable[[], list[DesignerEntry]]
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    summary_metrics: list[str] = field(default_factory=list)
    bounds: dict[str, Callable[[Any], dict[str, Any]]] = field(default_factory=dict)
    reference: str | None = None
    file_format: FileFormat | None = None
    load_learned: Callable[[Sequence[str], Options], dict[str, Any]] | None = None
    find_learned: Callable[[Path], list[Path]] | None = None
    cli_options: list[CliOption] = field(default_factory=list)
    leaderboard_scenario: Callable[[Options], Any] | None = None
    bench_suites: list[BenchSuite] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.metrics:
            raise ConfigError(f"system {self.name}: declare at least one metric")
        unknown = [m for m in self.summary_metrics if m not in self.metrics]
        if unknown:
            raise ConfigError(f"system {self.name}: summary metrics {unknown} are not metrics")

    @property
    def primary_metric(self) -> str:
        """The metric the leaderboard ranks by (the first of :attr:`metrics`)."""
        return next(iter(self.metrics))

    def shown_metrics(self) -> list[str]:
        """:attr:`summary_metrics`, or every metric when none are chosen."""
        return list(self.summary_metrics or self.metrics)

    def designer_entries(self) -> dict[str, DesignerEntry]:
        """The system's designers by name."""
        return {d.name: d for d in self.designers()}

    def experiments(self) -> dict[str, ExperimentSpec]:
        """The system's registered experiments, by full name."""
        return {n: e for n, e in experiments().items() if e.system == self.name}


_SYSTEMS: dict[str, SystemSpec] = {}


def register_system(spec: SystemSpec) -> SystemSpec:
    """Add ``spec`` to the system registry (replacing one of the same name)."""
    _SYSTEMS[spec.name] = spec
    return spec


def unregister_system(name: str) -> None:
    """Remove a system (and its experiments) from the registries (no error if absent)."""
    _SYSTEMS.pop(name, None)
    for key in [k for k in _REGISTRY if k.split(".", 1)[0] == name]:
        _REGISTRY.pop(key)


def systems() -> dict[str, SystemSpec]:
    """Every registered system, by name (importing every system module first)."""
    from isaclearn.systems import load_all

    load_all()
    return dict(sorted(_SYSTEMS.items()))


def get_system(name: str) -> SystemSpec:
    """The system called ``name``.

    Raises
    ------
    ConfigError
        No such system (the message lists the known ones).
    """
    known = systems()
    if name not in known:
        raise ConfigError(f"unknown system {name!r}; known: {', '.join(known) or 'none'}")
    return known[name]


def bench_suites() -> dict[str, tuple[SystemSpec, BenchSuite]]:
    """Every system's bench suites by command name.

    A suite is listed under its own name and, for a system none of whose suites is named after
    it, the system's first suite also under the system's name (``isaclearn bench temiz_unsup``).
    """
    out: dict[str, tuple[SystemSpec, BenchSuite]] = {}
    for spec in systems().values():
        for suite in spec.bench_suites:
            if suite.name in out:
                raise ConfigError(f"bench suite {suite.name!r} is declared by two systems "
                                  f"({out[suite.name][0].name} and {spec.name})")
            out[suite.name] = (spec, suite)
    for spec in systems().values():
        if spec.bench_suites and spec.name not in out:
            out[spec.name] = (spec, spec.bench_suites[0])
    return out

"""What a system module declares: its experiments, their configs, profiles and plots.

Systems are the only place that knows a specific paper, but they never write files or print:
an experiment function receives a :class:`RunContext` (implemented by
:mod:`isaclearn.experiments`) through which it reports progress, records finished sweep points
(so an interrupted run can resume) and finds the folder for checkpoints.

An experiment function has the signature ``fn(config, ctx) -> dict`` where ``config`` is an
instance of the experiment's config dataclass and the returned dict is the run's summary
(JSON-serializable). Result rows are tidy dicts: one row per method × sweep point, with the
column ``method`` naming the designer and one column per metric.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from isaclearn.core.errors import ConfigError

T = TypeVar("T")


class RunContext(Protocol):
    """The services an experiment may use while it runs."""

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

    def __init__(self, out_dir: Path | None = None, *, verbose: bool = False) -> None:
        self._out_dir = out_dir
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self.messages: list[str] = []
        self.verbose = verbose

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
        Columns printed in the summary table (all metric columns when empty).
    table_where : dict
        Only rows whose columns equal these values enter the printed table.
    """

    name: str
    fn: Callable[[Any, RunContext], dict[str, Any]]
    config_cls: type
    profiles: dict[str, dict[str, Any]]
    description: str = ""
    plots: list[PlotSpec] = field(default_factory=list)
    table_columns: list[str] = field(default_factory=list)
    table_where: dict[str, Any] = field(default_factory=dict)

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


def _parse_value(raw: str, current: Any, key: str) -> Any:
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
            return float(text)
        if isinstance(current, tuple | list):
            items = [s for s in text.strip("()[]").split(",") if s.strip()]
            elem = current[0] if len(current) else 0.0
            vals = [_parse_value(s, elem, key) for s in items]
            return type(current)(vals)
        if current is None:
            if text.lower() in ("none", "null"):
                return None
            try:
                return float(text) if any(c in text for c in ".eE") else int(text)
            except ValueError:
                return text
        return text
    except ValueError:
        raise ConfigError(
            f"--set {key}={raw}: expected a value of type {type(current).__name__}"
        ) from None


def set_field(cfg: Any, key: str, raw: str) -> Any:
    """Return a copy of the dataclass ``cfg`` with field ``key`` set from the string ``raw``."""
    names = {f.name for f in dataclasses.fields(cfg)}
    if key not in names:
        raise ConfigError(
            f"unknown config key {key!r}; known keys: {', '.join(sorted(names))}"
        )
    value = _parse_value(raw, getattr(cfg, key), key)
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

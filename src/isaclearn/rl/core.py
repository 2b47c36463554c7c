r"""The batched environment core: B independent episodes held as batch-first torch tensors and
stepped as one tensor operation.

Every face of an environment (the single-instance Gymnasium :class:`~isaclearn.rl.gym_env.CoreEnv`,
the native :class:`~isaclearn.rl.vector.CoreVectorEnv`, the Stable-Baselines3
:class:`~isaclearn.rl.sb3.SB3VecEnv`, :func:`~isaclearn.rl.rollout.rollout` and the speed
benchmark) drives one object with the interface :class:`EnvCore`:

* ``reset(*, seed=None, generator=None, mask=None, options=None) -> (obs, info)`` starts the
  episodes selected by ``mask`` (all of them by default) and returns the observation of the
  whole batch;
* ``step(action) -> (obs, reward, terminated, truncated, info)`` advances all ``B`` episodes at
  once (``reward``, ``terminated``, ``truncated`` and every ``info`` entry are ``[B]`` tensors);
* ``current_problem()`` and ``design_to_action(design)`` let a classical designer
  (``design(problem) -> Design``) act in the environment.

Episode data
------------
All the randomness of an episode is drawn when it starts, into its *episode data*: a
:class:`~isaclearn.core.problem.BatchedProblem` (one row per episode, held in
:attr:`EnvCore.episodes`). ``step`` is then a deterministic function of the episode data, the
state and the action. This is what makes the batched core equal to ``B`` single environments:
``reset(options={"scenario": core.episodes.subset([i])})`` on a core with ``B = 1`` replays
episode ``i`` exactly, and the same seed gives the same episodes to every method scored by
:func:`~isaclearn.rl.rollout.rollout`. A core whose transitions are random draws their noise
at reset into the episode data (the toy of :mod:`isaclearn.rl.envs.toy` does so).

Randomness comes only from a :class:`torch.Generator` on the core's device: ``reset(seed=s)``
makes a new one seeded with ``s``, ``reset(generator=g)`` uses ``g``, and ``reset()`` continues
with the current one (a first unseeded reset seeds it from the operating system, as Gymnasium
does).

Writing a concrete core
-----------------------
Subclass :class:`BatchedEnvCore` and provide

* ``episodes_class``: the :class:`~isaclearn.core.problem.BatchedProblem` of the episode data;
* ``config_class``: a dataclass with (at least) the fields ``device``, ``dtype`` (the complex
  dtype of the computation) and ``max_episode_steps`` (``int`` or ``None``); the constructor is
  ``Core(batch_size=1, config=None, **overrides)`` with ``overrides`` applied by
  :func:`dataclasses.replace`;
* :meth:`BatchedEnvCore.make_spaces` (single-instance Gymnasium spaces),
  :meth:`BatchedEnvCore.sample_episodes`, :meth:`BatchedEnvCore.begin` (initial state of the
  episodes just started), :meth:`BatchedEnvCore.observe` and :meth:`BatchedEnvCore.advance`
  (one step of all ``B`` episodes: reward, terminated, info);
* optionally :meth:`BatchedEnvCore.reset_info`, :meth:`BatchedEnvCore.current_problem` and
  :meth:`BatchedEnvCore.design_to_action`.

The base class owns the generator, the masks, the episode data, the step counter
:attr:`BatchedEnvCore.elapsed` and truncation (``truncated = elapsed >= max_episode_steps``).
An episode that has ended may be stepped again with the rest of the batch (the vector faces
reset it right after); a core must not fail on it, and its outputs are discarded.
"""

from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.problem import BatchedProblem
from isaclearn.core.random import make_generator

__all__ = [
    "Action",
    "BatchedEnvCore",
    "CoreView",
    "EnvCore",
    "Info",
    "Obs",
    "StepResult",
    "CoreFactory",
    "as_batched_action",
    "build_core",
    "load_core_factory",
    "replace_rows",
    "select_rows",
    "to_numpy",
]

Obs = torch.Tensor | dict[str, torch.Tensor]
"""A batch of observations: a ``[B, ...]`` tensor, or a dict of them for a Dict space."""
Action = torch.Tensor | dict[str, torch.Tensor]
"""A batch of actions: a ``[B, ...]`` tensor, or a dict of them for a Dict space."""
Info = dict[str, torch.Tensor]
"""Per-episode diagnostics: each entry a ``[B]`` tensor (real, integer or boolean)."""
StepResult = tuple[Obs, torch.Tensor, torch.Tensor, torch.Tensor, Info]
"""``(obs, reward [B], terminated [B] bool, truncated [B] bool, info)``."""

EpisodesT = TypeVar("EpisodesT", bound=BatchedProblem)
CoreFactory = Callable[..., "EnvCore"]
"""A core class, or any callable ``factory(batch_size, **kwargs) -> EnvCore``."""


# --------------------------------------------------------------------------------------------
# tree helpers (a tensor, or a dict of tensors for Dict spaces)
# --------------------------------------------------------------------------------------------


def to_numpy(x: Any) -> Any:
    """A copy of ``x`` (a tensor or a dict of tensors) as NumPy arrays on the host."""
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        return np.array(x.detach().cpu().numpy(), copy=True)
    return np.asarray(x)


def select_rows(x: Any, index: int | slice | torch.Tensor) -> Any:
    """Rows ``index`` of a batched tensor or of every tensor of a dict."""
    if isinstance(x, dict):
        return {k: select_rows(v, index) for k, v in x.items()}
    return x[index]


def _torch_dtype_of(space: spaces.Space[Any]) -> torch.dtype:
    dtype = np.dtype(space.dtype) if space.dtype is not None else np.dtype(np.float32)
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def as_batched_action(space: spaces.Space[Any], action: Any, batch_size: int,
                      device: torch.device) -> Action:
    """``action`` (NumPy or torch, for ``batch_size`` instances of the single-instance
    ``space``) as torch tensors on ``device`` with the space's dtype.

    Raises
    ------
    ShapeError
        The shape is not ``[batch_size, *space.shape]`` (per entry for a Dict space).
    ConfigError
        A Dict action misses or adds keys, or the space is of an unsupported kind.
    """
    if isinstance(space, spaces.Dict):
        if not isinstance(action, Mapping):
            raise ConfigError(f"the action must be a dict with keys {sorted(space.spaces)}, "
                              f"got {type(action).__name__}")
        if set(action) != set(space.spaces):
            raise ConfigError(f"the action must have the keys {sorted(space.spaces)}, got "
                              f"{sorted(action)}")
        out: dict[str, torch.Tensor] = {}
        for key, sub in space.spaces.items():
            value = as_batched_action(sub, action[key], batch_size, device)
            assert isinstance(value, torch.Tensor)
            out[key] = value
        return out
    if not isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.Discrete
                      | spaces.MultiBinary):
        raise ConfigError(f"unsupported action space {space}")
    dtype = _torch_dtype_of(space)
    t = torch.as_tensor(np.asarray(action) if not isinstance(action, torch.Tensor) else action)
    t = t.to(device=device, dtype=dtype)
    want = (batch_size, *(space.shape or ()))
    if tuple(t.shape) != want:
        raise ShapeError(f"the action must have shape {list(want)} ([B, *action_space.shape]), "
                         f"got shape {list(t.shape)}")
    return t


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.shape == b.shape and bool(torch.equal(a, b.to(a.device))))
    return bool(a == b)


def replace_rows(episodes: EpisodesT, index: torch.Tensor, new: EpisodesT) -> EpisodesT:
    """A copy of ``episodes`` with rows ``index`` (``[n]`` integer) replaced by the ``n`` rows
    of ``new`` (``episodes`` itself is not modified).

    Raises
    ------
    ConfigError
        ``new`` is of another class or differs in a non-batched field.
    ShapeError
        An optional batched field is ``None`` in one of them only.
    """
    if type(new) is not type(episodes):
        raise ConfigError(f"cannot put {type(new).__name__} rows into "
                          f"{type(episodes).__name__}")
    batched = set(episodes.batched_fields())
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(episodes):
        if not f.init:
            continue
        old_value, new_value = getattr(episodes, f.name), getattr(new, f.name)
        if f.name not in batched:
            if not _equal(old_value, new_value):
                raise ConfigError(f"the new episodes differ in {f.name}")
        elif (old_value is None) != (new_value is None):
            raise ShapeError(f"{f.name} is None in only one of the episode batches")
        elif old_value is not None:
            value = old_value.clone()
            value[index] = new_value.to(device=value.device, dtype=value.dtype)
            changes[f.name] = value
    return dataclasses.replace(episodes, **changes)


def load_core_factory(path: str | CoreFactory) -> CoreFactory:
    """The core class or factory named ``"package.module:name"`` (or ``path`` itself if it is
    callable). A factory is called as ``factory(batch_size, **kwargs)``.

    Raises
    ------
    ConfigError
        The module or the name does not exist, or it is not callable.
    """
    if callable(path):
        return path
    module_name, _, attr = str(path).partition(":")
    if not attr:
        raise ConfigError(f"a core is named 'package.module:name', got {path!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load the environment core {path!r}: {exc}") from None
    if not callable(factory):
        raise ConfigError(f"{path!r} is not a core class or factory")
    return factory  # type: ignore[no-any-return]


def build_core(core: str | CoreFactory, batch_size: int, **kwargs: Any) -> EnvCore:
    """``core(batch_size, **kwargs)`` after :func:`load_core_factory`, checked to be an
    :class:`EnvCore` with ``batch_size`` episodes.

    Raises
    ------
    ConfigError
        The factory does not build an :class:`EnvCore` of that batch size.
    """
    made = load_core_factory(core)(batch_size, **kwargs)
    if not isinstance(made, EnvCore) or made.batch_size != batch_size:
        raise ConfigError(f"{core!r} did not build an EnvCore with batch_size {batch_size}")
    return made


def _as_torch_dtype(value: Any) -> torch.dtype:
    if isinstance(value, torch.dtype):
        return value
    if isinstance(value, str):
        candidate = getattr(torch, value.removeprefix("torch."), None)
        if isinstance(candidate, torch.dtype):
            return candidate
    raise ConfigError(f"dtype must be torch.complex64 or torch.complex128, got {value!r}")


# --------------------------------------------------------------------------------------------
# the interface
# --------------------------------------------------------------------------------------------


class EnvCore(ABC):
    """What every face of an environment needs from a batched core (see the module docstring).

    Attributes
    ----------
    batch_size : int
        Number ``B`` of episodes run side by side.
    device : torch.device
        Device of every tensor the core returns.
    dtype : torch.dtype
        Complex dtype of the computation (``complex64`` or ``complex128``); observations and
        rewards are real with the matching precision.
    observation_space, action_space : gymnasium.spaces.Space
        Spaces of ONE instance (the batched spaces are derived by the vector faces).
    """

    batch_size: int
    device: torch.device
    dtype: torch.dtype
    observation_space: spaces.Space[Any]
    action_space: spaces.Space[Any]

    @property
    @abstractmethod
    def max_episode_steps(self) -> int | None:
        """Steps after which an episode is truncated (``None``: never)."""

    @property
    @abstractmethod
    def episodes(self) -> BatchedProblem | None:
        """Episode data of the ``B`` episodes in progress (``None`` before the first reset)."""

    @property
    @abstractmethod
    def elapsed(self) -> torch.Tensor:
        """Steps taken in each current episode, ``[B]`` int64."""

    @abstractmethod
    def reset(self, *, seed: int | None = None, generator: torch.Generator | None = None,
              mask: torch.Tensor | np.ndarray | None = None,
              options: Mapping[str, Any] | None = None) -> tuple[Obs, Info]:
        """Start new episodes; see :meth:`BatchedEnvCore.reset`."""

    @abstractmethod
    def step(self, action: Any) -> StepResult:
        """Advance all ``B`` episodes by one step; see :meth:`BatchedEnvCore.step`."""

    @abstractmethod
    def with_batch_size(self, batch_size: int) -> EnvCore:
        """A fresh core with the same configuration and ``batch_size`` episodes."""

    def current_problem(self) -> Any:
        """The problem a classical designer solves at the current step (one row per episode).

        Raises
        ------
        ConfigError
            The core has no designer interface.
        """
        raise ConfigError(f"{type(self).__name__} does not expose a Problem for designers")

    def design_to_action(self, design: Design) -> Action:
        """The batched action that applies ``design`` (from a designer given
        :meth:`current_problem`) in the environment.

        Raises
        ------
        ConfigError
            The core has no designer interface.
        """
        raise ConfigError(f"{type(self).__name__} cannot turn a Design into an action")


class CoreView(EnvCore):
    """Base of a core that wraps another (an action map, a metric recorder): it delegates the
    episode state, ``reset`` and ``current_problem`` to ``core`` and takes its sizes, device,
    dtype and observation space. A subclass implements ``step`` and ``with_batch_size``, and
    overrides ``design_to_action`` when it can express a design.

    Parameters
    ----------
    core : EnvCore
        The inner core.
    action_space : gymnasium.spaces.Space, optional
        The view's single-instance action space (default: the inner core's).
    """

    def __init__(self, core: EnvCore, action_space: spaces.Space[Any] | None = None) -> None:
        self.core = core
        self.batch_size = core.batch_size
        self.device = core.device
        self.dtype = core.dtype
        self.observation_space = core.observation_space
        self.action_space = core.action_space if action_space is None else action_space

    @property
    def max_episode_steps(self) -> int | None:
        return self.core.max_episode_steps

    @property
    def episodes(self) -> BatchedProblem | None:
        return self.core.episodes

    @property
    def elapsed(self) -> torch.Tensor:
        return self.core.elapsed

    def reset(self, *, seed: int | None = None, generator: torch.Generator | None = None,
              mask: torch.Tensor | np.ndarray | None = None,
              options: Mapping[str, Any] | None = None) -> tuple[Obs, Info]:
        return self.core.reset(seed=seed, generator=generator, mask=mask, options=options)

    def current_problem(self) -> Any:
        return self.core.current_problem()


class BatchedEnvCore(EnvCore, Generic[EpisodesT]):
    """Base class of concrete batched cores (the template of the module docstring).

    Parameters
    ----------
    batch_size : int
        Number ``B`` of episodes run side by side.
    config : config_class, optional
        The core's configuration (default ``config_class()``).
    **overrides
        Fields of ``config`` to replace (``device="cuda"``, ``dtype=torch.complex128``, ...);
        ``dtype`` may be given as a string (``"complex128"``).

    Raises
    ------
    ConfigError
        ``batch_size`` is not a positive integer, an override names no field of the config, or
        the dtype is not complex.
    """

    config_class: ClassVar[type[Any]]
    """The dataclass of the configuration (fields ``device``, ``dtype``, ``max_episode_steps``
    and the core's own)."""
    config: Any
    """The configuration (an instance of ``config_class``, overrides applied)."""
    episodes_class: ClassVar[type[BatchedProblem]]
    """The class of the episode data (what :meth:`sample_episodes` returns and what
    ``reset(options={"scenario": ...})`` accepts)."""

    def __init__(self, batch_size: int = 1, config: Any = None, **overrides: Any) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or (
                batch_size < 1):
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        base: Any = self.config_class() if config is None else config
        if not isinstance(base, self.config_class):
            raise ConfigError(f"config must be a {self.config_class.__name__}, got "
                              f"{type(base).__name__}")
        names = {f.name for f in dataclasses.fields(base)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"{type(self).__name__} has no option(s) {unknown}; known: "
                              f"{sorted(names)}")
        for required in ("device", "dtype", "max_episode_steps"):
            if required not in names:
                raise ConfigError(f"{self.config_class.__name__} lacks the field {required!r}")
        cfg = dataclasses.replace(base, **overrides)
        dtype = _as_torch_dtype(cfg.dtype)
        if dtype not in (torch.complex64, torch.complex128):
            raise ConfigError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
        self.config = dataclasses.replace(cfg, dtype=dtype, device=str(cfg.device))
        self.batch_size = int(batch_size)
        self.device = torch.device(self.config.device)
        self.dtype = dtype
        self.observation_space, self.action_space = self.make_spaces()
        self._generator: torch.Generator | None = None
        self._episodes: EpisodesT | None = None
        self._elapsed = torch.zeros(self.batch_size, dtype=torch.int64, device=self.device)

    # ---- state --------------------------------------------------------------------------

    @property
    def real_dtype(self) -> torch.dtype:
        """Real dtype matching :attr:`dtype` (``float32`` or ``float64``)."""
        return torch.float64 if self.dtype == torch.complex128 else torch.float32

    @property
    def max_episode_steps(self) -> int | None:
        value = self.config.max_episode_steps
        return None if value is None else int(value)

    @property
    def episodes(self) -> EpisodesT | None:
        return self._episodes

    @property
    def elapsed(self) -> torch.Tensor:
        return self._elapsed

    @property
    def generator(self) -> torch.Generator | None:
        """The generator the next unseeded :meth:`reset` draws from."""
        return self._generator

    def with_batch_size(self, batch_size: int) -> Self:
        return type(self)(batch_size, self.config)

    def _require_episodes(self) -> EpisodesT:
        if self._episodes is None:
            raise ConfigError(f"{type(self).__name__}: call reset() before step()")
        return self._episodes

    # ---- the public API -----------------------------------------------------------------

    def reset(self, *, seed: int | None = None, generator: torch.Generator | None = None,
              mask: torch.Tensor | np.ndarray | None = None,
              options: Mapping[str, Any] | None = None) -> tuple[Obs, Info]:
        """Start new episodes.

        Parameters
        ----------
        seed : int, optional
            Seed a new generator (``make_generator(seed, device)``) before drawing.
        generator : torch.Generator, optional
            Draw from this generator (on the core's device) from now on; exclusive with
            ``seed``.
        mask : torch.Tensor or numpy.ndarray, optional
            ``[B]`` boolean: start new episodes only where ``True`` (the others continue). The
            default starts all ``B``.
        options : dict, optional
            ``{"scenario": episodes}`` gives the episode data explicitly (an instance of the
            core's episode class with one row per episode started) instead of drawing it.

        Returns
        -------
        obs : torch.Tensor or dict
            Observations ``[B, ...]`` of the whole batch.
        info : dict of str to torch.Tensor
            ``[B]`` tensors (:meth:`reset_info`).

        Raises
        ------
        ConfigError
            ``seed`` and ``generator`` together, a generator on another device, an unknown
            option, a scenario of another class, or a mask before the first full reset.
        ShapeError
            A mask that is not ``[B]`` boolean, or a scenario whose batch does not match.
        """
        if seed is not None and generator is not None:
            raise ConfigError("reset takes seed or generator, not both")
        if seed is not None:
            self._generator = make_generator(int(seed), self.device)
        elif generator is not None:
            if generator.device.type != self.device.type:
                raise ConfigError(f"the generator is on {generator.device}, the core on "
                                  f"{self.device}")
            self._generator = generator
        elif self._generator is None:
            self._generator = torch.Generator(device=self.device)
            self._generator.seed()
        opts = dict(options or {})
        scenario = opts.pop("scenario", None)
        if opts:
            raise ConfigError(f"unknown reset option(s) {sorted(opts)}; known: ['scenario']")
        index = self._mask_index(mask)
        if index is not None and self._episodes is None:
            raise ConfigError("reset(mask=...) needs a full reset first")
        num = self.batch_size if index is None else int(index.numel())
        if num > 0:
            if scenario is None:
                new = self.sample_episodes(num, self._generator)
            else:
                new = self._check_scenario(scenario, num)
            if index is None or self._episodes is None:
                self._episodes = new
                index = torch.arange(self.batch_size, device=self.device)
            else:
                self._episodes = replace_rows(self._episodes, index, new)
            self._elapsed[index] = 0
            self.begin(index)
        return self.observe(), self.reset_info()

    def step(self, action: Any) -> StepResult:
        """Advance all ``B`` episodes by one step, as one tensor operation.

        Parameters
        ----------
        action : torch.Tensor, numpy.ndarray or dict
            ``[B, *action_space.shape]`` (a dict of them for a Dict action space).

        Returns
        -------
        obs : torch.Tensor or dict
            ``[B, ...]``, the observation after the step.
        reward : torch.Tensor
            ``[B]`` real.
        terminated, truncated : torch.Tensor
            ``[B]`` bool; ``truncated`` is ``elapsed >= max_episode_steps``.
        info : dict of str to torch.Tensor
            ``[B]`` diagnostics of the step (the metric terms of the reward).

        Raises
        ------
        ConfigError
            No reset yet, or a Dict action with the wrong keys.
        ShapeError
            The action's shape is not ``[B, *action_space.shape]``.
        """
        self._require_episodes()
        batched = as_batched_action(self.action_space, action, self.batch_size, self.device)
        reward, terminated, info = self.advance(batched)
        self._elapsed += 1
        horizon = self.max_episode_steps
        if horizon is None:
            truncated = torch.zeros_like(terminated)
        else:
            truncated = self._elapsed >= horizon
        return self.observe(), reward, terminated, truncated, info

    # ---- hooks --------------------------------------------------------------------------

    @abstractmethod
    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        """``(observation_space, action_space)`` of one instance, from :attr:`config`."""

    @abstractmethod
    def sample_episodes(self, num: int, generator: torch.Generator) -> EpisodesT:
        """Episode data of ``num`` new episodes, drawn with ``generator`` only."""

    @abstractmethod
    def begin(self, index: torch.Tensor) -> None:
        """Set the state of the episodes ``index`` (``[n]`` int64, their data already in
        :attr:`episodes`) to their start; :attr:`elapsed` is already 0 there."""

    @abstractmethod
    def observe(self) -> Obs:
        """Observation ``[B, ...]`` of the current state (a new tensor each call)."""

    @abstractmethod
    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        """One step of all ``B`` episodes (:attr:`elapsed` not yet incremented).

        Returns ``(reward [B], terminated [B] bool, info)``.
        """

    def reset_info(self) -> Info:
        """Info returned by :meth:`reset` (``[B]`` tensors); empty by default."""
        return {}

    def validate_episodes(self, episodes: EpisodesT) -> None:
        """Raise (:class:`ShapeError`, :class:`ConfigError`) if explicit episode data given
        to :meth:`reset` does not fit the configuration; accepts anything by default."""

    # ---- checks -------------------------------------------------------------------------

    def _mask_index(self, mask: torch.Tensor | np.ndarray | None) -> torch.Tensor | None:
        if mask is None:
            return None
        m = torch.as_tensor(mask, device=self.device)
        if m.dtype != torch.bool or tuple(m.shape) != (self.batch_size,):
            raise ShapeError(f"mask must be a boolean tensor of shape [{self.batch_size}], got "
                             f"{m.dtype} of shape {list(m.shape)}")
        return m.nonzero().squeeze(1)

    def _check_scenario(self, scenario: Any, num: int) -> EpisodesT:
        if type(scenario) is not self.episodes_class:
            raise ConfigError(f"options['scenario'] must be a {self.episodes_class.__name__}, "
                              f"got {type(scenario).__name__}")
        if scenario.batch_size != num:
            raise ShapeError(f"options['scenario'] holds {scenario.batch_size} episodes, the "
                             f"reset starts {num}")
        out = cast(EpisodesT, scenario.to(self.device, self.dtype))
        self.validate_episodes(out)
        return out

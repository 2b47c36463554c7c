r"""Core-level action transforms: :class:`BoxActionCore`, a view of a core whose action is ONE
flat ``Box(-1, 1, (n,))``, for learners without Dict or discrete actions (Stable-Baselines3,
spec §8).

The inner action space is a ``Dict`` (or a single space) of ``Box``, ``MultiDiscrete``,
``Discrete`` and ``MultiBinary`` entries. Each entry that is not fixed takes its components of
the flat action, in the order of the Dict's keys:

* ``Box(low, high)`` (finite bounds): ``a = low + (u + 1) (high - low) / 2`` per component;
* ``MultiDiscrete(nvec, start)`` / ``Discrete(n, start)``: one component per choice, quantized
  to ``i = start + min(floor((u + 1) n / 2), n - 1)`` (the quantized-Box reading of a discrete
  action: ``n`` equal bins of ``[-1, 1]``);
* ``MultiBinary(n)``: ``u > 0``.

An entry named in ``fixed`` takes no components and always receives its fixed value (e.g. the
IRS phases of a fixed-phase environment). :meth:`BoxActionCore.design_to_action` inverts the
map (discrete choices to the centre of their bin), so classical designers still act through it.

Examples
--------
>>> import torch
>>> from isaclearn.rl.envs.toy import ToyBeamCore
>>> view = BoxActionCore(ToyBeamCore(2, action="dict"))
>>> view.action_space.shape  # 16 precoder reals + 2 power levels
(18,)
>>> fixed = BoxActionCore(ToyBeamCore(2, action="dict"), fixed={"levels": [3, 3]})
>>> fixed.action_space.shape
(16,)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ValueRangeError
from isaclearn.rl.core import (
    Action,
    CoreFactory,
    CoreView,
    EnvCore,
    StepResult,
    as_batched_action,
    build_core,
)

__all__ = ["BoxActionCore", "box_action_core"]


@dataclass(frozen=True)
class _Part:
    """One entry of the inner action: where its components lie in the flat action."""

    key: str | None
    space: spaces.Space[Any]
    start: int
    size: int


class BoxActionCore(CoreView):
    """A core whose action is one flat ``Box(-1, 1)`` mapped onto the inner core's action.

    Parameters
    ----------
    core : EnvCore
        The inner core.
    fixed : mapping, optional
        Dict keys of the inner action held at a fixed single-instance value (the same for
        every episode), which then take no components of the flat action.

    Raises
    ------
    ConfigError
        An inner space of an unsupported kind, a Box with infinite bounds, or a fixed key the
        inner action does not have.
    ValueRangeError
        A fixed value outside its space.
    """

    def __init__(self, core: EnvCore, *, fixed: Mapping[str, Any] | None = None) -> None:
        super().__init__(core)
        self.fixed = dict(fixed or {})
        inner = core.action_space
        entries: dict[str | None, spaces.Space[Any]] = {None: inner}
        if isinstance(inner, spaces.Dict):
            entries = {str(k): v for k, v in inner.spaces.items()}
        unknown = sorted(set(self.fixed) - {k for k in entries if k is not None})
        if unknown:
            raise ConfigError(f"fixed names {unknown}, which the action {inner} does not have")
        self._fixed_values: dict[str, torch.Tensor] = {}
        parts: list[_Part] = []
        offset = 0
        for key, space in entries.items():
            if key is not None and key in self.fixed:
                value = np.asarray(self.fixed[key], dtype=space.dtype)
                if not space.contains(value):
                    raise ValueRangeError(f"fixed[{key!r}] = {self.fixed[key]!r} is not in "
                                          f"{space}")
                self._fixed_values[key] = torch.as_tensor(value, device=core.device)
                continue
            size = _num_components(space)
            parts.append(_Part(key, space, offset, size))
            offset += size
        if offset == 0:
            raise ConfigError("every entry of the action is fixed: nothing is left to act on")
        self._parts = tuple(parts)
        np_dtype = np.float64 if core.dtype == torch.complex128 else np.float32
        self.action_space = spaces.Box(-1.0, 1.0, shape=(offset,), dtype=np_dtype)

    def with_batch_size(self, batch_size: int) -> BoxActionCore:
        return BoxActionCore(self.core.with_batch_size(batch_size), fixed=self.fixed)

    def step(self, action: Any) -> StepResult:
        flat = as_batched_action(self.action_space, action, self.batch_size, self.device)
        assert isinstance(flat, torch.Tensor)
        return self.core.step(self.to_inner(flat))

    def design_to_action(self, design: Design) -> Action:
        return self.from_inner(self.core.design_to_action(design))

    # ---- the map ------------------------------------------------------------------------

    def to_inner(self, flat: torch.Tensor) -> Action:
        """The inner action for the flat actions ``[B, n]`` (see the module docstring)."""
        u = flat.clamp(-1.0, 1.0)
        out: dict[str | None, torch.Tensor] = {}
        b = flat.shape[0]
        for part in self._parts:
            x = u[:, part.start:part.start + part.size]
            out[part.key] = _decode(part.space, x, b)
        for key, value in self._fixed_values.items():
            out[key] = value.expand(b, *value.shape)
        if None in out:
            return out[None]
        return {str(k): v for k, v in out.items()}

    def from_inner(self, action: Action) -> torch.Tensor:
        """The flat action ``[B, n]`` that :meth:`to_inner` maps to ``action`` (fixed entries
        are dropped; discrete choices go to the centre of their bin)."""
        inner = as_batched_action(self.core.action_space, action, self.batch_size, self.device)
        pieces = []
        for part in self._parts:
            value = inner[part.key] if isinstance(inner, dict) and part.key is not None else inner
            assert isinstance(value, torch.Tensor)
            pieces.append(_encode(part.space, value, self.batch_size))
        dtype = torch.float64 if self.dtype == torch.complex128 else torch.float32
        return torch.cat([p.to(dtype) for p in pieces], dim=1)


def _num_components(space: spaces.Space[Any]) -> int:
    if isinstance(space, spaces.Box):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ConfigError(f"a Box with infinite bounds cannot be mapped onto [-1, 1]: "
                              f"{space}")
        return int(math.prod(space.shape))
    if isinstance(space, spaces.MultiDiscrete):
        if space.nvec.ndim != 1:
            raise ConfigError(f"only 1-D MultiDiscrete spaces are supported, got {space}")
        return int(space.nvec.shape[0])
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.MultiBinary):
        return int(math.prod(space.shape))
    raise ConfigError(f"unsupported action space entry {space}")


def _bins(n: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    idx = torch.floor((u + 1.0) * n.to(u.dtype) / 2.0).to(torch.int64)
    return torch.minimum(idx.clamp_min(0), n - 1)


def _decode(space: spaces.Space[Any], u: torch.Tensor, b: int) -> torch.Tensor:
    dev = u.device
    if isinstance(space, spaces.Box):
        low = torch.as_tensor(space.low, device=dev, dtype=u.dtype).reshape(-1)
        high = torch.as_tensor(space.high, device=dev, dtype=u.dtype).reshape(-1)
        a = low + (u + 1.0) * (high - low) / 2.0
        dtype = torch.from_numpy(np.zeros(0, dtype=space.dtype)).dtype
        return a.reshape(b, *space.shape).to(dtype)
    if isinstance(space, spaces.MultiDiscrete):
        n = torch.as_tensor(space.nvec, device=dev, dtype=torch.int64)
        start = torch.as_tensor(space.start, device=dev, dtype=torch.int64)
        return start + _bins(n, u)
    if isinstance(space, spaces.Discrete):
        n = torch.as_tensor(int(space.n), device=dev)
        return int(space.start) + _bins(n, u[:, 0])
    if isinstance(space, spaces.MultiBinary):
        return (u > 0).to(torch.int8).reshape(b, *space.shape)
    raise ConfigError(f"unsupported action space entry {space}")


def _encode(space: spaces.Space[Any], a: torch.Tensor, b: int) -> torch.Tensor:
    dev = a.device
    if isinstance(space, spaces.Box):
        x = a.reshape(b, -1).to(torch.float64)
        low = torch.as_tensor(space.low, device=dev, dtype=torch.float64).reshape(-1)
        high = torch.as_tensor(space.high, device=dev, dtype=torch.float64).reshape(-1)
        return (2.0 * (x - low) / (high - low) - 1.0).clamp(-1.0, 1.0)
    if isinstance(space, spaces.MultiDiscrete | spaces.Discrete):
        n = torch.as_tensor(space.nvec if isinstance(space, spaces.MultiDiscrete)
                            else int(space.n), device=dev, dtype=torch.float64)
        start = torch.as_tensor(space.start, device=dev, dtype=torch.float64)
        i = a.reshape(b, -1).to(torch.float64) - start
        return (2.0 * i + 1.0) / n - 1.0
    if isinstance(space, spaces.MultiBinary):
        return a.reshape(b, -1).to(torch.float64) - 0.5
    raise ConfigError(f"unsupported action space entry {space}")


def box_action_core(batch_size: int = 1, *, inner: str | CoreFactory,
                    fixed: Mapping[str, Any] | None = None, **kwargs: Any) -> BoxActionCore:
    """``BoxActionCore(inner(batch_size, **kwargs), fixed=fixed)``: a factory to register a
    Box view with :func:`~isaclearn.rl.registry.register_core`, e.g.
    ``register_core("isaclearn/ToyBeamBox-v0", "isaclearn.rl.actions:box_action_core",
    inner="isaclearn.rl.envs.toy:ToyBeamCore", action="dict", fixed={"levels": [3, 3]})``."""
    return BoxActionCore(build_core(inner, batch_size, **kwargs), fixed=fixed)

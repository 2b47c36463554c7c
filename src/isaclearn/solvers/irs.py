r"""Classical designers for the IRS-aided ISAC problem
(:class:`~isaclearn.channels.irs.IrsIsacProblem`): fixed IRS phases plus a transmit precoder on
the effective channel (liu_irs_ppo spec §4).

* :class:`FixedPhases` turns any MISO designer (``design(DownlinkProblem) -> Design``: MRT, ZF,
  MMSE, WMMSE of :mod:`isaclearn.solvers.designers`) into an IRS designer: it fixes the IRS
  phases (Alg. 1's random :math:`\mathbf V^0` of the problem, fresh random phases, single-user
  co-phasing, given phases, or the IRS off), forms the effective channel (12), runs the inner
  designer at total power :math:`P_{\max}` and meets the per-antenna budget (22)
  :math:`[\mathbf W\mathbf W^H]_{mm} \le P_{\max}/M`.
* :func:`without_irs` is the "without IRS" baseline of Fig. 9: :math:`\mathbf V = 0`.
* :class:`MimoWmmse` is the matrix WMMSE of Fig. 10 on the MIMO effective channels (42).

Power rule (22)
---------------
``power_rule="uniform"`` (default, spec §4) scales the whole precoder by one factor so that
:math:`\max_m[\mathbf W\mathbf W^H]_{mm} = P_{\max}/M`
(:func:`~isaclearn.core.linalg.scale_to_per_antenna_power`): beam directions and the ZF
structure are kept, the total power is at most :math:`P_{\max}`. ``"project"`` applies the
Euclidean projection onto (22) (:func:`~isaclearn.core.linalg.project_per_antenna_power`, row
scaling), which keeps more power but bends the beams. In MIMO (43) the rule applies per user.

Notes
-----
The inner designer sees the effective channel divided by :math:`\sigma` and unit noise. MRT,
ZF, MMSE and WMMSE are invariant under :math:`(\mathbf h, \sigma^2) \to (\mathbf h/s,
\sigma^2/s^2)`, and the THz channels (:math:`|h| \sim 10^{-8}`) would otherwise sit near the
limits of complex64 arithmetic in the solvers' tolerances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.channels.irs import (
    IrsIsacProblem,
    co_phasing_phases,
    effective_channel,
    phases_from_indices,
    quantize_phases,
)
from isaclearn.core.design import Design, Designer
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import project_per_antenna_power, scale_to_per_antenna_power
from isaclearn.core.random import make_generator
from isaclearn.solvers.mimo_wmmse import mimo_wmmse

__all__ = ["FixedPhases", "MimoWmmse", "PhaseChoice", "PowerRule", "choose_phases",
           "meet_per_antenna_budget", "without_irs"]

PhaseChoice = Literal["initial", "random", "co_phasing", "off"]
PowerRule = Literal["uniform", "project"]
_CHOICES = ("initial", "random", "co_phasing", "off")


def meet_per_antenna_budget(w: torch.Tensor, p_max: float, rule: PowerRule) -> torch.Tensor:
    """Apply the power rule of the module docstring to ``w`` ``[..., M, K]`` (per user for
    ``[B, K, M, N]``)."""
    if rule == "uniform":
        return scale_to_per_antenna_power(w, p_max)
    if rule == "project":
        return project_per_antenna_power(w, p_max)
    raise ConfigError(f"power_rule must be 'uniform' or 'project', got {rule!r}")


def choose_phases(
    problem: IrsIsacProblem,
    phases: PhaseChoice | torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    user: int = 0,
    quantize: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""IRS phases and reflection coefficients for a fixed-phase baseline.

    Parameters
    ----------
    problem : IrsIsacProblem
        The instances.
    phases : {"initial", "random", "co_phasing", "off"} or torch.Tensor
        ``"initial"``: the problem's :math:`\mathbf V^0` (Alg. 1, uniform in
        :math:`[-\pi/2, \pi/2]`, drawn with the channels); ``"random"``: fresh phases uniform in
        :math:`[-\pi/2, \pi/2]` from ``generator``; ``"co_phasing"``: the single-user co-phasing
        of :func:`~isaclearn.channels.irs.co_phasing_phases` for user ``user`` (its first
        receive antenna in MIMO); ``"off"``: :math:`\mathbf V = 0`; a real tensor ``[E]`` or
        ``[B, E]``: given phases (radians); an integer tensor: phase indices of (30).
    generator : torch.Generator, optional
        Source of ``"random"`` phases.
    user : int
        User for ``"co_phasing"``.
    quantize : bool
        Round the phases to the nearest ``b``-bit level of (30).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Phases ``[B, E]`` (real, radians; zeros for ``"off"``) and reflection coefficients
        :math:`v_n = \gamma(\beta_n)e^{j\beta_n}` ``[B, E]`` (complex; zeros for ``"off"``).
    """
    b, e = problem.batch_size, problem.num_irs_elements
    rdt = real_dtype(problem.h1.dtype)
    dev = problem.h1.device
    if isinstance(phases, torch.Tensor):
        if phases.is_complex():
            raise ShapeError("phases must be real (radians) or integer indices, not complex")
        if phases.is_floating_point():
            beta = phases.to(device=dev, dtype=rdt)
        else:
            beta = phases_from_indices(phases.to(dev), problem.phase_bits,
                                       levels=problem.phase_levels, dtype=rdt)
        if beta.dim() == 1:
            beta = beta.expand(b, -1)
        if tuple(beta.shape) != (b, e):
            raise ShapeError(f"phases must have shape [E] or [B, E] = {(b, e)}, got "
                             f"{tuple(phases.shape)}")
    elif phases == "off":
        beta = torch.zeros((b, e), dtype=rdt, device=dev)
        return beta, torch.zeros((b, e), dtype=problem.h1.dtype, device=dev)
    elif phases == "initial":
        beta = problem.phases0.to(rdt)
    elif phases == "random":
        u = torch.rand((b, e), generator=generator, dtype=torch.float64,
                       device=generator.device if generator is not None else dev)
        beta = ((u - 0.5) * math.pi).to(device=dev, dtype=rdt)
    elif phases == "co_phasing":
        k = problem.num_users
        if not 0 <= int(user) < k:
            raise ConfigError(f"user must lie in [0, {k - 1}], got {user}")
        if problem.is_mimo:
            h0, h2 = problem.h0[:, user, :, 0], problem.h2[:, user, :, 0]
        else:
            h0, h2 = problem.h0[:, :, user], problem.h2[:, :, user]
        beta = co_phasing_phases(h0, problem.h1, h2).to(rdt)
    else:
        raise ConfigError(f"phases must be one of {_CHOICES} or a tensor, got {phases!r}")
    if quantize:
        idx = quantize_phases(beta, problem.phase_bits, levels=problem.phase_levels)
        beta = phases_from_indices(idx, problem.phase_bits, levels=problem.phase_levels,
                                   dtype=rdt)
    return beta, problem.reflection(beta)


class _PhaseMixin:
    """The phase choice shared by the IRS designers (a lazily seeded generator for
    ``"random"``)."""

    _generator: torch.Generator | None

    def _phases(self, problem: IrsIsacProblem, phases: PhaseChoice | torch.Tensor, seed: int,
                user: int, quantize: bool) -> tuple[torch.Tensor, torch.Tensor]:
        gen = None
        if isinstance(phases, str) and phases == "random":
            gen = self._generator
            if gen is None or gen.device != problem.h1.device:
                gen = make_generator(seed, problem.h1.device)
                self._generator = gen
        return choose_phases(problem, phases, generator=gen, user=user, quantize=quantize)


def _check_choice(phases: Any) -> None:
    if not isinstance(phases, torch.Tensor) and phases not in _CHOICES:
        raise ConfigError(f"phases must be one of {_CHOICES} or a tensor, got {phases!r}")


@dataclass
class FixedPhases(_PhaseMixin):
    r"""An IRS designer from a MISO designer: fixed IRS phases, then the inner precoder on the
    effective channel (12), then the per-antenna budget (22).

    Attributes
    ----------
    designer : Designer
        Any MISO designer taking a :class:`~isaclearn.channels.DownlinkProblem` (reads ``csi``,
        ``power``, ``noise_var``): ``MRT()``, ``ZF()``, ``MMSE()``, ``WMMSE()``.
    phases : {"initial", "random", "co_phasing", "off"} or torch.Tensor
        IRS phases (:func:`choose_phases`); default the problem's Alg. 1 :math:`\mathbf V^0`, so
        that every method scored on the same problem sees the same :math:`\mathbf V^0`.
    power_rule : {"uniform", "project"}
        How (22) is met (module docstring); the inner designer runs at
        :math:`\|\mathbf W\|_F^2 = P_{\max}`.
    quantize : bool
        Round the phases to the ``b``-bit levels of (30) (default False: Alg. 1's
        :math:`\mathbf V^0` is continuous).
    co_phasing_user : int
        User whose link ``"co_phasing"`` aligns.
    seed : int
        Seed of the generator of ``"random"`` phases (created on the first call, then advanced
        by every call).
    name : str
        Result label; default ``"<inner>+<phases>"`` (e.g. ``"mrt+initial"``, ``"zf+off"``).

    Examples
    --------
    >>> from isaclearn.channels.irs import IrsIsacConfig, IrsIsacScenario
    >>> from isaclearn.core import make_generator
    >>> from isaclearn.solvers import MRT
    >>> p = IrsIsacScenario(IrsIsacConfig()).sample(2, generator=make_generator(0))
    >>> d = FixedPhases(MRT()).design(p)
    >>> d.w.shape, d.extras["reflection"].shape, FixedPhases(MRT()).name
    (torch.Size([2, 5, 4]), torch.Size([2, 16]), 'mrt+initial')
    """

    designer: Designer
    phases: PhaseChoice | torch.Tensor = "initial"
    power_rule: PowerRule = "uniform"
    quantize: bool = False
    co_phasing_user: int = 0
    seed: int = 0
    name: str = ""
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_choice(self.phases)
        if self.power_rule not in ("uniform", "project"):
            raise ConfigError(f"power_rule must be 'uniform' or 'project', got "
                              f"{self.power_rule!r}")
        if not self.name:
            label = "given" if isinstance(self.phases, torch.Tensor) else self.phases
            self.name = f"{getattr(self.designer, 'name', 'designer')}+{label}"

    def design(self, problem: IrsIsacProblem) -> Design:
        """Precoder ``w`` ``[B, M, K]`` meeting (22); ``extras`` holds ``phases`` ``[B, E]``
        (radians) and ``reflection`` ``[B, E]`` (complex :math:`v_n`); ``info`` holds the inner
        designer's ``info`` under ``"inner"``."""
        if problem.is_mimo:
            raise ConfigError("FixedPhases wraps MISO designers; use MimoWmmse for a MIMO "
                              "problem")
        beta, v = self._phases(problem, self.phases, self.seed, self.co_phasing_user,
                               self.quantize)
        h = effective_channel(problem, v)
        scale = math.sqrt(problem.noise_var)
        inner = DownlinkProblem(h=h / scale, theta=problem.target_angles, power=problem.p_max,
                                noise_var=1.0)
        d = self.designer.design(inner)
        w = meet_per_antenna_budget(d.w, problem.p_max, self.power_rule)
        return Design(w=w, extras={"phases": beta, "reflection": v},
                      info={"inner": d.info, "irs": "given" if isinstance(
                          self.phases, torch.Tensor) else self.phases})


def without_irs(designer: Designer, *, power_rule: PowerRule = "uniform") -> FixedPhases:
    """The "without IRS" baseline (Fig. 9): ``designer`` on the direct channel, ``V = 0``.

    Examples
    --------
    >>> from isaclearn.solvers import ZF
    >>> without_irs(ZF()).name
    'zf+off'
    """
    return FixedPhases(designer, phases="off", power_rule=power_rule)


@dataclass
class MimoWmmse(_PhaseMixin):
    r"""Matrix WMMSE (:func:`~isaclearn.solvers.mimo_wmmse.mimo_wmmse`) on the MIMO effective
    channels :math:`\mathbf H_k = \mathbf H_{0,k}^H + \mathbf H_{2,k}^H\mathbf V\mathbf H_1`
    with fixed IRS phases: the WMMSE baseline of Fig. 10 (spec §4, §6.17).

    Attributes
    ----------
    phases : {"initial", "random", "co_phasing", "off"} or torch.Tensor
        IRS phases (:func:`choose_phases`; default the problem's :math:`\mathbf V^0`).
    budget : {"total", "per_user"}
        Sum-power budget of the WMMSE run: :math:`P_{\max}` (``"total"``, spec §4) or
        :math:`K P_{\max}` (``"per_user"``: the total that (43)'s per-user budgets allow,
        spec §6.16).
    power_rule : {"uniform", "project"}
        How each user's :math:`\mathbf W_k` then meets :math:`[\mathbf W_k\mathbf W_k^H]_{mm}
        \le P_{\max}/M` (43); ``"uniform"`` scales each user to equality (spec §4: "scaled to
        (22)").
    num_streams : int or None
        Streams per user (default ``N``).
    max_iter, tol : int, float
        WMMSE stopping rule.
    quantize, co_phasing_user, seed
        As in :class:`FixedPhases`.
    name : str
        Result label (default ``"wmmse_mimo+<phases>"``).
    """

    phases: PhaseChoice | torch.Tensor = "initial"
    budget: Literal["total", "per_user"] = "total"
    power_rule: PowerRule = "uniform"
    num_streams: int | None = None
    max_iter: int = 100
    tol: float = 1e-6
    quantize: bool = False
    co_phasing_user: int = 0
    seed: int = 0
    name: str = ""
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_choice(self.phases)
        if self.budget not in ("total", "per_user"):
            raise ConfigError(f"budget must be 'total' or 'per_user', got {self.budget!r}")
        if self.power_rule not in ("uniform", "project"):
            raise ConfigError(f"power_rule must be 'uniform' or 'project', got "
                              f"{self.power_rule!r}")
        if not self.name:
            label = "given" if isinstance(self.phases, torch.Tensor) else self.phases
            self.name = f"wmmse_mimo+{label}"

    def design(self, problem: IrsIsacProblem) -> Design:
        """Per-user precoders ``w`` ``[B, K, M, S]`` meeting (43)'s per-antenna budgets;
        ``extras`` holds ``phases`` and ``reflection`` ``[B, E]``; ``info`` the WMMSE
        ``objective`` trace (on the effective channel, before the power rule),
        ``iterations`` and ``converged``."""
        if not problem.is_mimo:
            raise ConfigError("MimoWmmse needs a MIMO problem; use FixedPhases(WMMSE()) for "
                              "MISO")
        beta, v = self._phases(problem, self.phases, self.seed, self.co_phasing_user,
                               self.quantize)
        h = effective_channel(problem, v)  # [B, K, N, M]
        total = problem.p_max * (problem.num_users if self.budget == "per_user" else 1)
        w, info = mimo_wmmse(h, total, problem.noise_var, num_streams=self.num_streams,
                             max_iter=self.max_iter, tol=self.tol, return_info=True)
        w = meet_per_antenna_budget(w, problem.p_max, self.power_rule)
        return Design(w=w, extras={"phases": beta, "reflection": v},
                      info={"objective": info.objective, "iterations": info.iterations,
                            "converged": info.converged})

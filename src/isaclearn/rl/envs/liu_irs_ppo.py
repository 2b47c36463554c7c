r"""IRS-aided THz ISAC environments of liu_irs_ppo (``shared/papers/001_...txt``, Alg. 1/2; spec
§3 "MDP"): :class:`IrsIsacMisoCore` (``K`` single-antenna users) and :class:`IrsIsacMimoCore`
(``K`` users with ``N`` receive antennas each, §IV-A).

The scenario, its channels and the effective channel come from :mod:`isaclearn.channels.irs`;
the rates, the beampattern error (its lag-sum form
:func:`~isaclearn.metrics.pattern.ula_beampattern_mse`, equal to ``beampattern_mse``) and the
power from :mod:`isaclearn.metrics`, and the Lagrangian reward from
:func:`isaclearn.rl.primal_dual.lagrangian_reward`, so the env reward and the reported metrics
cannot drift apart.

Episode data
    One :class:`~isaclearn.channels.irs.IrsIsacProblem` row per episode, drawn at reset by
    ``IrsIsacScenario.sample``: :math:`\mathbf H_0, \mathbf H_1, \mathbf H_2` (fixed for the
    episode, redrawn per episode, Alg. 1) and the initial phases :math:`\mathbf V^0` (uniform in
    :math:`[-\pi/2, \pi/2]`). ``step`` is deterministic given the episode data.
Action space
    ``Dict(w=Box(-1, 1, (2 M K,)), phases=MultiDiscrete([2^b] * E))`` (MISO) or
    ``Dict(w=Box(-1, 1, (2 K M N,)), phases=...)`` (MIMO).

    * ``w``: :math:`\mathbf U` as ``[Re U.flatten(), Im U.flatten()]`` (row-major; MISO
      ``U`` ``[M, K]``, entry ``(m, k)`` at ``m K + k``; MIMO ``U`` ``[K, M, N]``, the per-user
      :math:`\mathbf W_k` of (40)), clipped to ``[-1, 1]``; the precoder is
      :math:`\mathbf W = \mathrm{Proj}_{(22)}(\sqrt{P_{\max}/M}\,\mathbf U)`, the projection of
      :func:`~isaclearn.core.linalg.project_per_antenna_power` (rows whose power exceeds
      :math:`P_{\max}/M` are scaled onto it; per user in MIMO, (43)). The scale makes every
      feasible :math:`\mathbf W` reachable: a feasible row has norm at most
      :math:`\sqrt{P_{\max}/M}`, so its ``U`` entries lie in ``[-1, 1]``.
    * ``phases``: indices :math:`i_n \in \{0,\dots,2^b-1\}` (out-of-range values are clipped);
      :math:`\beta_n` by (30) and :math:`\gamma_n` by (3) give :math:`\mathbf V^{t+1}`.
      ``phases="initial"`` (config) ignores them and keeps :math:`\mathbf V^0` of the episode
      (the fixed-phase env of the "PD-PPO μ = 0 vs SB3 PPO" check, and of the MRT/ZF/WMMSE
      baselines with random :math:`\mathbf V^0`, spec §4); ``phases="off"`` ignores them and
      sets :math:`\mathbf V = 0` (the "without IRS" env of Fig. 9).
Observation space
    ``Box(-inf, inf, (2 K M,))`` (MISO) or ``(2 K N M,)`` (MIMO): the effective channel
    :math:`\mathbf H^t` of (12) (rows :math:`\mathbf h_k^H`, ``[K, M]``; MIMO ``[K, N, M]``,
    :func:`~isaclearn.channels.irs.effective_channel`) as ``[Re H.flatten(), Im H.flatten()]``,
    multiplied by the constant :math:`\sqrt{P_{\max}/\sigma^2}` (:attr:`IrsIsacCore.obs_scale`),
    so that :math:`\|\text{row } k\|^2` is user ``k``'s SNR with a matched beam at total power
    :math:`P_{\max}`: O(1) values, where the raw THz channels are ~1e-8. ``float32``
    (``float64`` for ``dtype=complex128``).
Transition
    :math:`\mathbf H^{t+1} = \mathbf H_0^H + \mathbf H_2^H\mathbf V^{t+1}\mathbf H_1`
    (deterministic). The reward scores the step's :math:`\mathbf W` on :math:`\mathbf H^{t+1}`,
    the channel the step's phases create, so that a designer choosing :math:`\mathbf V` and
    :math:`\mathbf W` together (``FixedPhases``) is scored on its own channel; the observation
    after the step is :math:`\mathbf H^{t+1}`.
Reward
    The Lagrangian reward of the primal-dual recast (spec §3, §6.3):

    .. math::
        r_t = \sum_k \lambda_k \,\mathrm{rate}_k + \sum_s \mu_s(\ell - L_{r,s}),

    MISO: :math:`\mathrm{rate}_k = \log_2(1+\mathrm{SINR}_k)` (13) and one sensing term
    :math:`L_r(\mathbf W\mathbf W^H)` (16); MIMO: the log-det rate of user ``k`` (spec §2) and
    one term per user, :math:`\mu_k(\ell - L_r(\mathbf R_k))` (spec §3 MIMO worker, §6.16).
    ``λ`` (``[K]``) and ``μ`` (``[1]`` MISO, ``[K]`` MIMO) are the attributes :attr:`lam` and
    :attr:`mu`, set by the agent (:meth:`IrsIsacCore.set_multipliers`) after each dual update;
    defaults ``λ = 1``, ``μ = 0`` (config ``lam_init``, ``mu_init``), i.e. the sum rate.
Info (all ``[B]``)
    ``sum_rate`` (bit/s/Hz), ``rate_0 … rate_{K-1}`` (per-user rates, the :math:`\hat{\mathbb
    E}\mathbf f_1` of the dual step (35)), ``beampattern_mse`` (:math:`L_r`; MIMO: the mean
    over users of :math:`L_r(\mathbf R_k)`, with ``beampattern_mse_0 …`` per user), ``power``
    (:math:`\mathrm{tr}\,\mathbf R`, watts; MIMO: the mean over users of
    :math:`\mathrm{tr}\,\mathbf R_k`), ``per_antenna_violation`` (the largest excess of (22),
    watts; 0 after the projection, kept as an invariant), ``lambda`` (mean of λ), ``mu`` (mean
    of μ), ``cascade_direct_ratio`` (:math:`\|\mathbf H_2^H\mathbf V\mathbf H_1\|_F^2 /
    \|\mathbf H_0^H\|_F^2` with the phases in use, spec §2).
Starting state
    New channels and :math:`\mathbf V^0`; the first observation is :math:`\mathbf H^0` with
    :math:`\mathbf V^0` (:math:`\mathbf V = 0` for ``phases="off"``).
Episode end
    Never terminated; truncated after ``max_episode_steps`` = 50 steps (§VI).

Per-user observation (``observation="user"``, MISO)
    The literal reading of Alg. 1 and §VI-A ("obtains each user's channel state
    :math:`\mathbf H_k \in \mathbb C^{M}` in turn within each episode", spec §6.14). The
    state holds ``U`` ``[M, K]``, set at the episode start to the equal beamforming
    :math:`1/\sqrt K` in every entry (Alg. 1: "equal initial beamforming to each user"; row
    power :math:`P_{\max}/M`, total :math:`P_{\max}`). Step ``t`` serves user
    ``k = t mod K`` (:attr:`IrsIsacCore.user`): the observation is row ``k`` of
    :math:`\mathbf H^t` (``Box(2 M)``, the same scale), the ``w`` action is column ``k`` of
    ``U`` (``Box(-1, 1, (2 M,))``, ``[Re, Im]``), which replaces that column of the held ``U``;
    the step's precoder is :math:`\mathrm{Proj}_{(22)}(\sqrt{P_{\max}/M}\,\mathbf U)` of
    the whole held ``U``, and the reward, the phase action and ``info`` are those of the joint
    env. The observation does not show the other columns (the literal Alg. 1 feeds only
    :math:`\mathbf H_k`), so the MDP is partially observed and, unlike the joint env, an
    action changes later rewards (the column stays until user ``k``'s next turn).

Registered (by :mod:`isaclearn.rl.envs`): ``isaclearn/IrsIsacMiso-v0``,
``isaclearn/IrsIsacMimo-v0`` (Dict actions), ``isaclearn/IrsIsacMisoUser-v0``
(``observation="user"``), and for Stable-Baselines3 (no Dict actions, spec
§8) ``isaclearn/IrsIsacMisoBox-v0`` (one Box: the ``w`` reals then one quantized-Box component
per IRS element, :class:`~isaclearn.rl.actions.BoxActionCore`) and
``isaclearn/IrsIsacMisoFixedBox-v0`` (``phases="initial"``: only ``w``, the IRS held at each
episode's :math:`\mathbf V^0`).

Designers
    :meth:`IrsIsacCore.current_problem` is the episode's problem with ``phases0`` replaced by
    the phases in use at this step (for ``phases="off"``, with ``h2 = 0``, so every designer
    sees the direct channel only). ``FixedPhases(MRT())`` (``phases="initial"``) then keeps
    the current IRS state. :meth:`IrsIsacCore.design_to_action` maps ``design.w`` back to
    ``U`` and ``design.extras["phases"]`` to the nearest indices of (30): exact for designs
    that meet (22) and use quantized phases (``FixedPhases(..., quantize=True)``); continuous
    phases (Alg. 1's :math:`\mathbf V^0`) are applied exactly only by a ``phases="initial"``
    env.

:func:`irs_miso_step_numpy` / :class:`IrsIsacMisoNumpy` are a per-sample NumPy implementation
of the MISO step (explicit loops over users), the oracle of the tests and the reference of
``isaclearn bench rl``.

Examples
--------
>>> import torch
>>> core = IrsIsacMisoCore(batch_size=2)
>>> obs, info = core.reset(seed=0)
>>> obs.shape
torch.Size([2, 40])
>>> action = {"w": torch.zeros(2, 40), "phases": torch.zeros(2, 16, dtype=torch.int64)}
>>> obs, reward, terminated, truncated, info = core.step(action)
>>> reward.tolist(), float(info["power"][0])
([0.0, 0.0], 0.0)
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.channels.irs import (
    IrsIsacConfig,
    IrsIsacProblem,
    IrsIsacScenario,
    cascade_direct_ratio,
    effective_channel,
    phases_from_indices,
    quantize_phases,
)
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.linalg import project_per_antenna_power
from isaclearn.metrics.comm import mimo_rates, rates
from isaclearn.metrics.pattern import angle_grid, desired_pattern, ula_beampattern_mse
from isaclearn.metrics.power import per_antenna_violation, total_power
from isaclearn.rl.core import Action, BatchedEnvCore, Info, Obs
from isaclearn.rl.primal_dual import lagrangian_reward

__all__ = [
    "IrsIsacCore",
    "IrsIsacEnvConfig",
    "IrsIsacMimoCore",
    "IrsIsacMimoEnvConfig",
    "IrsIsacMisoCore",
    "IrsIsacMisoNumpy",
    "ObservationMode",
    "PhaseMode",
    "irs_miso_step_numpy",
    "numpy_steps_per_second",
]

PhaseMode = Literal["action", "initial", "off"]
ObservationMode = Literal["joint", "user"]


@dataclass
class IrsIsacEnvConfig:
    """Configuration of :class:`IrsIsacMisoCore` (and, with ``scenario.mimo``, of the MIMO
    core)."""

    scenario: IrsIsacConfig = field(default_factory=IrsIsacConfig)
    """Every scenario parameter (:class:`~isaclearn.channels.irs.IrsIsacConfig`: sizes,
    P_max, ℓ, ``direct_link_db``, ...)."""
    phases: PhaseMode = "action"
    """``"action"``: the phase indices of the action set V^{t+1}; ``"initial"``: V stays at the
    episode's V^0; ``"off"``: V = 0 (no IRS). The phase action is ignored unless ``"action"``."""
    observation: ObservationMode = "joint"
    """``"joint"``: observe all of ``H^t`` and set all of ``W`` each step (the
    default reading of spec §3); ``"user"`` (MISO only): the literal per-user loop of Alg. 1
    (spec §6.14), step ``t`` observes user ``k = t mod K``'s channel and sets column ``k``
    (module docstring, "Per-user observation")."""
    lam_init: float = 1.0
    """Initial rate multipliers λ (every user), ≥ 0."""
    mu_init: float = 0.0
    """Initial sensing multipliers μ, ≥ 0."""
    max_episode_steps: int = 50
    """Steps per episode (§VI: 50)."""
    device: str = "cpu"
    """Device of every tensor."""
    dtype: torch.dtype = torch.complex64
    """``complex64`` or ``complex128``."""

    def __post_init__(self) -> None:
        if not isinstance(self.scenario, IrsIsacConfig):
            raise ConfigError(f"scenario must be an IrsIsacConfig, got "
                              f"{type(self.scenario).__name__}")
        if self.phases not in ("action", "initial", "off"):
            raise ConfigError(f"phases must be 'action', 'initial' or 'off', got "
                              f"{self.phases!r}")
        if self.observation not in ("joint", "user"):
            raise ConfigError(f"observation must be 'joint' or 'user', got "
                              f"{self.observation!r}")
        if self.observation == "user" and self.scenario.mimo:
            raise ConfigError("observation='user' is MISO only (the MIMO per-user loop is "
                              "DPPO's workers)")
        for name in ("lam_init", "mu_init"):
            v = float(getattr(self, name))
            if not (v >= 0.0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be finite and >= 0, got {v}")
        steps = self.max_episode_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"max_episode_steps must be an integer >= 1, got {steps!r}")


@dataclass
class IrsIsacMimoEnvConfig(IrsIsacEnvConfig):
    """Configuration of :class:`IrsIsacMimoCore`: the same fields, the scenario MIMO
    (``IrsIsacConfig(mimo=True)``: ``K = 4`` users with ``N = 4`` receive antennas)."""

    scenario: IrsIsacConfig = field(default_factory=lambda: IrsIsacConfig(mimo=True))


class IrsIsacCore(BatchedEnvCore[IrsIsacProblem]):
    """Batched IRS-ISAC core (the environment of the module docstring); use
    :class:`IrsIsacMisoCore` or :class:`IrsIsacMimoCore`.

    Attributes
    ----------
    lam : torch.Tensor
        Rate multipliers λ ``[K]`` (real dtype, core device).
    mu : torch.Tensor
        Sensing multipliers μ ``[S]``: ``S = 1`` (MISO) or ``K`` (MIMO).
    obs_scale : float
        :math:`\\sqrt{P_{\\max}/\\sigma^2}`, the factor of the observation.
    """

    config_class: ClassVar[type[Any]] = IrsIsacEnvConfig
    episodes_class = IrsIsacProblem
    config: IrsIsacEnvConfig
    mimo: ClassVar[bool] = False

    def __init__(self, batch_size: int = 1, config: Any = None, **overrides: Any) -> None:
        super().__init__(batch_size, config, **overrides)
        sc = self.config.scenario
        if bool(sc.mimo) != self.mimo:
            raise ConfigError(f"{type(self).__name__} needs scenario.mimo={self.mimo}")
        self.scenario = IrsIsacScenario(sc)
        self.noise_var = float(sc.noise_var)
        self.obs_scale = math.sqrt(float(sc.p_max_w) / self.noise_var)
        rdt = self.real_dtype
        k = sc.num_users
        self.lam = torch.full((k,), float(self.config.lam_init), dtype=rdt, device=self.device)
        self.mu = torch.full((k if self.mimo else 1,), float(self.config.mu_init), dtype=rdt,
                             device=self.device)
        self._grid = angle_grid(sc.grid_step_deg, dtype=rdt, device=self.device)
        targets = torch.deg2rad(torch.tensor(sc.target_angles_deg, dtype=torch.float64))
        self._desired = desired_pattern(self._grid, targets.to(device=self.device, dtype=rdt),
                                        math.radians(sc.beam_width_deg),
                                        height=sc.pattern_height)
        e = sc.num_irs_elements
        self._beta = torch.zeros(self.batch_size, e, dtype=rdt, device=self.device)
        self._v = torch.zeros(self.batch_size, e, dtype=self.dtype, device=self.device)
        self.per_user = self.config.observation == "user"
        self._u = torch.zeros(self.batch_size, sc.num_antennas, k, dtype=self.dtype,
                              device=self.device)
        """The held ``U`` ``[B, M, K]`` of ``observation="user"`` (unused otherwise)."""

    # ---- multipliers ---------------------------------------------------------------------

    def set_multipliers(self, lam: Any = None, mu: Any = None) -> None:
        """Set λ (``[K]`` or a scalar) and/or μ (``[S]`` or a scalar), both ≥ 0.

        Raises
        ------
        ShapeError
            A tensor of the wrong shape.
        ValueRangeError
            A negative or non-finite multiplier.
        """
        sizes = {"lam": self.lam.shape[0], "mu": self.mu.shape[0]}
        for name, value in (("lam", lam), ("mu", mu)):
            if value is None:
                continue
            t = (value.detach() if isinstance(value, torch.Tensor)
                 else torch.as_tensor(np.asarray(value, dtype=np.float64)))
            t = t.to(device=self.device, dtype=self.real_dtype)
            if t.dim() == 0:
                t = t.expand(sizes[name]).clone()
            if tuple(t.shape) != (sizes[name],):
                raise ShapeError(f"{name} must be a scalar or have shape [{sizes[name]}], got "
                                 f"{list(t.shape)}")
            if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
                raise ValueRangeError(f"{name} must be finite and >= 0")
            setattr(self, name, t.clone())

    # ---- spaces and episode data ---------------------------------------------------------

    @property
    def _w_shape(self) -> tuple[int, ...]:
        sc = self.config.scenario
        m, k = sc.num_antennas, sc.num_users
        return (k, m, sc.num_rx) if self.mimo else (m, k)

    @property
    def user(self) -> torch.Tensor:
        """``[B]`` int64: the user ``k = t mod K`` whose channel is observed and whose column
        of ``W`` the next action sets (``observation="user"``)."""
        return self.elapsed % self.config.scenario.num_users

    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        sc = self.config.scenario
        np_dtype = np.float64 if self.dtype == torch.complex128 else np.float32
        size = 2 * (sc.num_antennas if self.config.observation == "user"
                    else math.prod(self._w_shape))
        obs = spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np_dtype)
        w = spaces.Box(-1.0, 1.0, shape=(size,), dtype=np_dtype)
        levels = 2 ** int(sc.phase_bits)
        phases = spaces.MultiDiscrete(np.full(sc.num_irs_elements, levels, dtype=np.int64))
        return obs, spaces.Dict({"phases": phases, "w": w})

    def sample_episodes(self, num: int, generator: torch.Generator) -> IrsIsacProblem:
        return self.scenario.sample(num, generator=generator, dtype=self.dtype,
                                    device=self.device)

    def validate_episodes(self, episodes: IrsIsacProblem) -> None:
        sc = self.config.scenario
        want = (sc.num_antennas, sc.num_users, sc.num_irs_elements, sc.num_rx)
        got = (episodes.num_antennas, episodes.num_users, episodes.num_irs_elements,
               episodes.num_rx)
        if episodes.is_mimo != self.mimo or got != want:
            raise ShapeError(f"scenario sizes (M, K, E, N) = {got} (mimo={episodes.is_mimo}) "
                             f"do not match the env's {want} (mimo={self.mimo})")
        if abs(episodes.noise_var - self.noise_var) > 1e-9 * self.noise_var or (
                episodes.p_max != float(sc.p_max_w)):
            raise ConfigError("the scenario's noise_var or p_max differs from the env's")

    # ---- state ---------------------------------------------------------------------------

    def _initial_reflection(self, problem: IrsIsacProblem) -> tuple[torch.Tensor, torch.Tensor]:
        beta = problem.phases0.to(self.real_dtype)
        if self.config.phases == "off":
            return beta, torch.zeros(beta.shape, dtype=self.dtype, device=self.device)
        return beta, problem.reflection(beta).to(self.dtype)

    def begin(self, index: torch.Tensor) -> None:
        """Set ``V`` of the episodes ``index`` to their ``V^0`` (0 for ``phases="off"``)."""
        problem = self._require_episodes().subset(index)
        beta, v = self._initial_reflection(problem)
        self._beta[index] = beta
        self._v[index] = v
        if self.per_user:  # equal initial beamforming to each user (Alg. 1)
            self._u[index] = 1.0 / math.sqrt(self.config.scenario.num_users)

    def channel(self) -> torch.Tensor:
        """The current effective channel :math:`\\mathbf H^t` ``[B, K, M]`` (MISO) or
        ``[B, K, N, M]`` (MIMO), unscaled (watts^½), from
        :func:`~isaclearn.channels.irs.effective_channel`."""
        return effective_channel(self._require_episodes(), self._v)

    def observe(self) -> Obs:
        h = self.channel()
        if self.per_user:
            h = h[torch.arange(self.batch_size, device=self.device), self.user]  # [B, M]
        h = h.reshape(self.batch_size, -1) * self.obs_scale
        return torch.cat([h.real, h.imag], dim=1).to(self.real_dtype)

    @property
    def phases(self) -> torch.Tensor:
        """IRS phases in use ``[B, E]`` (radians; meaningless for ``phases="off"``)."""
        return self._beta.clone()

    @property
    def reflection(self) -> torch.Tensor:
        """Reflection coefficients in use (diagonal of V) ``[B, E]`` complex."""
        return self._v.clone()

    def _next_u(self, w_action: torch.Tensor) -> torch.Tensor:
        """``U`` of the ``w`` part of an action: the action itself, or (``observation="user"``)
        the held ``U`` with column :attr:`user` replaced by it."""
        flat = w_action.to(self.real_dtype).clamp(-1.0, 1.0)
        half = flat.shape[1] // 2
        u = torch.complex(flat[:, :half], flat[:, half:])
        if not self.per_user:
            return u.reshape(-1, *self._w_shape)
        held = self._u.clone()
        held[torch.arange(held.shape[0], device=held.device), :, self.user] = u.to(held.dtype)
        return held

    def precoder(self, w_action: torch.Tensor) -> torch.Tensor:
        """The precoder of the ``w`` part of an action ``[B, 2 prod(shape)]`` (``[B, 2 M]``
        for ``observation="user"``, placed in the held ``U``): ``[B, M, K]`` (MISO) or
        ``[B, K, M, N]`` (MIMO), meeting (22) (module docstring). Does not change the state."""
        p_max = float(self.config.scenario.p_max_w)
        m = self.config.scenario.num_antennas
        return project_per_antenna_power(self._next_u(w_action) * math.sqrt(p_max / m), p_max)

    def _next_reflection(self, action: Action) -> None:
        mode = self.config.phases
        if mode != "action":
            return
        assert isinstance(action, dict)
        problem = self._require_episodes()
        idx = action["phases"].to(torch.int64).clamp(0, problem.num_phase_levels - 1)
        self._beta = phases_from_indices(idx, problem.phase_bits, levels=problem.phase_levels,
                                         dtype=self.real_dtype, check=False)
        self._v = problem.reflection(self._beta).to(self.dtype)

    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        assert isinstance(action, dict)
        problem = self._require_episodes()
        w = self.precoder(action["w"])
        if self.per_user:
            self._u = self._next_u(action["w"])
        self._next_reflection(action)
        h = self.channel()
        sc = self.config.scenario
        if self.mimo:
            user_rates = mimo_rates(h, w, self.noise_var)  # [B, K]
            l_r = ula_beampattern_mse(w, self._desired, self._grid, spacing=sc.spacing)  # [B, K]
            power = total_power(w).mean(dim=1)
            violation = per_antenna_violation(w, sc.p_max_w).amax(dim=1)
        else:
            user_rates = rates(h, w, self.noise_var)  # [B, K]
            l_r = ula_beampattern_mse(w, self._desired, self._grid,
                                      spacing=sc.spacing)[:, None]  # [B, 1]
            power = total_power(w)
            violation = per_antenna_violation(w, sc.p_max_w)
        rdt = self.real_dtype
        user_rates, l_r = user_rates.to(rdt), l_r.to(rdt)
        reward = lagrangian_reward(user_rates, l_r, self.lam, self.mu, float(sc.ell))
        b = self.batch_size
        info: Info = {"sum_rate": user_rates.sum(dim=1)}
        for k in range(user_rates.shape[1]):
            info[f"rate_{k}"] = user_rates[:, k]
        info["beampattern_mse"] = l_r.mean(dim=1)
        if self.mimo:
            for k in range(l_r.shape[1]):
                info[f"beampattern_mse_{k}"] = l_r[:, k]
        info["power"] = power.to(rdt)
        info["per_antenna_violation"] = violation.to(rdt)
        info["lambda"] = self.lam.mean().expand(b).clone()
        info["mu"] = self.mu.mean().expand(b).clone()
        if self.config.phases == "off":
            info["cascade_direct_ratio"] = torch.zeros(b, dtype=rdt, device=self.device)
        else:
            info["cascade_direct_ratio"] = cascade_direct_ratio(problem, self._v).to(rdt)
        terminated = torch.zeros(b, dtype=torch.bool, device=self.device)
        return reward, terminated, info

    # ---- designers -----------------------------------------------------------------------

    def current_problem(self) -> IrsIsacProblem:
        """The episode's problem with ``phases0`` = the phases in use (module docstring);
        ``h2 = 0`` for ``phases="off"``."""
        problem = self._require_episodes()
        if self.config.phases == "off":
            return dataclasses.replace(problem, h2=torch.zeros_like(problem.h2),
                                       phases0=self._beta.clone())
        return dataclasses.replace(problem, phases0=self._beta.clone())

    def design_to_action(self, design: Design) -> Action:
        """The action applying ``design.w`` (MISO ``[B, M, K]``; MIMO ``[B, K, M, S]`` with
        ``S ≤ N`` streams, zero-padded) and ``design.extras["phases"]`` ``[B, E]`` (radians,
        quantized to (30); the current phases when absent)."""
        sc = self.config.scenario
        w = design.w.to(device=self.device, dtype=self.dtype)
        b = self.batch_size
        if self.mimo and w.dim() == 4 and w.shape[-1] < sc.num_rx:
            pad = torch.zeros(*w.shape[:-1], sc.num_rx - w.shape[-1], dtype=w.dtype,
                              device=w.device)
            w = torch.cat([w, pad], dim=-1)
        if tuple(w.shape) != (b, *self._w_shape):
            raise ShapeError(f"design.w must have shape {[b, *self._w_shape]}, got "
                             f"{list(w.shape)}")
        u = w / math.sqrt(float(sc.p_max_w) / sc.num_antennas)
        if self.per_user:
            u = u[torch.arange(b, device=u.device), :, self.user]  # column of user k
        u = u.reshape(b, -1)
        flat = torch.cat([u.real, u.imag], dim=1).clamp(-1.0, 1.0).to(self.real_dtype)
        beta = design.extras.get("phases") if design.extras else None
        if beta is None:
            beta = self._beta
        beta = torch.as_tensor(beta).to(device=self.device, dtype=self.real_dtype)
        if beta.dim() == 1:
            beta = beta.expand(b, -1)
        idx = quantize_phases(beta, sc.phase_bits, levels=sc.phase_levels)
        return {"phases": idx, "w": flat}


class IrsIsacMisoCore(IrsIsacCore):
    """The MISO environment (``K`` single-antenna users, §VI-A), module docstring.

    Parameters
    ----------
    batch_size : int
        Number ``B`` of episodes.
    config : IrsIsacEnvConfig, optional
        Configuration (default ``IrsIsacEnvConfig()``).
    **overrides
        Fields of the config to replace (``phases="initial"``, ``device="cuda"``, ...).
    """

    config_class = IrsIsacEnvConfig
    mimo = False


class IrsIsacMimoCore(IrsIsacCore):
    """The MIMO environment (§IV-A, §VI-B: per-user :math:`\\mathbf W_k \\in \\mathbb
    C^{M\\times N}`, log-det rates, per-user budgets and :math:`L_r(\\mathbf R_k)`).

    Notes
    -----
    (43) gives each user the per-antenna budget :math:`P_{\\max}/M`, so the total transmit
    power may reach :math:`K P_{\\max}` (spec §6.16); ``info["power"]`` is the mean per-user
    :math:`\\mathrm{tr}\\,\\mathbf R_k`.
    """

    config_class = IrsIsacMimoEnvConfig
    mimo = True


# --------------------------------------------------------------------------------------------
# per-sample NumPy reference (MISO)
# --------------------------------------------------------------------------------------------


def _steering_numpy(num_antennas: int, grid: np.ndarray, spacing: float) -> np.ndarray:
    """``[G, M]``: :math:`M^{-1/2} e^{-j 2\\pi d m \\sin\\psi}` (eq. 5 with sin, spec §6.1)."""
    m = np.arange(num_antennas)
    return np.exp(-2j * np.pi * spacing * np.sin(grid)[:, None] * m[None, :]) / np.sqrt(
        num_antennas)


@dataclass
class _NumpyConstants:
    steering: np.ndarray  # [G, M]
    desired: np.ndarray  # [G]
    basis: np.ndarray  # [F, G], F = 2M - 1: [1, cos(δx), sin(δx)] / M
    gram: np.ndarray  # [F, F], grid mean of basis basis^T
    cross: np.ndarray  # [F], grid mean of d * basis
    d2: float  # grid mean of d^2


def _numpy_constants(sc: IrsIsacConfig) -> _NumpyConstants:
    half = round(90.0 / sc.grid_step_deg)
    grid = np.deg2rad(np.arange(-half, half + 1) * (90.0 / half))
    targets = np.deg2rad(np.asarray(sc.target_angles_deg, dtype=float))
    inside = (np.abs(grid[None, :] - targets[:, None])
              <= math.radians(sc.beam_width_deg) / 2.0 + 1e-6).any(axis=0)
    desired = inside.astype(float) * sc.pattern_height
    m = sc.num_antennas
    x = 2.0 * np.pi * sc.spacing * np.sin(grid)
    phase = np.arange(1, m)[:, None] * x[None, :]
    basis = np.concatenate([np.ones((1, grid.size)), np.cos(phase), np.sin(phase)]) / m
    return _NumpyConstants(_steering_numpy(m, grid, sc.spacing), desired, basis,
                           basis @ basis.T / grid.size, basis @ desired / grid.size,
                           float(np.mean(desired ** 2)))


def _pattern_error_numpy(w: np.ndarray, c: _NumpyConstants, pattern: str) -> float:
    """L_r of one precoder ``[M, K]``: on the grid (``"grid"``: steering products) or by the
    lag sums of R (``"lags"``: the algorithm of ``metrics.pattern.ula_beampattern_mse``)."""
    if pattern == "grid":
        values = np.sum(np.abs(c.steering.conj() @ w) ** 2, axis=1)
        return float(np.mean((c.desired - values) ** 2))
    r = w @ w.conj().T
    m = r.shape[0]
    lags = np.array([np.trace(r, offset=d) for d in range(1, m)])
    coef = np.concatenate([[np.trace(r).real], 2.0 * lags.real, 2.0 * lags.imag])
    return max(0.0, float(c.d2 - 2.0 * coef @ c.cross + coef @ c.gram @ coef))


def irs_miso_step_numpy(
    h0: np.ndarray, h1: np.ndarray, h2: np.ndarray, v: np.ndarray, action: dict[str, Any],
    config: IrsIsacEnvConfig, lam: np.ndarray, mu: float, *,
    constants: _NumpyConstants | None = None, pattern: str = "lags",
) -> tuple[np.ndarray, np.ndarray, float, dict[str, float]]:
    r"""One MISO step of ONE episode in NumPy (float64), with explicit loops over users.

    Parameters
    ----------
    h0, h1, h2 : numpy.ndarray
        The episode's channels ``[M, K]``, ``[E, M]``, ``[E, K]`` complex.
    v : numpy.ndarray
        Reflection coefficients in use ``[E]`` (before the step).
    action : dict
        ``{"w": [2 M K], "phases": [E]}`` of one instance.
    config : IrsIsacEnvConfig
        The env configuration (MISO).
    lam : numpy.ndarray
        λ ``[K]``.
    mu : float
        μ.
    pattern : {"lags", "grid"}
        How :math:`L_r` is computed: by the lag sums of :math:`\mathbf R` (the core's
        algorithm, default, so that the speed benchmark compares batching and not algorithms),
        or by the steering products on the 1801-point grid (an independent derivation, for the
        oracle test).

    Returns
    -------
    tuple
        ``(obs [2 K M], v_next [E], reward, info)`` with the info keys of the core.
    """
    sc = config.scenario
    c = _numpy_constants(sc) if constants is None else constants
    m, k, p = sc.num_antennas, sc.num_users, float(sc.p_max_w)
    noise = float(sc.noise_var)
    flat = np.clip(np.asarray(action["w"], dtype=np.float64), -1.0, 1.0)
    w = (flat[: m * k] + 1j * flat[m * k:]).reshape(m, k) * math.sqrt(p / m)
    for row in range(m):  # projection onto (22), row by row
        power = float(np.sum(np.abs(w[row]) ** 2))
        if power > p / m:
            w[row] *= math.sqrt(p / m / power)
    if config.phases == "action":
        levels = 2 ** int(sc.phase_bits)
        den = levels if sc.phase_levels == "uniform" else levels - 1
        idx = np.clip(np.asarray(action["phases"], dtype=np.int64), 0, levels - 1)
        beta = 2.0 * np.pi * idx / den
        base = np.clip((np.sin(beta - sc.amp_phase_offset_rad) + 1.0) / 2.0, 0.0, 1.0)
        amp = (1.0 - sc.gamma_min) * base ** sc.amp_exponent + sc.gamma_min
        v = amp * np.exp(1j * beta)
    direct = h0.conj().T  # [K, M]
    cascade = (h2.conj().T * v[None, :]) @ h1  # [K, M]
    h = direct + cascade
    user_rates = np.empty(k)
    for user in range(k):
        gains = np.abs(h[user] @ w) ** 2  # [K]
        user_rates[user] = math.log2(1.0 + gains[user] / (gains.sum() - gains[user] + noise))
    l_r = _pattern_error_numpy(w, c, pattern)
    reward = float(np.dot(lam, user_rates) + mu * (sc.ell - l_r))
    row_power = np.sum(np.abs(w) ** 2, axis=1)
    info = {"sum_rate": float(user_rates.sum()),
            **{f"rate_{u}": float(user_rates[u]) for u in range(k)},
            "beampattern_mse": l_r, "power": float(row_power.sum()),
            "per_antenna_violation": float(max(0.0, float(np.max(row_power - p / m)))),
            "lambda": float(np.mean(lam)), "mu": float(mu),
            "cascade_direct_ratio": (0.0 if config.phases == "off" else float(
                np.sum(np.abs(cascade) ** 2) / np.sum(np.abs(direct) ** 2)))}
    hs = h.reshape(-1) * math.sqrt(p / noise)
    return np.concatenate([hs.real, hs.imag]), v, reward, info


class IrsIsacMisoNumpy:
    """The MISO env for ``B`` episodes as a Python loop over :func:`irs_miso_step_numpy` (the
    per-sample reference of the speed benchmark; no autoreset; λ, μ fixed).

    Parameters
    ----------
    config : IrsIsacEnvConfig
        The configuration (MISO).
    episodes : IrsIsacProblem
        Episode data, e.g. ``core.episodes`` after a reset.
    lam : numpy.ndarray, optional
        λ ``[K]`` (default ``lam_init``).
    mu : float, optional
        μ (default ``mu_init``).
    pattern : {"lags", "grid"}
        How :math:`L_r` is computed (:func:`irs_miso_step_numpy`).
    """

    def __init__(self, config: IrsIsacEnvConfig, episodes: IrsIsacProblem,
                 lam: np.ndarray | None = None, mu: float | None = None,
                 pattern: str = "lags") -> None:
        if pattern not in ("lags", "grid"):
            raise ConfigError(f"pattern must be 'lags' or 'grid', got {pattern!r}")
        self.pattern = pattern
        self.config = config
        self.constants = _numpy_constants(config.scenario)
        ep = episodes.to("cpu", torch.complex128)
        self.h0, self.h1, self.h2 = (x.numpy() for x in (ep.h0, ep.h1, ep.h2))
        sc = config.scenario
        beta = ep.phases0.numpy()
        base = np.clip((np.sin(beta - sc.amp_phase_offset_rad) + 1.0) / 2.0, 0.0, 1.0)
        self.v = ((1.0 - sc.gamma_min) * base ** sc.amp_exponent + sc.gamma_min) * np.exp(
            1j * beta)
        if config.phases == "off":
            self.v = np.zeros_like(self.v)
        self.lam = (np.full(sc.num_users, config.lam_init) if lam is None
                    else np.asarray(lam, dtype=float))
        self.mu = float(config.mu_init if mu is None else mu)

    def step(self, actions: dict[str, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Step every episode with its row of ``actions``; ``(obs, reward, info)``."""
        rows = []
        for i in range(self.h0.shape[0]):
            act = {key: value[i] for key, value in actions.items()}
            obs, v, reward, info = irs_miso_step_numpy(
                self.h0[i], self.h1[i], self.h2[i], self.v[i], act, self.config, self.lam,
                self.mu, constants=self.constants, pattern=self.pattern)
            self.v[i] = v
            rows.append((obs, reward, info))
        return (np.stack([r[0] for r in rows]), np.array([r[1] for r in rows]),
                {key: np.array([r[2][key] for r in rows]) for key in rows[0][2]})


def numpy_steps_per_second(batch: int, steps: int, config: IrsIsacEnvConfig | None = None,
                           seed: int = 0) -> float:
    """Env steps per second (``batch * steps / seconds``) of :class:`IrsIsacMisoNumpy` with
    random actions (drawn before the clock starts)."""
    cfg = IrsIsacEnvConfig() if config is None else config
    core = IrsIsacMisoCore(batch, cfg, device="cpu")
    core.reset(seed=seed)
    assert core.episodes is not None
    env = IrsIsacMisoNumpy(core.config, core.episodes)
    core.action_space.seed(seed)
    draws = [core.action_space.sample() for _ in range(batch * min(steps, 4))]
    batched = [{key: np.stack([a[key] for a in draws[i * batch:(i + 1) * batch]])
                for key in draws[0]} for i in range(min(steps, 4))]
    start = time.perf_counter()
    for i in range(steps):
        env.step(batched[i % len(batched)])
    return batch * steps / max(time.perf_counter() - start, 1e-12)

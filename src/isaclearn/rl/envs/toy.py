r"""ToyBeam: multi-user downlink beamforming under channel aging, a small real environment for
the RL layer (examples, the contract test, the speed benchmark).

A base station with ``M`` antennas serves ``K`` single-antenna users. The channel follows a
Gauss–Markov (first-order autoregressive) process; the agent sees the channel of the current
slot and transmits in the next one, when the channel has aged:

.. math::
    \mathbf g_0 = \mathbf e_0,\qquad
    \mathbf g_t = \rho\,\mathbf g_{t-1} + \sqrt{1-\rho^2}\,\mathbf e_t,\qquad
    \mathbf e_t \sim \mathcal{CN}(\mathbf 0, \mathbf I),

with ``g_t`` ``[K, M]`` (rows ``h_k``, the convention of :mod:`isaclearn.metrics.comm`). At step
``t`` the agent observes ``g_t``, chooses a precoder ``W`` ``[M, K]``, and is scored on
``g_{t+1}``:

.. math::
    r_t = \sum_k \log_2\Bigl(1 + \frac{|\mathbf g_{t+1,k}\mathbf w_k|^2}
    {\sum_{i\ne k}|\mathbf g_{t+1,k}\mathbf w_i|^2 + \sigma^2}\Bigr),\qquad
    \sigma^2 = P / 10^{\mathrm{snr\_db}/10}.

The whole channel sequence ``g_0 … g_T`` of an episode is drawn at reset (the episode data,
:class:`ToyBeamEpisodes`), so ``step`` is deterministic. Classical designers see the same
information as the agent: :meth:`ToyBeamCore.current_problem` is a
:class:`~isaclearn.channels.downlink.DownlinkProblem` with ``h_est = g_t`` (what a designer may
use), ``h = g_{t+1}`` (what it is scored on) and no sensing targets, so MRT, ZF, MMSE and WMMSE
of :mod:`isaclearn.solvers` act in the environment unchanged.

Action space
    ``action="box"``: ``Box(-1, 1, (2 M K,))``, the precoder ``U`` ``[M, K]`` as
    ``[Re U.flatten(), Im U.flatten()]`` (row-major: entry ``(m, k)`` at ``m K + k``), scaled to
    ``||W||_F^2 = P`` (a zero action transmits nothing).
    ``action="dict"``: ``Dict(levels=MultiDiscrete([L] * K), w=Box(-1, 1, (2 M K,)))``: ``w``
    gives the beam directions (each column of ``U`` normalized to unit norm) and ``levels`` the
    power split, user ``k`` getting ``p_k = P l_k / sum_j l_j`` (level 0 switches the user off;
    all zero transmits nothing). Actions outside the bounds are clipped.
Observation space
    ``Box(-inf, inf, (2 K M,))``: ``[Re g_t.flatten(), Im g_t.flatten()]`` (entry ``(k, m)`` at
    ``k M + m``), ``float32`` (``float64`` for ``dtype=complex128``).
Reward
    The sum rate above in bit/s/Hz. ``info`` holds ``sum_rate`` (the same value), ``min_rate``
    (the smallest user rate) and ``power`` (``||W||_F^2``, watts).
Starting state
    A new channel sequence, ``g_0`` drawn from ``CN(0, I)`` (stationary: every ``g_t`` has
    unit-variance entries).
Episode end
    Terminated when the sum rate falls below ``outage_rate`` (link outage); truncated after
    ``max_episode_steps`` steps.

Registered as ``isaclearn/ToyBeam-v0`` (Box action) and ``isaclearn/ToyBeamDict-v0`` (Dict
action) by :mod:`isaclearn.rl.envs`.

:func:`toy_beam_step_numpy` and :class:`ToyBeamNumpy` are a per-sample NumPy implementation of
the same step, with explicit loops over users: an oracle for the tests and the reference of the
speed benchmark.

Examples
--------
>>> import torch
>>> core = ToyBeamCore(batch_size=3)
>>> obs, info = core.reset(seed=0)
>>> obs.shape
torch.Size([3, 16])
>>> obs, reward, terminated, truncated, info = core.step(torch.zeros(3, 16))
>>> reward.tolist(), sorted(info)
([0.0, 0.0, 0.0], ['min_rate', 'power', 'sum_rate'])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import fro_norm_sq, scale_to_power
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.core.random import complex_normal
from isaclearn.metrics.comm import rates
from isaclearn.rl.core import Action, BatchedEnvCore, Info, Obs

__all__ = [
    "ToyBeamConfig",
    "ToyBeamCore",
    "ToyBeamEpisodes",
    "ToyBeamNumpy",
    "numpy_steps_per_second",
    "toy_beam_step_numpy",
]


@dataclass
class ToyBeamEpisodes(BatchedProblem):
    """Episode data of ToyBeam: the channel sequence of each episode.

    Attributes
    ----------
    h : torch.Tensor
        ``[B, T + 1, K, M]`` complex, ``g_0 … g_T`` (``T = max_episode_steps``).
    """

    h: torch.Tensor = field(metadata=BATCHED)

    def __post_init__(self) -> None:
        if self.h.dim() != 4 or not self.h.is_complex():
            raise ShapeError(f"h must be complex with shape [B, T + 1, K, M], got {self.h.dtype} "
                             f"of shape {list(self.h.shape)}")


@dataclass
class ToyBeamConfig:
    """Configuration of :class:`ToyBeamCore`."""

    num_antennas: int = 4
    """``M``, base-station antennas."""
    num_users: int = 2
    """``K``, single-antenna users."""
    max_episode_steps: int = 20
    """``T``, steps per episode (truncation)."""
    correlation: float = 0.9
    """``ρ`` in ``[0, 1]``, correlation of the channel between consecutive slots."""
    power: float = 1.0
    """``P``, transmit power, watts."""
    snr_db: float = 10.0
    """``P / σ²`` in dB (unit-variance channel entries)."""
    outage_rate: float = 0.5
    """Sum rate (bit/s/Hz) below which the episode terminates; 0 never terminates."""
    action: Literal["box", "dict"] = "box"
    """``"box"``: the precoder as one Box; ``"dict"``: directions (Box) + power levels
    (MultiDiscrete)."""
    power_levels: int = 4
    """``L``, power levels per user of the Dict action."""
    device: str = "cpu"
    """Device of every tensor."""
    dtype: torch.dtype = torch.complex64
    """``complex64`` or ``complex128``."""

    def __post_init__(self) -> None:
        for name in ("num_antennas", "num_users", "max_episode_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.power_levels, bool) or not isinstance(self.power_levels, int) or (
                self.power_levels < 2):
            raise ConfigError(f"power_levels must be an integer >= 2, got {self.power_levels!r}")
        if not 0.0 <= float(self.correlation) <= 1.0:
            raise ConfigError(f"correlation must lie in [0, 1], got {self.correlation!r}")
        if not float(self.power) > 0.0 or not math.isfinite(float(self.power)):
            raise ConfigError(f"power must be positive and finite, got {self.power!r}")
        if not math.isfinite(float(self.snr_db)):
            raise ConfigError(f"snr_db must be finite, got {self.snr_db!r}")
        if not float(self.outage_rate) >= 0.0:
            raise ConfigError(f"outage_rate must be >= 0, got {self.outage_rate!r}")
        if self.action not in ("box", "dict"):
            raise ConfigError(f"action must be 'box' or 'dict', got {self.action!r}")

    @property
    def noise_var(self) -> float:
        """``σ² = P / 10^(snr_db / 10)``, watts."""
        return float(self.power) / 10.0 ** (float(self.snr_db) / 10.0)


class ToyBeamCore(BatchedEnvCore[ToyBeamEpisodes]):
    """Batched ToyBeam core (the environment of the module docstring).

    Parameters
    ----------
    batch_size : int
        Number ``B`` of episodes.
    config : ToyBeamConfig, optional
        Configuration (default ``ToyBeamConfig()``).
    **overrides
        Fields of the config to replace.
    """

    config_class = ToyBeamConfig
    episodes_class = ToyBeamEpisodes
    config: ToyBeamConfig

    # ---- spaces and episode data ---------------------------------------------------------

    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        c = self.config
        m, k = c.num_antennas, c.num_users
        np_dtype = np.float64 if self.dtype == torch.complex128 else np.float32
        obs = spaces.Box(-np.inf, np.inf, shape=(2 * k * m,), dtype=np_dtype)
        w = spaces.Box(-1.0, 1.0, shape=(2 * m * k,), dtype=np_dtype)
        if c.action == "box":
            return obs, w
        levels = spaces.MultiDiscrete(np.full(k, c.power_levels, dtype=np.int64))
        return obs, spaces.Dict({"levels": levels, "w": w})

    def sample_episodes(self, num: int, generator: torch.Generator) -> ToyBeamEpisodes:
        c = self.config
        steps = c.max_episode_steps + 1
        e = complex_normal((num, steps, c.num_users, c.num_antennas), generator=generator,
                           dtype=self.dtype, device=self.device)
        # g_t = sum_{s <= t} rho^(t - s) c_s e_s with c_0 = 1, c_s = sqrt(1 - rho^2): one matmul
        rho = float(c.correlation)
        t = torch.arange(steps, device=self.device, dtype=self.real_dtype)
        lag = t[:, None] - t[None, :]
        coef = torch.where(lag >= 0, rho ** lag.clamp_min(0), torch.zeros_like(lag))
        coef[:, 1:] *= math.sqrt(1.0 - rho * rho)
        h = torch.einsum("ts,nskm->ntkm", coef.to(self.dtype), e)
        return ToyBeamEpisodes(h=h)

    def validate_episodes(self, episodes: ToyBeamEpisodes) -> None:
        c = self.config
        want = (c.max_episode_steps + 1, c.num_users, c.num_antennas)
        if tuple(episodes.h.shape[1:]) != want:
            raise ShapeError(f"scenario h must have shape [n, {want[0]}, {want[1]}, {want[2]}] "
                             f"([n, T + 1, K, M]), got {list(episodes.h.shape)}")

    # ---- state ---------------------------------------------------------------------------

    def begin(self, index: torch.Tensor) -> None:
        """Nothing to set: the state is the step counter and the episode data."""

    def _channel(self, offset: int) -> torch.Tensor:
        """``g_{t + offset}`` ``[B, K, M]`` of every episode (index clamped to ``T``)."""
        episodes = self._require_episodes()
        t = (self.elapsed + offset).clamp_max(self.config.max_episode_steps)
        return episodes.h[torch.arange(self.batch_size, device=self.device), t]

    def observe(self) -> Obs:
        g = self._channel(0).reshape(self.batch_size, -1)
        return torch.cat([g.real, g.imag], dim=1)

    def precoder(self, action: Action) -> torch.Tensor:
        """The precoder ``W`` ``[B, M, K]`` an action applies (see Action space)."""
        c = self.config
        m, k = c.num_antennas, c.num_users
        flat = action["w"] if isinstance(action, dict) else action
        flat = flat.to(self.real_dtype).clamp(-1.0, 1.0)
        u = torch.complex(flat[:, : m * k], flat[:, m * k:]).reshape(-1, m, k)
        if not isinstance(action, dict):
            return scale_to_power(u, c.power)
        levels = action["levels"].clamp(0, c.power_levels - 1).to(self.real_dtype)  # [B, K]
        col = torch.linalg.vector_norm(u, dim=1)  # [B, K]
        direction = u / col.clamp_min(torch.finfo(col.dtype).tiny)[:, None, :]
        share = levels / levels.sum(dim=1, keepdim=True).clamp_min(1.0)
        return direction * torch.sqrt(c.power * share)[:, None, :]

    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        w = self.precoder(action)
        r = rates(self._channel(1), w, self.config.noise_var)  # [B, K]
        sum_rate = r.sum(dim=1)
        terminated = sum_rate < self.config.outage_rate
        info = {"sum_rate": sum_rate, "min_rate": r.min(dim=1).values, "power": fro_norm_sq(w)}
        return sum_rate, terminated, info

    # ---- designers -----------------------------------------------------------------------

    def current_problem(self) -> DownlinkProblem:
        """The step as a :class:`DownlinkProblem`: ``h_est = g_t`` (observed), ``h = g_{t+1}``
        (scored), no sensing targets (``theta`` ``[B, 0]``), ``power = P``,
        ``noise_var = σ²``."""
        return DownlinkProblem(
            h=self._channel(1), h_est=self._channel(0),
            theta=torch.zeros(self.batch_size, 0, dtype=self.real_dtype, device=self.device),
            power=float(self.config.power), noise_var=self.config.noise_var)

    def design_to_action(self, design: Design) -> Action:
        """The action that transmits ``design.w`` ``[B, M, K]``.

        Box action: ``W`` rescaled so that its largest real or imaginary entry is 1 (the env
        restores ``||W||_F^2 = P``). Dict action: the same for the directions, and the levels
        ``round((L - 1) ||w_k||^2 / max_j ||w_j||^2)`` (a quantized power split).
        """
        c = self.config
        w = design.w.to(device=self.device, dtype=self.dtype)
        if tuple(w.shape) != (self.batch_size, c.num_antennas, c.num_users):
            raise ShapeError(f"design.w must have shape [{self.batch_size}, {c.num_antennas}, "
                             f"{c.num_users}] ([B, M, K]), got {list(w.shape)}")
        flat = torch.cat([w.real.reshape(self.batch_size, -1),
                          w.imag.reshape(self.batch_size, -1)], dim=1)
        peak = flat.abs().amax(dim=1, keepdim=True)
        flat = flat / peak.clamp_min(torch.finfo(flat.dtype).tiny)
        if c.action == "box":
            return flat
        col = torch.linalg.vector_norm(w, dim=1).square()  # [B, K]
        rel = col / col.amax(dim=1, keepdim=True).clamp_min(torch.finfo(col.dtype).tiny)
        levels = torch.round((c.power_levels - 1) * rel).to(torch.int64)
        return {"levels": levels, "w": flat}


# --------------------------------------------------------------------------------------------
# per-sample NumPy reference
# --------------------------------------------------------------------------------------------


def _precoder_numpy(action: Any, config: ToyBeamConfig) -> np.ndarray:
    m, k = config.num_antennas, config.num_users
    flat = np.clip(np.asarray(action["w"] if isinstance(action, dict) else action,
                              dtype=np.float64), -1.0, 1.0)
    u = (flat[: m * k] + 1j * flat[m * k:]).reshape(m, k)
    if not isinstance(action, dict):
        norm = math.sqrt(float(np.sum(np.abs(u) ** 2)))
        return u * (math.sqrt(config.power) / norm) if norm > 0 else np.zeros_like(u)
    levels = np.clip(np.asarray(action["levels"]), 0, config.power_levels - 1).astype(float)
    total = max(float(levels.sum()), 1.0)
    w = np.zeros_like(u)
    for user in range(k):
        norm = math.sqrt(float(np.sum(np.abs(u[:, user]) ** 2)))
        if norm > 0:
            w[:, user] = u[:, user] / norm * math.sqrt(config.power * levels[user] / total)
    return w


def toy_beam_step_numpy(h: np.ndarray, t: int, action: Any, config: ToyBeamConfig
                        ) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
    """One ToyBeam step of ONE episode in NumPy, with explicit loops over users.

    Parameters
    ----------
    h : numpy.ndarray
        The episode's channel sequence ``[T + 1, K, M]`` complex.
    t : int
        Steps taken so far in the episode.
    action : numpy.ndarray or dict
        The action of one instance (as in :class:`ToyBeamCore`).
    config : ToyBeamConfig
        The configuration.

    Returns
    -------
    tuple
        ``(obs, reward, terminated, truncated, info)`` after the step.
    """
    horizon = config.max_episode_steps
    w = _precoder_numpy(action, config)
    g = h[min(t + 1, horizon)]
    noise = config.noise_var
    user_rates = []
    for user in range(config.num_users):
        gains = [abs(complex(np.dot(g[user], w[:, s]))) ** 2 for s in range(config.num_users)]
        interference = sum(gains) - gains[user]
        user_rates.append(math.log2(1.0 + gains[user] / (interference + noise)))
    sum_rate = float(sum(user_rates))
    nxt = h[min(t + 1, horizon)].reshape(-1)
    obs = np.concatenate([nxt.real, nxt.imag])
    info = {"sum_rate": sum_rate, "min_rate": float(min(user_rates)),
            "power": float(np.sum(np.abs(w) ** 2))}
    return obs, sum_rate, sum_rate < config.outage_rate, t + 1 >= horizon, info


class ToyBeamNumpy:
    """ToyBeam for ``B`` episodes as a Python loop over :func:`toy_beam_step_numpy` (the
    per-sample reference of the speed benchmark; no autoreset).

    Parameters
    ----------
    config : ToyBeamConfig
        The configuration.
    episodes : ToyBeamEpisodes
        Episode data, e.g. ``ToyBeamCore(B).sample_episodes(B, generator)``.
    """

    def __init__(self, config: ToyBeamConfig, episodes: ToyBeamEpisodes) -> None:
        self.config = config
        self.h = episodes.h.detach().cpu().numpy().astype(np.complex128)
        self.t = np.zeros(self.h.shape[0], dtype=np.int64)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, np.ndarray]]:
        """Step every episode with its row of ``actions`` (``[B, ...]`` or a dict of them)."""
        rows = []
        for i in range(self.h.shape[0]):
            act = ({k: v[i] for k, v in actions.items()} if isinstance(actions, dict)
                   else actions[i])
            rows.append(toy_beam_step_numpy(self.h[i], int(self.t[i]), act, self.config))
            self.t[i] += 1
        obs = np.stack([r[0] for r in rows])
        reward = np.array([r[1] for r in rows])
        terminated = np.array([r[2] for r in rows])
        truncated = np.array([r[3] for r in rows])
        info = {key: np.array([r[4][key] for r in rows]) for key in rows[0][4]}
        return obs, reward, terminated, truncated, info


def numpy_steps_per_second(batch: int, steps: int, config: ToyBeamConfig | None = None,
                           seed: int = 0) -> float:
    """Environment steps per second (``batch * steps / seconds``) of :class:`ToyBeamNumpy`
    with random actions (drawn before the clock starts)."""
    cfg = ToyBeamConfig() if config is None else config
    core = ToyBeamCore(batch, cfg, device="cpu")
    core.reset(seed=seed)
    assert core.episodes is not None
    env = ToyBeamNumpy(core.config, core.episodes)
    core.action_space.seed(seed)
    actions = [core.action_space.sample() for _ in range(batch * steps)]
    batched = [_stack(actions[i * batch:(i + 1) * batch]) for i in range(steps)]
    start = time.perf_counter()
    for a in batched:
        env.step(a)
    return batch * steps / max(time.perf_counter() - start, 1e-12)


def _stack(actions: list[Any]) -> Any:
    if isinstance(actions[0], dict):
        return {k: np.stack([a[k] for a in actions]) for k in actions[0]}
    return np.stack(actions)

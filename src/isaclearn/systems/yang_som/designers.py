r"""The classical designers of yang_som (spec §4) acting on the env's subframes.

Every designer has ``design(problem) -> Design`` on a
:class:`~isaclearn.systems.yang_som.evaluation.YangSomSubframe` (the current subframe of every
frame of a running :class:`~isaclearn.rl.envs.yang_som.YangSomCore`) and returns a hybrid
precoder (``extras`` ``f_rf`` ``[B, M, K]`` unit modulus with ``bits``-bit phases, ``p``
``[B, S, K]`` with :math:`\sum|p|^2 = KS`, ``w`` the transmitted precoder in watts), which
:func:`rollout_designer` transmits with
:meth:`~isaclearn.rl.envs.yang_som.YangSomCore.step_precoder`; so all methods (and the learned
policies run by :func:`isaclearn.rl.rollout.rollout`) are scored on the same seeded frames by the
same metric code. Designers that keep state across the subframes of a frame (the MP tracker, the
Opt designer's reuse) key it on ``problem.subframe`` and on a fingerprint of the frame's preamble
estimate, so a new frame resets them.

=============  ===============================================================================
``opt``        Alg. 1: Stage I per-subcarrier SDR (15) (:func:`~isaclearn.solvers.isac_ofdm_sdr.
               ofdm_isac_sdr`, perfect CSI and target angle of the subframe) + Stage II
               alternating decomposition (16)–(22) with the ``bits``-bit quantizer (37)
               (:func:`~isaclearn.solvers.hybrid.hybrid_decompose`, ``N_iter`` iterations)
``omp``        the same Stage I + OMP decomposition (:func:`~isaclearn.solvers.hybrid.
               omp_decompose`) over the quantized angular dictionary (beyond the paper)
``ideal``      the fully digital Stage I precoder itself (no hybrid constraint; the env is
               advanced with its Stage II hybrid); the "ideal" boundary (beyond the paper)
``mp``         MP-based predictive beamforming [19]: a Kalman filter per user on a
               constant-velocity angle chain (:mod:`isaclearn.tracking`, linear model), beams
               :math:`\mathcal Q(\sqrt{N_t}\mathbf a_t(\hat\theta_u^{pred}))`, equal power; no
               target beam (the users are the sensed objects)
``greedy``     greedy codebook [28]: for ``u = 0..K-1`` the quantized dictionary codeword that
               maximizes the wideband SE (8) with ICI given the earlier picks (equal power on
               the picked users), then equal power; CSI = the true channel of the subframe
               (``csi="instant"``) or the preamble estimate (``"preamble"``)
``orthogonal`` time sharing between the communication optimum :math:`(R^*, 0)` and the sensing
               optimum :math:`(0, J^*)` with fraction ψ for communication: :math:`R = \psi
               R^*`, :math:`J = (1-\psi)J^*` (a boundary, not a precoder; the env is advanced
               with its current precoder)
=============  ===============================================================================

Cost of ``opt`` (spec §8 cost warning): one CVXPY SDP per (frame, solved subframe, solved
subcarrier, SINR target, ICI round), :math:`O(S N_t^{3.5}\log 1/\epsilon)` per target; Stage II is
:math:`O(N_{iter} S N_t K)`. :class:`SdrStage` therefore solves on every ``stride``-th subframe
(the design is reused until the next solved subframe) and on every ``subcarrier_stride``-th
subcarrier (an unsolved subcarrier takes the precoder of the solved one below it before Stage II);
both are 1 in the paper's algorithm and are stated in every row's ``note`` when larger.
``ici="joint"`` (config ``opt_ici``) replaces the ``S`` per-subcarrier SDPs of a target by one
coupled SDP with the exact ICI (toy sizes only; module docstring of
:mod:`~isaclearn.solvers.isac_ofdm_sdr`), also stated in the ``note``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch

from isaclearn.arrays import ula
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.metrics.ofdm import se
from isaclearn.rl.envs.yang_som import YangSomCore
from isaclearn.solvers.hybrid import (
    angular_dictionary,
    hybrid_decompose,
    hybrid_precoder,
    omp_decompose,
    quantize_phases,
)
from isaclearn.solvers.isac_ofdm_sdr import ICI_MODES, ofdm_isac_sdr
from isaclearn.systems.yang_som.evaluation import (
    FRAME_METRICS,
    YangSomSubframe,
    evaluate,
    hybrid_design,
    metrics_from,
    subframe_problem,
)
from isaclearn.tracking import ekf_predict, ekf_update

__all__ = ["GreedyDesigner", "IdealDesigner", "MpDesigner", "OptDesigner", "OrthogonalBound",
           "SdrStage", "classical_designers", "frame_key", "rollout_designer"]

_DEG = math.pi / 180.0


def frame_key(problem: YangSomSubframe) -> tuple[float, ...]:
    """A fingerprint of the frames of a batch (their preamble estimates), to key per-frame
    state."""
    return tuple(round(float(x), 12) for x in problem.h_est.abs().sum(dim=(1, 2, 3)).tolist())


def _subframe(problem: YangSomSubframe) -> int:
    n = problem.subframe
    if bool((n != n[0]).any()):
        raise ConfigError("designers need all frames of a batch at the same subframe")
    return int(n[0])


def _steering_beams(theta: torch.Tensor, num_antennas: int, bits: int,
                    dtype: torch.dtype) -> torch.Tensor:
    """``[B, M, K]`` quantized unit-modulus steering beams :math:`\\mathcal Q(\\sqrt M
    \\mathbf a_t(\\theta_u))` (first-element reference, sign −1)."""
    a = ula(num_antennas, theta, reference="first", sign=-1, normalize=False).to(dtype)
    return quantize_phases(a.transpose(-2, -1), bits)


# --------------------------------------------------------------------------------------------
# Opt (Alg. 1), OMP and the ideal boundary
# --------------------------------------------------------------------------------------------


class SdrStage:
    r"""Stage I of Alg. 1 (15) with reuse over subframes and subcarriers, shared by ``opt``,
    ``omp`` and ``ideal`` (one solve per frame and solved subframe serves all three).

    Parameters
    ----------
    sinr_db : sequence of float
        ``tau_mode="db"``: SINR targets τ in dB (plus τ = 0, always added so that some target
        is feasible).
    tau_mode : {"relative", "db"}
        ``"relative"`` (default): per frame the targets :math:`\tau_f = 2^{fR^*/(KS)} - 1`,
        :math:`f\in` ``fractions`` (τ = 0 added), i.e. the equal per-user, per-subcarrier
        share of the fraction ``f`` of the fully digital WMMSE rate :math:`R^*` (scales with
        SNR and U; an absolute dB grid is mostly infeasible at low SNR); ``"db"``: the fixed
        ``sinr_db`` grid for every frame.
    fractions : sequence of float
        The ``f`` of ``tau_mode="relative"``.
    stride : int
        Solve on subframes ``n % stride == 0`` and reuse the last solution in between (1 = the
        paper: every subframe).
    subcarrier_stride : int
        Solve on subcarriers ``m % subcarrier_stride == 0``; subcarrier ``m`` takes the
        precoder of subcarrier ``m - m % subcarrier_stride`` (1 = all).
    ici_rounds : int
        Rounds of the ICI-aware noise (round ``r > 0`` adds the ICI of round ``r − 1``; only
        with ``subcarrier_stride = 1`` and ``ici="iterate"``).
    ici : {"iterate", "joint"}
        ``"iterate"`` (default): per-subcarrier SDPs, the ICI of the previous round in the noise
        (ignored with one round); ``"joint"``: one coupled SDP per frame and target with the
        exact ICI (needs ``subcarrier_stride = 1`` and ``ici_rounds = 1``; refused above
        :data:`~isaclearn.solvers.isac_ofdm_sdr.JOINT_MAX_SIZE`).
    select : {"extracted", "relaxation"}
        Which utility picks τ (see :func:`~isaclearn.solvers.isac_ofdm_sdr.ofdm_isac_sdr`).
    """

    def __init__(self, sinr_db: Sequence[float] = (0.0, 10.0), *, stride: int = 1,
                 subcarrier_stride: int = 1, ici_rounds: int = 1,
                 ici: Literal["iterate", "joint"] = "iterate",
                 select: Literal["extracted", "relaxation"] = "extracted",
                 tau_mode: Literal["relative", "db"] = "relative",
                 fractions: Sequence[float] = (0.02, 0.05, 0.1, 0.2, 0.4)) -> None:
        if tau_mode not in ("relative", "db"):
            raise ConfigError(f"tau_mode must be 'relative' or 'db', got {tau_mode!r}")
        if not fractions or not all(0.0 < float(f) for f in fractions):
            raise ConfigError(f"fractions must be positive, got {fractions!r}")
        self.tau_mode = tau_mode
        self.fractions = tuple(float(f) for f in fractions)
        for name, v in (("stride", stride), ("subcarrier_stride", subcarrier_stride),
                        ("ici_rounds", ici_rounds)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        if ici not in ICI_MODES:
            raise ConfigError(f"ici must be one of {ICI_MODES}, got {ici!r}")
        if ici == "joint" and (subcarrier_stride != 1 or ici_rounds != 1):
            raise ConfigError(f"ici='joint' needs subcarrier_stride = 1 and ici_rounds = 1, got "
                              f"{subcarrier_stride} and {ici_rounds}")
        self.ici = ici
        if not all(math.isfinite(float(x)) for x in sinr_db):
            raise ConfigError(f"sinr_db must be finite, got {sinr_db!r}")
        self.grid = [0.0] + sorted({10.0 ** (float(x) / 10.0) for x in sinr_db})
        self.stride, self.subcarrier_stride = stride, subcarrier_stride
        self.ici_rounds, self.select = ici_rounds, select
        self._cache: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        self.solve_seconds = 0.0
        """Wall-clock seconds spent in Stage I so far."""
        self.solves = 0
        """Stage I calls (batched over frames) so far."""

    @property
    def note(self) -> str:
        """What the reuse options change (empty for the paper's algorithm)."""
        parts = []
        if self.stride > 1:
            parts.append(f"SDR solved every {self.stride} subframes, reused in between")
        if self.subcarrier_stride > 1:
            parts.append(f"on every {self.subcarrier_stride}th subcarrier")
        if self.ici == "joint":
            parts.append("one joint SDP over the subcarriers with the exact ICI")
        return "; ".join(parts)

    def solve(self, problem: YangSomSubframe) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w, feasible)``: fully digital precoders ``[B, S, M, K]`` (watts, ``P_t/S`` per
        subcarrier; the previous hybrid precoder where infeasible) and ``[B]`` bool."""
        n = _subframe(problem)
        solved_at = n - n % self.stride
        key = (frame_key(problem), solved_at)
        if key not in self._cache:
            if solved_at != n:  # a frame entered mid-way: solve now
                key = (key[0], n)
            if key not in self._cache:
                start = time.perf_counter()
                self._cache[key] = self._solve(problem)
                self.solve_seconds += time.perf_counter() - start
                self.solves += 1
        return self._cache[key]

    def _solve(self, problem: YangSomSubframe) -> tuple[torch.Tensor, torch.Tensor]:
        assert problem.rate_star is not None and problem.fisher_star is not None
        b, s = problem.h.shape[0], problem.h.shape[1]
        idx = torch.arange(0, s, self.subcarrier_stride, device=problem.h.device)
        frac = idx.numel() / s
        h_diag = torch.diagonal(problem.h, dim1=1, dim2=2).permute(0, 3, 1, 2)  # [B, S, K, M]
        eta = problem.alpha.abs().square() / problem.noise_var
        full = self.subcarrier_stride == 1
        k = problem.h.shape[-2]

        def run(rows: slice, grid: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
            assert problem.rate_star is not None and problem.fisher_star is not None
            res = ofdm_isac_sdr(
                h_diag[rows, idx], problem.target_theta_rad[rows], problem.power * frac,
                problem.noise_var, sinr_grid=grid, psi=float(problem.weight),
                rate_norm=problem.rate_star[rows] * frac,
                fisher_norm=problem.fisher_star[rows] * frac, num_rx=problem.num_rx,
                radar_gain=2.0 * problem.num_symbols * eta[rows],
                h_ici=problem.h[rows] if (full and (self.ici_rounds > 1 or self.ici == "joint"))
                else None,
                ici_rounds=self.ici_rounds if full else 1, ici=self.ici, select=self.select)
            return res.w, res.feasible

        if self.tau_mode == "db":
            w_sol, feas = run(slice(0, b), self.grid)
        else:  # one grid per frame (the SDR loops over frames anyway)
            parts = []
            for i in range(b):
                share = float(problem.rate_star[i]) / (k * s)
                grid = [0.0] + [2.0 ** (f * share) - 1.0 for f in self.fractions]
                parts.append(run(slice(i, i + 1), grid))
            w_sol = torch.cat([x[0] for x in parts])
            feas = torch.cat([x[1] for x in parts])
        w = w_sol.to(problem.h.dtype)[:, torch.arange(s) // self.subcarrier_stride]
        m, k = problem.f_rf.shape[-2:]
        prev = hybrid_precoder(problem.f_rf, problem.p) * math.sqrt(problem.power / (m * k * s))
        feasible = feas.to(problem.h.device) & torch.isfinite(w).flatten(1).all(-1)
        w = torch.where(feasible[:, None, None, None], torch.nan_to_num(w), prev)
        return w, feasible


class OptDesigner:
    """``opt`` (Alg. 1) and, with ``decompose="omp"``, ``omp`` (module docstring).

    Parameters
    ----------
    sdr : SdrStage
        Stage I (shared with the other SDR-based designers).
    n_iter : int
        :math:`N_{iter}` of Stage II (spec: 20).
    decompose : {"alternating", "omp"}
        Stage II rule.
    num_grid : int
        Dictionary size of the OMP candidates.
    name : str
        Result name.
    """

    def __init__(self, sdr: SdrStage, *, n_iter: int = 20,
                 decompose: Literal["alternating", "omp"] = "alternating", num_grid: int = 64,
                 name: str = "opt") -> None:
        if decompose not in ("alternating", "omp"):
            raise ConfigError(f"decompose must be 'alternating' or 'omp', got {decompose!r}")
        self.sdr, self.n_iter, self.decompose = sdr, int(n_iter), decompose
        self.num_grid, self.name = int(num_grid), name

    def design(self, problem: YangSomSubframe) -> Design:
        w, feasible = self.sdr.solve(problem)
        k, s = problem.f_rf.shape[-1], problem.p.shape[-2]
        if self.decompose == "omp":
            res = omp_decompose(w, problem.bits, self.num_grid, power=float(k * s))
        else:
            res = hybrid_decompose(w, problem.bits, self.n_iter, power=float(k * s))
        return hybrid_design(problem, res.f_rf, res.p, feasible=feasible,
                             decomposition_error=res.error, note=self.sdr.note)


class IdealDesigner:
    """``ideal``: the fully digital Stage I precoder (module docstring); ``w`` is that
    precoder, ``extras["step_f_rf"]``/``["step_p"]`` its Stage II hybrid (to advance the
    env)."""

    def __init__(self, sdr: SdrStage, *, n_iter: int = 20, name: str = "ideal") -> None:
        self.sdr, self.n_iter, self.name = sdr, int(n_iter), name

    def design(self, problem: YangSomSubframe) -> Design:
        w, feasible = self.sdr.solve(problem)
        k, s = problem.f_rf.shape[-1], problem.p.shape[-2]
        res = hybrid_decompose(w, problem.bits, self.n_iter, power=float(k * s))
        return Design(w=w, extras={"step_f_rf": res.f_rf, "step_p": res.p},
                      info={"feasible": feasible, "note": self.sdr.note})


class OrthogonalBound:
    """``orthogonal``: time sharing between :math:`(R^*, 0)` and :math:`(0, J^*)`, fraction
    ``share`` (default ψ) for communication (module docstring)."""

    def __init__(self, share: float | None = None, name: str = "orthogonal") -> None:
        if share is not None and not 0.0 <= share <= 1.0:
            raise ConfigError(f"share must lie in [0, 1], got {share!r}")
        self.share, self.name = share, name

    def design(self, problem: YangSomSubframe) -> Design:
        assert problem.rate_star is not None and problem.fisher_star is not None
        beta = float(problem.weight if self.share is None else self.share)
        metrics = metrics_from(beta * problem.rate_star, (1.0 - beta) * problem.fisher_star,
                               problem.rate_star, problem.fisher_star, problem.weight,
                               problem.p.shape[-2])
        w = torch.zeros_like(hybrid_precoder(problem.f_rf, problem.p))  # not a precoder
        return Design(w=w, extras={"step_f_rf": problem.f_rf, "step_p": problem.p},
                      info={"metrics": metrics})


# --------------------------------------------------------------------------------------------
# MP-based predictive beamforming
# --------------------------------------------------------------------------------------------


def _cv_transition(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([x[0] + x[1], x[1]])


def _angle_observation(x: torch.Tensor) -> torch.Tensor:
    return x[:1]


def _cv_jacobian(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=x.dtype, device=x.device)


def _angle_jacobian(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0]], dtype=x.dtype, device=x.device)


class MpDesigner:
    r"""``mp``: Kalman (Gaussian message passing) prediction of each user's angle on a
    constant-velocity chain, state :math:`(\theta, \dot\theta)` per subframe.

    The estimate seen at subframe ``n`` observes the users' angles of subframe
    :math:`\max(n-1, 0)` (the preamble scan for ``n = 0``, the echo of subframe ``n − 1``
    otherwise; :mod:`isaclearn.rl.envs.yang_som`) with std ``angle_std_deg``. The filter
    (:func:`isaclearn.tracking.ekf_predict`/:func:`~isaclearn.tracking.ekf_update` on the linear
    model, i.e. the Kalman recursion) is started at subframe 0 from that estimate with
    :math:`\dot\theta = 0` (std ``rate0_std_deg``), updated with each new estimate and predicted
    one subframe ahead; the beams point at the prediction (quantized), equal power.

    Parameters
    ----------
    angle_std_deg : float
        Measurement std (the env's ``user_angle_std_deg``).
    rate_std_deg : float
        Process noise std of :math:`\dot\theta` per subframe (degrees).
    rate0_std_deg : float
        Prior std of :math:`\dot\theta` (degrees per subframe).
    """

    def __init__(self, angle_std_deg: float = 1.0, rate_std_deg: float = 0.01,
                 rate0_std_deg: float = 0.2, name: str = "mp") -> None:
        for nm, v in (("angle_std_deg", angle_std_deg), ("rate_std_deg", rate_std_deg),
                      ("rate0_std_deg", rate0_std_deg)):
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{nm} must be positive and finite, got {v!r}")
        self.r = (angle_std_deg * _DEG) ** 2
        self.q = (rate_std_deg * _DEG) ** 2
        self.p0 = (rate0_std_deg * _DEG) ** 2
        self.name = name
        self._state: tuple[Any, int, torch.Tensor, torch.Tensor] | None = None

    def predict_angles(self, problem: YangSomSubframe) -> torch.Tensor:
        """Predicted user angles ``[B, K]`` at the current subframe (updates the filter)."""
        n = _subframe(problem)
        z = problem.est_user_theta_rad.to(torch.float64)  # [B, K]
        key = frame_key(problem)
        t_meas = max(n - 1, 0)
        dt = z.dtype
        eye_q = torch.tensor([0.0, self.q], dtype=dt).expand(*z.shape, 2)
        r = torch.full(z.shape + (1,), self.r, dtype=dt)
        if self._state is None or self._state[0] != key or n == 0 or self._state[1] > t_meas:
            x = torch.stack([z, torch.zeros_like(z)], dim=-1)
            cov = torch.diag(torch.tensor([self.r, self.p0], dtype=dt)).expand(
                *z.shape, 2, 2).clone()
            t_state = 0
            if n > 0:  # joined mid-frame: start at the measurement time
                t_state = t_meas
        else:
            _, t_state, x, cov = self._state
            for _ in range(t_meas - t_state):
                pred = ekf_predict(x, cov, _cv_transition, eye_q,
                                   transition_jacobian_fn=_cv_jacobian)
                x, cov = pred.x, pred.cov
            if n > 0:
                upd = ekf_update(x, cov, z[..., None], _angle_observation, r,
                                 observation_jacobian_fn=_angle_jacobian)
                x, cov = upd.x, upd.cov
            t_state = t_meas
        self._state = (key, t_state, x, cov)
        xp = x
        for _ in range(n - t_state):
            xp = ekf_predict(xp, cov, _cv_transition, eye_q,
                             transition_jacobian_fn=_cv_jacobian).x
        return xp[..., 0]

    def design(self, problem: YangSomSubframe) -> Design:
        theta = self.predict_angles(problem).to(problem.user_theta_rad.dtype)
        m = problem.f_rf.shape[-2]
        f_rf = _steering_beams(theta, m, problem.bits, problem.f_rf.dtype)
        p = torch.ones_like(problem.p)
        return hybrid_design(problem, f_rf, p)


# --------------------------------------------------------------------------------------------
# Greedy codebook
# --------------------------------------------------------------------------------------------


def preamble_channel(problem: YangSomSubframe) -> torch.Tensor:
    """``[B, S, S, K, M]`` block-diagonal channel from the preamble taps:
    :math:`\\hat{\\mathbf H}_m[m] = \\sum_d\\hat{\\mathbf H}_d e^{-j2\\pi md/S}`, no ICI."""
    s = problem.h.shape[1]
    diag = torch.fft.fft(problem.h_est, n=s, dim=1)  # [B, S, K, M]
    out = torch.zeros_like(problem.h)
    idx = torch.arange(s, device=out.device)
    out[:, idx, idx] = diag
    return out


class GreedyDesigner:
    """``greedy``: sequential codebook selection maximizing the wideband SE (module docstring).

    Parameters
    ----------
    num_grid : int
        Codebook size ``G`` (:func:`~isaclearn.solvers.hybrid.angular_dictionary`, phases
        quantized to ``bits``).
    csi : {"instant", "preamble"}
        Channel used for the selection.
    chunk : int
        Frames evaluated at once (memory: ``chunk · G · S² K M`` complex numbers).
    """

    def __init__(self, num_grid: int = 64, csi: Literal["instant", "preamble"] = "instant", *,
                 chunk: int = 8, name: str = "greedy") -> None:
        if csi not in ("instant", "preamble"):
            raise ConfigError(f"csi must be 'instant' or 'preamble', got {csi!r}")
        self.num_grid, self.csi, self.chunk, self.name = int(num_grid), csi, int(chunk), name

    def design(self, problem: YangSomSubframe) -> Design:
        h = problem.h if self.csi == "instant" else preamble_channel(problem)
        b, s, _, k, m = h.shape
        cand = quantize_phases(math.sqrt(m) * angular_dictionary(
            m, self.num_grid, dtype=h.dtype, device=h.device), problem.bits)  # [M, G]
        g = cand.shape[1]
        picks = torch.zeros(b, k, dtype=torch.int64, device=h.device)
        f_rf = torch.ones(b, m, k, dtype=h.dtype, device=h.device)
        scale = math.sqrt(problem.power / (m * k * s))
        for u in range(k):
            active = torch.zeros(k, dtype=h.dtype, device=h.device)
            active[: u + 1] = math.sqrt(k / (u + 1))  # equal power on the picked users
            best = []
            for lo in range(0, b, self.chunk):
                hi = min(b, lo + self.chunk)
                trial = f_rf[lo:hi, None].repeat(1, g, 1, 1)  # [c, G, M, K]
                trial[..., u] = cand.transpose(0, 1)[None]
                f = (trial[:, :, None] * active) * scale  # [c, G, 1, M, K]
                f = f.expand(-1, -1, s, -1, -1)
                rate = se(h[lo:hi, None], f, problem.noise_var)  # [c, G]
                best.append(rate.argmax(-1))
            picks[:, u] = torch.cat(best)
            f_rf[..., u] = cand.transpose(0, 1)[picks[:, u]]
        return hybrid_design(problem, f_rf, torch.ones_like(problem.p), codewords=picks)


# --------------------------------------------------------------------------------------------
# the method table and the rollout
# --------------------------------------------------------------------------------------------


def classical_designers(methods: Sequence[str], *, num_grid: int = 64,
                        sinr_db: Sequence[float] = (0.0, 10.0), opt_stride: int = 1,
                        opt_subcarrier_stride: int = 1, opt_iter: int = 20,
                        opt_ici_rounds: int = 1,
                        opt_ici: Literal["iterate", "joint"] = "iterate",
                        opt_tau: Literal["relative", "db"] = "relative",
                        opt_fractions: Sequence[float] = (0.02, 0.05, 0.1, 0.2, 0.4),
                        angle_std_deg: float = 1.0,
                        mp_rate_std_deg: float = 0.01,
                        greedy_csi: Literal["instant", "preamble"] = "instant",
                        ) -> dict[str, Any]:
    """The classical designers named in ``methods`` (``opt``, ``omp``, ``ideal``, ``mp``,
    ``greedy``, ``orthogonal``), the SDR-based ones sharing one :class:`SdrStage`; unknown
    names are left out (the caller checks them against its learned table)."""
    sdr = SdrStage(sinr_db, stride=opt_stride, subcarrier_stride=opt_subcarrier_stride,
                   ici_rounds=opt_ici_rounds, ici=opt_ici, tau_mode=opt_tau,
                   fractions=opt_fractions)
    table: dict[str, Callable[[], Any]] = {
        "opt": lambda: OptDesigner(sdr, n_iter=opt_iter, name="opt"),
        "omp": lambda: OptDesigner(sdr, decompose="omp", num_grid=num_grid, name="omp"),
        "ideal": lambda: IdealDesigner(sdr, n_iter=opt_iter),
        "mp": lambda: MpDesigner(angle_std_deg, mp_rate_std_deg),
        "greedy": lambda: GreedyDesigner(num_grid, greedy_csi),
        "orthogonal": lambda: OrthogonalBound(),
    }
    return {m: table[m]() for m in methods if m in table}


CLASSICAL_METHODS = ("opt", "omp", "ideal", "mp", "greedy", "orthogonal")
"""Names :func:`classical_designers` knows."""


def rollout_designer(core: YangSomCore, designer: Any, episodes: int, seed: int, *,
                     method: str | None = None) -> list[dict[str, Any]]:
    """Run ``episodes`` frames with a designer and return one row per frame.

    The frames are those of :func:`isaclearn.rl.rollout.rollout` with the same core
    configuration, batch size and ``seed`` (``make_generator(seed)``, one reset per round of
    ``B`` frames). Each subframe: :func:`subframe_problem` → ``designer.design`` → metrics by
    :func:`~isaclearn.systems.yang_som.evaluation.evaluate` → the env advanced with the design's
    hybrid (:meth:`~isaclearn.rl.envs.yang_som.YangSomCore.step_precoder`).

    Returns
    -------
    list of dict
        ``method``, ``seed``, ``episode``, ``reward`` (the frame's return), ``steps``, the
        frame means of ``se``, ``se_per_hz``, ``fisher``, ``crlb``, ``reward_rate``,
        ``reward_sense``, ``crlb_db`` (dB of the mean CRLB), ``seconds_per_frame`` (design time
        only, per frame) and ``note`` (the designer's, if any).
    """
    name = method or getattr(designer, "name", type(designer).__name__)
    generator = make_generator(int(seed), core.device)
    b, t = core.batch_size, int(core.config.max_episode_steps)
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        for first in range(0, episodes, b):
            count = min(b, episodes - first)
            core.reset(generator=generator)
            sums: dict[str, torch.Tensor] = {}
            total = torch.zeros(b, dtype=torch.float64)
            seconds, note = 0.0, ""
            for _ in range(t):
                problem = subframe_problem(core)
                start = time.perf_counter()
                design = designer.design(problem)
                seconds += time.perf_counter() - start
                note = str(design.info.get("note", "") or note)
                metrics = evaluate(problem, design)
                for key in FRAME_METRICS:
                    sums[key] = sums.get(key, 0.0) + metrics[key].to(torch.float64).cpu()
                total += metrics["reward"].to(torch.float64).cpu()
                ex = design.extras
                f_rf = ex["f_rf"] if "f_rf" in ex else ex["step_f_rf"]
                p = ex["p"] if "p" in ex else ex["step_p"]
                core.step_precoder(f_rf, p)
            for i in range(count):
                row: dict[str, Any] = {"method": name, "seed": int(seed), "episode": first + i,
                                       "reward": float(total[i]), "steps": t}
                row.update({k: float(v[i]) / t for k, v in sums.items()})
                row["crlb_db"] = 10.0 * math.log10(row["crlb"]) if row["crlb"] > 0 else math.nan
                row["seconds_per_frame"] = seconds / b
                if note:
                    row["note"] = note
                rows.append(row)
    return rows


def frame_rows_from_rollout(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of :func:`isaclearn.rl.rollout.rollout` on a YangSom core (learned policies) in the
    form of :func:`rollout_designer`'s: ``crlb_db`` recomputed as the dB of the frame's mean
    CRLB (``rollout`` averages the per-subframe dB values)."""
    out = []
    for r in rows:
        row = dict(r)
        row["crlb_db"] = 10.0 * math.log10(row["crlb"]) if row["crlb"] > 0 else math.nan
        out.append(row)
    return out

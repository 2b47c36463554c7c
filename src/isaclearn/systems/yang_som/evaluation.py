r"""Scoring of yang_som designs, built only from :mod:`isaclearn.metrics` and the env's own
normalizers, so that the env reward, the designers' scores and the experiments' columns are the
same functions.

A *subframe problem* (:class:`YangSomSubframe`) is the env's
:class:`~isaclearn.rl.envs.yang_som.YangSomProblem` of the current subframe plus what the reward
(38) needs: :math:`R^*` (the env's per-subframe WMMSE normalizer), :math:`J^*` (the sensing-only
optimum) and the scalars ``num_rx``, ``num_symbols`` (``L``) and ``weight`` (ψ). It is built from
a running core by :func:`subframe_problem`.

A design is a :class:`~isaclearn.core.design.Design` whose ``w`` is the transmitted fully
digital precoder :math:`\sqrt{P_t/(N_t K S)}\,\mathbf F_{\rm RF}\operatorname{diag}(\mathbf
p_m)` ``[B, S, M, K]`` (watts) and whose ``extras`` hold the hybrid factors ``f_rf`` ``[B, M,
K]`` and ``p`` ``[B, S, K]`` (:math:`\sum|p|^2 = KS`). A design without ``f_rf`` (the fully
digital *ideal* boundary) carries the hybrid the env is advanced with in ``extras["step_f_rf"]``
/ ``extras["step_p"]``; a boundary that is not a precoder (*orthogonal*) puts its metrics in
``info["metrics"]``.

Metrics (``[B]`` per subframe): ``se`` = SE (8) with ICI of symbol 0 (bit per OFDM symbol,
summed over subcarriers and users; the paper's "bit/s/Hz" axis, since :math:`T_sM\Delta f = 1`),
``se_per_hz`` = ``se / S``, ``fisher`` = :math:`\sum_m J_m` (10), ``crlb`` = :math:`1/J` (11)
(rad²), ``crlb_db``, ``reward_rate`` = :math:`R/R^*`, ``reward_sense`` = :math:`J/J^*` and
``reward`` (38). These are exactly the env's step ``info`` (tested against
:meth:`~isaclearn.rl.envs.yang_som.YangSomCore.score_precoder`).

Frame rows: a rollout over ``T`` subframes gives one row per frame with the means over the
subframes (``reward`` is the frame's return :math:`\sum_n r^{(n)}`); ``crlb_db`` of a frame is
:math:`10\log_{10}` of its mean CRLB (spec §2: :math:`\overline{\mathrm{CRLB}}` is the mean over
``n``, plotted in dB). :func:`aggregate` turns frame rows into one row per method with the mean
and the 95 % confidence half-width (Student t) over frames; the CRLB mean is taken in linear
units over frames and then expressed in dB, its half-width by the delta method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.problem import BATCHED
from isaclearn.metrics.ofdm import se
from isaclearn.metrics.sensing import fisher_angle
from isaclearn.rl.envs.yang_som import YangSomConfig, YangSomCore, YangSomProblem, sensing_optimum
from isaclearn.solvers.hybrid import hybrid_precoder

__all__ = ["FRAME_METRICS", "METRIC_UNITS", "YangSomScenario", "YangSomSubframe", "aggregate",
           "evaluate", "hybrid_design", "make_scenario", "subframe_problem", "t_quantile"]

METRIC_UNITS = {
    "se": "bit/s/Hz",
    "crlb_db": "dB rad^2",
    "reward": "",
    "se_per_hz": "bit/s/Hz per subcarrier",
    "fisher": "rad^-2",
    "crlb": "rad^2",
    "reward_rate": "",
    "reward_sense": "",
}
"""The per-subframe metrics of :func:`evaluate` and their units (``se`` is the paper's (8))."""

FRAME_METRICS = ("se", "se_per_hz", "fisher", "crlb", "reward_rate", "reward_sense")
"""Per-subframe metrics averaged over a frame in the frame rows."""


@dataclass
class YangSomSubframe(YangSomProblem):
    """One subframe of every episode with the reward's normalizers (module docstring).

    Attributes
    ----------
    rate_star, fisher_star : torch.Tensor
        ``[B]`` :math:`R^*` (bit per OFDM symbol) and :math:`J^*` (rad⁻²) of the subframe.
    num_rx, num_symbols : int
        :math:`N_r` and ``L``.
    weight : float
        ψ of (38).
    """

    rate_star: torch.Tensor | None = field(default=None, metadata=BATCHED)
    fisher_star: torch.Tensor | None = field(default=None, metadata=BATCHED)
    num_rx: int = 8
    num_symbols: int = 4
    weight: float = 0.5


def subframe_problem(core: YangSomCore) -> YangSomSubframe:
    """The current subframe of a reset core as a :class:`YangSomSubframe` (no state change)."""
    c, e = core.config, core.episodes
    assert e is not None
    base = core.current_problem()
    rows = torch.arange(core.batch_size, device=core.device)
    n = base.subframe
    eta = base.alpha.abs().square() / c.noise_var
    if c.normalizer == "optimal":
        rate_star = e.rate_star[rows, n]
        fisher_star = sensing_optimum(base.target_theta_rad, num_antennas=c.num_antennas,
                                      num_rx=c.num_rx, radar_snr=eta,
                                      num_symbols=c.num_symbols, power=c.power)
    else:
        rate_star = torch.full_like(eta, c.rate_constant)
        fisher_star = torch.full_like(eta, c.fisher_constant)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return YangSomSubframe(**fields, rate_star=rate_star, fisher_star=fisher_star,
                           num_rx=c.num_rx, num_symbols=c.num_symbols, weight=float(c.weight))


def hybrid_design(problem: YangSomProblem, f_rf: torch.Tensor, p: torch.Tensor,
                  **info: Any) -> Design:
    """The :class:`Design` of a hybrid ``(f_rf, p)`` (``Σ|p|² = KS``) on ``problem``:
    ``w`` = the transmitted precoder in watts, ``extras`` = ``{"f_rf", "p"}``."""
    m, k = f_rf.shape[-2], f_rf.shape[-1]
    s = p.shape[-2]
    w = hybrid_precoder(f_rf, p) * math.sqrt(problem.power / (m * k * s))
    return Design(w=w, extras={"f_rf": f_rf, "p": p}, info=dict(info))


def evaluate(problem: YangSomSubframe, design: Design) -> dict[str, torch.Tensor]:
    """Per-instance metrics ``[B]`` of a design on a subframe (module docstring)."""
    metrics = design.info.get("metrics") if design.info else None
    if metrics is not None:
        return {k: torch.as_tensor(v) for k, v in metrics.items()}
    assert problem.rate_star is not None and problem.fisher_star is not None
    f = design.w.to(device=problem.h.device, dtype=problem.h.dtype)
    nv = problem.noise_var
    rate = se(problem.h, f, nv)
    r_x = f @ f.conj().transpose(-2, -1)
    eta = problem.alpha.abs().square() / nv
    fisher = fisher_angle(r_x, problem.target_theta_rad[:, None], num_rx=problem.num_rx,
                          radar_snr=eta[:, None], num_symbols=problem.num_symbols).sum(-1)
    return metrics_from(rate, fisher, problem.rate_star, problem.fisher_star, problem.weight,
                        f.shape[-3])


def metrics_from(rate: torch.Tensor, fisher: torch.Tensor, rate_star: torch.Tensor,
                 fisher_star: torch.Tensor, weight: float,
                 num_subcarriers: int) -> dict[str, torch.Tensor]:
    """The metric dict of a rate ``R`` and a Fisher information ``J`` (``[B]`` each)."""
    crlb = 1.0 / fisher
    rr, rs = rate / rate_star, fisher / fisher_star
    return {"se": rate, "se_per_hz": rate / num_subcarriers, "fisher": fisher, "crlb": crlb,
            "crlb_db": 10.0 * torch.log10(crlb), "reward_rate": rr, "reward_sense": rs,
            "reward": weight * rr + (1.0 - weight) * rs}


class YangSomScenario:
    """Scenario of the platform interface (``isaclearn evaluate``/``leaderboard``): ``sample``
    resets a core on the generator and returns subframe 0 of its frames."""

    def __init__(self, config: YangSomConfig) -> None:
        self.config = config

    def sample(self, batch: int, *, generator: torch.Generator) -> YangSomSubframe:
        core = YangSomCore(int(batch), self.config)
        core.reset(generator=generator)
        return subframe_problem(core)


def make_scenario(**overrides: Any) -> YangSomScenario:
    """The scenario with :class:`~isaclearn.rl.envs.yang_som.YangSomConfig` defaults (the quick
    sizes) and ``overrides``."""
    return YangSomScenario(YangSomConfig(**overrides))


def t_quantile(n: int) -> float:
    """The 97.5 % quantile of Student's t with ``n − 1`` degrees of freedom (NaN for n < 2)."""
    if n < 2:
        return math.nan
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def aggregate(rows: Sequence[Mapping[str, Any]], extra: Mapping[str, Any] | None = None
              ) -> list[dict[str, Any]]:
    """One row per ``method`` from frame rows: ``frames``, and for ``se``, ``se_per_hz``,
    ``reward``, ``reward_rate``, ``reward_sense`` the mean and ``<name>_ci`` (95 % half-width,
    Student t over frames); ``crlb_db`` = dB of the mean CRLB over frames with ``crlb_db_ci``
    (delta method); ``extra`` columns are added to every row, and the first row of a method
    passes on its non-metric columns (``seconds_per_frame``, ``note``)."""
    by_method: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_method.setdefault(str(r["method"]), []).append(r)
    out = []
    for method, rs in by_method.items():
        n = len(rs)
        q = t_quantile(n)
        row: dict[str, Any] = {"method": method, "frames": n}
        for col in ("se", "se_per_hz", "reward", "reward_rate", "reward_sense"):
            x = torch.tensor([float(r[col]) for r in rs], dtype=torch.float64)
            row[col] = float(x.mean())
            row[f"{col}_ci"] = float(q * x.std() / math.sqrt(n)) if n > 1 else math.nan
        c = torch.tensor([float(r["crlb"]) for r in rs], dtype=torch.float64)
        mean = float(c.mean())
        row["crlb_db"] = 10.0 * math.log10(mean) if mean > 0 else math.nan
        half = float(q * c.std() / math.sqrt(n)) if n > 1 else math.nan
        row["crlb_db_ci"] = 10.0 / math.log(10.0) * half / mean if mean > 0 else math.nan
        for key in ("seconds_per_frame", "note"):
            if key in rs[0]:
                row[key] = rs[0][key]
        row.update(extra or {})
        out.append(row)
    return out

r"""The ``convergence`` experiment of yang_som (``shared/papers/000_...txt``, Fig. 6a/6b; spec
``shared/specs/yang_som.md`` §5): training curves of the learned methods over seeds, the trained
policies and the reference designers scored on the same held-out frames, and the claims of the
figure computed from the rows.

Parts
-----
* **6a** trains ``drl_uu`` and ``drl_au`` (PSAC) and ``ac`` (SB3 DDPG, UU); the reference
  designers (the leader's ``opt``/``mp``, and ``hold``/``random`` from this module) appear as
  horizontal lines at their held-out reward.
* **6b** trains ``drl_pc``, ``drl_po`` and ``drl_co`` (PSAC, UU, input variants). ``drl_pc`` is
  the same agent as ``drl_uu`` (:data:`~isaclearn.systems.yang_som.learned.METHODS`): it is trained
  once (its checkpoint is ``drl_uu_seed<s>``) and its curve and evaluation rows are ``drl_uu``'s
  under the name ``drl_pc`` (column ``trained_as``).

Every method is trained with every seed of ``seeds`` by
:func:`~isaclearn.systems.yang_som.learned.train_method` (checkpoints in ``<run>/models``; a killed
run resumes inside an unfinished training and skips finished ones; ``workers > 0`` trains the
pending jobs as Ray tasks, :func:`~isaclearn.systems.yang_som.learned.train_sweep`).

Rows
----
``kind="curve"`` (one per method × seed × episode): ``part``, ``method``, ``seed``, ``episode``,
``reward`` (the cumulative reward of the frame :math:`\sum_n r^{(n)}` (38), mean over the ``B``
training frames, exploration on), ``reward_smooth`` (its trailing moving average over ``smooth``
episodes), ``se``, ``se_per_hz``, ``crlb_db``, ``reward_rate``, ``reward_sense``, ``trained_as``.
The reference designers add two ``kind="curve"`` rows each (``seed = -1``, first and last
episode, ``reward = reward_smooth`` = their held-out mean) so that the figure draws them as lines.

``kind="frame"`` (one per method × training seed × held-out frame; ``seed = -1`` for a
reference): ``frame``, ``reward``, ``se``, ``se_per_hz``, ``crlb_db``, ... All methods act on the
same ``eval_frames`` frames drawn with ``eval_seed`` (:func:`isaclearn.rl.rollout.rollout`: the
frames do not depend on the action scheme or on the method), greedily.

``kind="eval"`` (one per method): ``reward``, ``se``, ``crlb_db`` and their ``*_ci95`` — the mean
over frames of the per-frame value averaged over the training seeds, with the Student-t 95 %
half-width over frames — and ``frames``, ``seeds``.

Reference designers
-------------------
Classical designers (``design(problem) -> Design`` with ``extras = {"f_rf", "p"}``) are scored
by :func:`~isaclearn.systems.yang_som.designers.rollout_designer` on the same frames as the
policies' :func:`~isaclearn.rl.rollout.rollout`. :class:`HoldDesigner` keeps the starting
beam of the frame (``init="beam"``: the quantized steering vectors to the preamble estimates,
equal power); :class:`RandomDesigner` transmits a new uniformly random ``bits``-bit analog beam
with equal power every subframe. A reference may also be a policy with ``make_core(B)`` (as
:class:`~isaclearn.systems.yang_som.learned.LearnedPolicy`).

Claims (:func:`convergence_claims`)
-----------------------------------
* ``pc_beats_<ref>`` (6a: "DRL-PC final > Opt and > MP"): per held-out frame the difference
  ``drl_pc − ref`` of the reward (``drl_pc`` averaged over its seeds); holds when the lower end of
  the 95 % CI of the mean difference is above 0.
* ``psac_faster_than_ac`` (6a: "PSAC converges much faster than AC") and ``au_faster_than_uu``:
  :func:`episodes_to_reach` of the training curve averaged over the seeds (smoothed over
  ``smooth`` episodes; the value of each seed's own curve is reported too). PSAC
  (``drl_uu``, the same scheme as ``ac``) holds when its episodes are at most ``much_faster``
  × AC's; AU vs UU when AU needs fewer episodes. A method whose smoothed mean curve does not
  rise (final level ≤ start level) has not learned: the claim is then not decided
  (``holds = None``).
* ``po_narrow_gap`` (6b): relative gap ``(PC − PO)/|PC|`` of the held-out rewards; holds when it is
  at most ``narrow_gap``.
* ``co_lower_unstable`` (6b: "CO lower and unstable"): ``drl_co − drl_pc`` per frame (holds for
  "lower" when the CI's upper end is below 0) and the variance over seeds of the final training
  level (mean of the last ``smooth`` episodes); holds when CO is lower and its variance is larger.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.yang_som import YangSomCore, YangSomProblem
from isaclearn.rl.rollout import rollout
from isaclearn.solvers.hybrid import quantize_phases
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, check_fields
from isaclearn.systems.toolkit import record_once, sweep
from isaclearn.systems.yang_som.config import check_opt_ici
from isaclearn.systems.yang_som.designers import rollout_designer
from isaclearn.systems.yang_som.evaluation import hybrid_design
from isaclearn.systems.yang_som.learned import (
    METHODS,
    LearnJob,
    env_config,
    learned_designers,
    train_method,
    train_sweep,
)

__all__ = [
    "CONVERGENCE_PLOTS",
    "CONVERGENCE_PROFILES",
    "ConvergenceConfig",
    "HoldDesigner",
    "RandomDesigner",
    "builtin_references",
    "ci95",
    "convergence_experiment",
    "convergence_summary",
    "convergence_claims",
    "episodes_to_reach",
    "run_convergence",
    "trained_as",
]

PART_A = ("drl_uu", "drl_au", "ac")
"""Methods of Fig. 6a."""
PART_B = ("drl_pc", "drl_po", "drl_co")
"""Methods of Fig. 6b."""
_COLUMNS = ("reward", "se", "se_per_hz", "crlb_db", "reward_rate", "reward_sense")


def trained_as(method: str) -> str:
    """The method whose training a method reuses: ``drl_pc`` is ``drl_uu`` (module Parts)."""
    return "drl_uu" if method == "drl_pc" else method


# --------------------------------------------------------------------------------------------
# reference designers
# --------------------------------------------------------------------------------------------


class HoldDesigner:
    """Keep the precoder of the previous subframe: the frame's starting beam for the whole
    frame (the reference "hold")."""

    name = "hold"

    def design(self, problem: YangSomProblem) -> Design:
        """The hybrid design of the current ``(problem.f_rf, problem.p)``."""
        return hybrid_design(problem, problem.f_rf.clone(), problem.p.clone())


class RandomDesigner:
    """A new uniformly random ``B``-bit analog beam with equal power per subframe (the reference
    "random").

    Every entry of :math:`\\mathbf F_{RF}` is :math:`e^{j2\\pi b/2^B}` with ``b`` uniform in
    ``{0, ..., 2^B - 1}``, and ``p = 1`` (so :math:`\\sum|p|^2 = KS`).

    Parameters
    ----------
    seed : int
        Seed of the designer's own generator (made at the first ``design`` call; the frames'
        randomness is the environment's and is not touched).
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._generator: torch.Generator | None = None

    def design(self, problem: YangSomProblem) -> Design:
        """A random hybrid design for every frame of ``problem``."""
        f = problem.f_rf
        if self._generator is None:
            self._generator = torch.Generator(device=f.device).manual_seed(self.seed)
        levels = 2 ** int(problem.bits)
        b = torch.randint(0, levels, f.shape, generator=self._generator, device=f.device)
        phase = (2.0 * math.pi / levels) * b.to(torch.float64)
        w = quantize_phases(torch.polar(torch.ones_like(phase), phase).to(f.dtype),
                            int(problem.bits))
        return hybrid_design(problem, w, torch.ones_like(problem.p))


def builtin_references() -> dict[str, Any]:
    """The references of this module by name: ``hold`` and ``random``."""
    return {"hold": HoldDesigner(), "random": RandomDesigner(seed=0)}


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and Student-t 95 % half-width of ``values`` (half-width NaN for one value).

    Examples
    --------
    >>> m, h = ci95([1.0, 2.0, 3.0])
    >>> m, round(h, 4)
    (2.0, 2.4841)
    """
    from scipy import stats

    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, float(stats.t.ppf(0.975, n - 1)) * math.sqrt(var / n)


def _smooth(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average (partial windows at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def episodes_to_reach(curve: Sequence[float], *, window: int, reach: float = 0.9
                      ) -> int | None:
    """Episodes until a training curve's moving average first covers ``reach`` of its rise.

    With :math:`\\bar r_i` the trailing moving average over ``window`` episodes, the start level
    :math:`s = \\bar r_{w-1}` (the mean of the first ``window`` episodes) and the final level
    :math:`f = \\bar r_{N-1}` (the mean of the last ``window``), the result is :math:`i + 1` for
    the first episode ``i`` with :math:`\\bar r_i \\ge s + \\text{reach}\\,(f - s)`. (With a
    start level of 0 this is "reaching ``reach`` of the final smoothed reward".)

    Returns
    -------
    int or None
        Episodes; ``None`` when the curve does not rise (:math:`f \\le s`: nothing learned) or
        is shorter than ``window``.

    Examples
    --------
    >>> episodes_to_reach([0.0] * 10 + [1.0] * 10, window=2)
    12
    >>> episodes_to_reach([1.0] * 20, window=2) is None
    True
    """
    if window < 1:
        raise ConfigError(f"window must be >= 1, got {window}")
    if len(curve) < window:
        return None
    s = _smooth(curve, window)
    start, final = s[window - 1], s[-1]
    if not final > start:
        return None
    level = start + reach * (final - start)
    return next(i + 1 for i, v in enumerate(s) if i >= window - 1 and v >= level)


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


@dataclass
class ConvergenceConfig:
    """Fig. 6a/6b: training curves, held-out scores and the figure's claims."""

    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds of every learned method (≥ 3 for the variance claim)."""
    episodes: int = 2000
    """Training episodes :math:`N_{ep}` per method and seed."""
    train_batch: int = 1
    """Parallel frames per training episode."""
    part_a: tuple[str, ...] = PART_A
    """Learned methods of Fig. 6a."""
    part_b: tuple[str, ...] = PART_B
    """Learned methods of Fig. 6b."""
    references: tuple[str, ...] = ("hold", "random")
    """Reference designers scored on the held-out frames: ``hold``, ``random`` (this module)
    and the names of ``reference_designers`` given to :func:`run_convergence` (``opt``,
    ``mp``)."""
    eval_frames: int = 100
    """Held-out frames every method is scored on."""
    eval_seed: int = 1_000_003
    """Seed of the held-out frames (not a training seed)."""
    eval_batch: int = 50
    """Held-out frames run side by side."""
    workers: int = 0
    """Ray workers for the trainings (0: one after another in this process)."""
    # ---- environment (spec §1, Fig. 6: SNR 0 dB, U 8, ψ 0.5) ----
    num_antennas: int = 8
    """Transmit antennas :math:`N_t`."""
    num_rx: int = 8
    """Receive antennas :math:`N_r`."""
    num_subcarriers: int = 8
    """Subcarriers ``M``."""
    num_users: int = 2
    """Users ``U``."""
    max_users: int = 4
    """Padded users :math:`U^{max}`."""
    num_taps: int = 4
    """Taps :math:`N_d`."""
    num_paths: int = 4
    """Paths per user :math:`P_u`."""
    cp_len: int = 8
    """Cyclic prefix :math:`L_{CP}`."""
    num_symbols: int = 4
    """OFDM symbols per subframe ``L``."""
    subframes: int = 10
    """Subframes per frame ``T`` (steps per episode)."""
    num_grid: int = 16
    """Angular dictionary size :math:`G_t`."""
    grid_x: int = 16
    """Occupancy-grid angle cells :math:`N_x`."""
    grid_y: int = 16
    """Occupancy-grid range cells :math:`N_y`."""
    wmmse_iter: int = 10
    """WMMSE iterations of the rate normalizer :math:`R^*`."""
    snr_db: float = 0.0
    """SNR :math:`P_t/\\sigma_c^2`, dB."""
    weight: float = 0.5
    """Trade-off weight ψ of the reward (38)."""
    classical: tuple[str, ...] = ("opt", "mp")
    """Classical references of :mod:`~isaclearn.systems.yang_som.designers` the registered
    experiment scores beside ``references`` (Fig. 6a's Opt and MP lines)."""
    opt_stride: int = 10
    """Opt's SDR solved every ``opt_stride`` subframes (1 = the paper's algorithm)."""
    opt_fractions: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4)
    """Opt's SINR targets as fractions of R* (the sweeps' ``opt_fractions``,
    :class:`~isaclearn.systems.yang_som.config.YangSomRunConfig`)."""
    opt_subcarrier_stride: int = 1
    """Opt's SDR solved on every ``opt_subcarrier_stride``-th subcarrier (1 = all)."""
    opt_iter: int = 20
    """N_iter of Opt's Stage II."""
    opt_ici_rounds: int = 1
    """ICI-aware rounds of Opt's Stage I (``opt_ici="iterate"``)."""
    opt_ici: str = "iterate"
    """Opt's Stage I ICI: ``iterate`` or ``joint`` (the exact coupled SDP, toy sizes only;
    as the sweeps' ``opt_ici``)."""
    # ---- agents ----
    minibatch: int = 16
    """Minibatch :math:`N_b` of PSAC and AC."""
    batches_per_episode: int = 4
    """PSAC updates per episode (paper 16)."""
    buffer_size: int = 512
    """Replay buffer size (paper 1024)."""
    learning_starts: int = 10
    """AC: transitions before its first update."""
    # ---- claims ----
    smooth: int = 0
    """Moving-average window of the curves, episodes (0: a tenth of ``episodes``)."""
    reach: float = 0.9
    """Fraction of the rise that counts as converged (:func:`episodes_to_reach`)."""
    much_faster: float = 0.5
    """"Much faster": PSAC needs at most this fraction of AC's episodes."""
    narrow_gap: float = 0.1
    """"Narrow gap": PO's held-out reward at most this fraction below PC's."""

    def __post_init__(self) -> None:
        self.seeds = tuple(int(s) for s in self.seeds)
        self.part_a, self.part_b = tuple(self.part_a), tuple(self.part_b)
        self.references = tuple(self.references)
        check_fields(self, at_least_1=(
            "episodes", "train_batch", "eval_frames", "eval_batch", "num_antennas", "num_rx",
            "num_subcarriers", "num_users", "max_users", "num_taps", "num_paths",
            "num_symbols", "subframes", "num_grid", "grid_x", "grid_y", "wmmse_iter",
            "minibatch", "batches_per_episode", "buffer_size", "opt_stride",
            "opt_subcarrier_stride", "opt_iter", "opt_ici_rounds"),
            positive=("opt_fractions",),
            at_least_0=("workers", "smooth", "learning_starts"),
            unit_interval=("weight", "reach", "much_faster", "narrow_gap"))
        if not self.seeds:
            raise ConfigError("seeds must not be empty")
        check_opt_ici(self.opt_ici, self.num_subcarriers, self.num_users, self.num_antennas)
        for name in ("part_a", "part_b"):
            bad = [m for m in getattr(self, name) if m not in METHODS or m == "dqn"]
            if bad:
                raise ConfigError(f"{name}: unknown methods {bad}; choose from "
                                  f"{sorted(set(METHODS) - {'dqn'})}")
        clash = sorted(set(self.references) & set(METHODS))
        if clash:
            raise ConfigError(f"references {clash} are names of learned methods")

    @property
    def window(self) -> int:
        """The moving-average window in episodes."""
        return self.smooth if self.smooth > 0 else max(1, self.episodes // 10)

    def env_kwargs(self) -> dict[str, Any]:
        """Fields of :class:`~isaclearn.rl.envs.yang_som.YangSomConfig` (the methods set the
        scheme)."""
        return {"num_antennas": self.num_antennas, "num_rx": self.num_rx,
                "num_subcarriers": self.num_subcarriers, "num_users": self.num_users,
                "max_users": self.max_users, "num_taps": self.num_taps,
                "num_paths": self.num_paths, "cp_len": self.cp_len,
                "num_symbols": self.num_symbols, "max_episode_steps": self.subframes,
                "num_grid": self.num_grid, "grid_x": self.grid_x, "grid_y": self.grid_y,
                "wmmse_iter": self.wmmse_iter, "snr_db": self.snr_db, "weight": self.weight}

    def agent_kwargs(self, method: str) -> dict[str, Any]:
        """``agent_kwargs`` of :func:`~isaclearn.systems.yang_som.learned.train_method`."""
        if METHODS[method].agent == "psac":
            return {"batch_size": self.minibatch, "batches_per_episode":
                    self.batches_per_episode, "buffer_size": self.buffer_size}
        return {"batch_size": self.minibatch, "buffer_size": self.buffer_size,
                "learning_starts": self.learning_starts}


CONVERGENCE_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"episodes": 30, "seeds": (0, 1, 2), "eval_frames": 20, "eval_batch": 20,
              "opt_stride": 5},
    "paper": {"episodes": 2000, "seeds": (0, 1, 2), "eval_frames": 100, "eval_batch": 10,
              "num_antennas": 32, "num_rx": 32, "num_subcarriers": 32, "num_users": 8,
              "max_users": 16, "num_taps": 8, "num_paths": 8, "cp_len": 8, "num_symbols": 32,
              "subframes": 100, "num_grid": 64, "grid_x": 60, "grid_y": 60,
              "wmmse_iter": 30, "minibatch": 64, "batches_per_episode": 16,
              "buffer_size": 1024, "learning_starts": 100},
}
"""Profiles of :class:`ConvergenceConfig`: ``quick`` (the small environment, 30 episodes × 3
seeds × 5 trainings, a few minutes on one core) and ``paper`` (Table II sizes, 2000 episodes)."""

CONVERGENCE_PLOTS = [
    PlotSpec("convergence_6a.png", x="episode", y=["reward_smooth"],
             where={"kind": "curve", "part": "6a"}, title="Fig. 6a (references: held-out)",
             ylabels=["reward per frame (moving avg.)"]),
    PlotSpec("convergence_6b.png", x="episode", y=["reward_smooth"],
             where={"kind": "curve", "part": "6b"}, title="Fig. 6b: input variants",
             ylabels=["reward per frame (moving avg.)"]),
]
"""Figures drawn from the rows (means over seeds)."""


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def _curve_rows(cfg: ConvergenceConfig, part: str, method: str,
                rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: int(r["episode"]))
    smooth = _smooth([float(r["reward"]) for r in rows], cfg.window)
    return [{"kind": "curve", "part": part, "method": method, "seed": int(r["seed"]),
             "episode": int(r["episode"]), **{c: float(r[c]) for c in _COLUMNS if c in r},
             "reward_smooth": s, "trained_as": trained_as(method)}
            for r, s in zip(rows, smooth)]


def _eval_rows(method: str, per_seed: Mapping[int, Sequence[Mapping[str, Any]]]
               ) -> list[dict[str, Any]]:
    """Frame rows and the method's ``eval`` row (seed-averaged per frame, CI over frames)."""
    out: list[dict[str, Any]] = []
    for seed, rows in per_seed.items():
        for r in rows:
            out.append({"kind": "frame", "method": method, "seed": int(seed),
                        "frame": int(r["episode"]),
                        **{c: float(r[c]) for c in _COLUMNS if c in r}})
    agg: dict[str, Any] = {"kind": "eval", "method": method, "seeds": len(per_seed)}
    for col in ("reward", "se", "se_per_hz", "crlb_db"):
        by_frame = _frame_means(out, method, col)
        mean, half = ci95(list(by_frame.values()))
        agg[col], agg[f"{col}_ci95"] = mean, half
        agg["frames"] = len(by_frame)
    return [*out, agg]


def _frame_means(rows: Sequence[Mapping[str, Any]], method: str, col: str) -> dict[int, float]:
    """Per held-out frame, the mean over the method's seeds of ``col``."""
    acc: dict[int, list[float]] = {}
    for r in rows:
        if r.get("kind") == "frame" and r["method"] == method and col in r:
            acc.setdefault(int(r["frame"]), []).append(float(r[col]))
    return {f: sum(v) / len(v) for f, v in sorted(acc.items())}


def _reference_rollout(name: str, ref: Any, env: Any, cfg: ConvergenceConfig
                       ) -> list[dict[str, Any]]:
    batch = min(cfg.eval_batch, cfg.eval_frames)
    if hasattr(ref, "design"):  # the same frames as rollout() with this batch size (tested)
        core = YangSomCore(batch, env_config("drl_uu", env))
        return rollout_designer(core, ref, cfg.eval_frames, cfg.eval_seed, method=name)
    if hasattr(ref, "make_core"):
        return rollout(ref.make_core, ref, cfg.eval_frames, cfg.eval_seed, batch_size=batch)
    raise ConfigError(f"a reference must be a designer (design(problem)) or a policy with "
                      f"make_core, got {type(ref).__name__}")


def run_convergence(cfg: ConvergenceConfig, ctx: RunContext,
                    reference_designers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run Fig. 6a/6b (module docstring): train, score on held-out frames, compute the claims.

    Parameters
    ----------
    cfg : ConvergenceConfig
        The configuration.
    ctx : RunContext
        Records the rows (a recorded key is skipped on resume); ``ctx.out_dir / "models"``
        holds the checkpoints (a temporary folder when ``ctx.out_dir`` is ``None``).
    reference_designers : mapping of str to designer, optional
        Further references by name (``opt``, ``mp``), scored besides ``cfg.references``
        (a name given here replaces a built-in one): designers with ``design(problem) ->
        Design`` (scored by ``rollout_designer``), or policies with ``make_core``. Names
        in ``cfg.references`` that are neither given here nor built in are refused.

    Returns
    -------
    dict
        The summary: ``eval`` (per method the held-out means and CIs), ``final_training``
        (per method the final smoothed training level per seed), ``claims``
        (:func:`convergence_claims`) and ``notes``.

    Raises
    ------
    ConfigError
        An unknown reference.
    """
    given = dict(reference_designers or {})
    clash = sorted(set(given) & set(METHODS))
    if clash:
        raise ConfigError(f"reference_designers {clash} are names of learned methods")
    refs: dict[str, Any] = {**builtin_references(), **given}
    names = list(dict.fromkeys([*cfg.references, *given]))
    unknown = [r for r in names if r not in refs]
    if unknown:
        raise ConfigError(f"references {unknown} are neither built in (hold, random) nor "
                          f"given in reference_designers ({sorted(reference_designers or {})})")
    env = cfg.env_kwargs()
    points = [(part, m, s) for part, ms in (("6a", cfg.part_a), ("6b", cfg.part_b))
              for m in ms for s in cfg.seeds]
    learned = list(dict.fromkeys(m for _, m, _ in points))
    with ExitStack() as stack:
        if ctx.out_dir is None:
            models = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            models = Path(ctx.out_dir) / "models"

        def job(method: str, seed: int) -> LearnJob:
            base = trained_as(method)
            return LearnJob(method=base, env_kwargs=env, seed=seed, episodes=cfg.episodes,
                            out_dir=str(models), batch_size=cfg.train_batch,
                            agent_kwargs=cfg.agent_kwargs(base))

        def key(p: tuple[str, str, int]) -> str:
            return f"curve:part={p[0]},method={p[1]},seed={p[2]}"

        if cfg.workers > 0:
            pending = list(dict.fromkeys((trained_as(p[1]), p[2]) for p in points
                                         if not ctx.is_done(key(p))))
            train_sweep([job(m, s) for m, s in pending], workers=cfg.workers, log=ctx.log)

        def train(p: tuple[str, str, int]) -> list[dict[str, Any]]:
            part, method, seed = p
            j = job(method, seed)
            rows = train_method(j.method, j.env_kwargs, seed=j.seed, episodes=j.episodes,
                                out_dir=j.out_dir, batch_size=j.batch_size,
                                agent_kwargs=j.agent_kwargs, log=_throttled(ctx))
            return _curve_rows(cfg, part, method, rows)

        sweep(ctx, points, key=key, run_point=train, desc="train")

        def score(method: str) -> list[dict[str, Any]]:
            base = trained_as(method)
            per_seed = {}
            for seed in cfg.seeds:
                policy = learned_designers(models, env, [base], seed)[base]
                per_seed[seed] = policy.evaluate(cfg.eval_frames, cfg.eval_seed,
                                                 batch_size=cfg.eval_batch)
            return _eval_rows(method, per_seed)

        sweep(ctx, learned, key=lambda m: f"eval:method={m}", run_point=score, desc="evaluate")

    def score_ref(name: str) -> list[dict[str, Any]]:
        rows = _eval_rows(name, {-1: _reference_rollout(name, refs[name], env, cfg)})
        mean = rows[-1]["reward"]
        lines = [{"kind": "curve", "part": "6a", "method": name, "seed": -1, "episode": e,
                  "reward": mean, "reward_smooth": mean, "trained_as": "reference"}
                 for e in (0, cfg.episodes - 1)]
        return rows + lines

    for name in names:
        record_once(ctx, f"eval:method={name}", partial(score_ref, name),
                    desc=f"reference {name}")
    rows = ctx.rows()
    summary = convergence_summary(rows, cfg)
    for claim, entry in summary["claims"].items():
        ctx.log(f"{claim}: {entry['verdict']} ({entry['text']})")
    return summary


def _throttled(ctx: RunContext) -> Callable[[str], None]:
    import time

    last = [-math.inf]

    def log(line: str) -> None:
        now = time.monotonic()
        if now - last[0] >= ctx.log_interval_s:
            last[0] = now
            ctx.log(line)
    return log


# --------------------------------------------------------------------------------------------
# summary and claims
# --------------------------------------------------------------------------------------------


def _curves(rows: Sequence[Mapping[str, Any]], method: str) -> dict[int, list[float]]:
    """Per seed, the raw training curve of ``method`` in episode order."""
    acc: dict[int, list[tuple[int, float]]] = {}
    for r in rows:
        if r.get("kind") == "curve" and r["method"] == method and int(r["seed"]) >= 0:
            acc.setdefault(int(r["seed"]), []).append((int(r["episode"]), float(r["reward"])))
    return {s: [v for _, v in sorted(c)] for s, c in sorted(acc.items())}


def _paired(rows: Sequence[Mapping[str, Any]], a: str, b: str, col: str = "reward"
            ) -> dict[str, Any] | None:
    """Mean and 95 % CI over the common held-out frames of ``a − b`` (seed-averaged)."""
    fa, fb = _frame_means(rows, a, col), _frame_means(rows, b, col)
    common = sorted(set(fa) & set(fb))
    if not common:
        return None
    diffs = [fa[f] - fb[f] for f in common]
    mean, half = ci95(diffs)
    return {"diff": mean, "ci95": [mean - half, mean + half], "frames": len(common),
            a: sum(fa[f] for f in common) / len(common),
            b: sum(fb[f] for f in common) / len(common)}


def _verdict(holds: bool | None) -> str:
    return {True: "holds", False: "does not hold", None: "not decided"}[holds]


def _speed(rows: Sequence[Mapping[str, Any]], method: str, window: int, reach: float
           ) -> dict[str, Any]:
    curves = _curves(rows, method)
    per_seed = {s: episodes_to_reach(c, window=window, reach=reach) for s, c in curves.items()}
    n = min((len(c) for c in curves.values()), default=0)
    mean_curve = [sum(c[i] for c in curves.values()) / len(curves) for i in range(n)]
    smooth = _smooth(mean_curve, window) if n >= window else []
    return {"per_seed": per_seed,
            "mean": episodes_to_reach(mean_curve, window=window, reach=reach) if n else None,
            "start": smooth[window - 1] if smooth else None,
            "final": smooth[-1] if smooth else None}


def _final_levels(rows: Sequence[Mapping[str, Any]], method: str, window: int
                  ) -> dict[int, float]:
    return {s: sum(c[-window:]) / len(c[-window:])
            for s, c in _curves(rows, method).items() if c}


def _variance(values: Sequence[float]) -> float:
    if len(values) < 2:
        return math.nan
    m = sum(values) / len(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def convergence_claims(rows: Sequence[Mapping[str, Any]], *, window: int, reach: float = 0.9,
                       much_faster: float = 0.5, narrow_gap: float = 0.1,
                       references: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """The claims of Fig. 6a/6b from the rows (module Claims).

    Parameters
    ----------
    rows : sequence of dict
        ``kind="curve"`` and ``kind="frame"`` rows (module Rows).
    window : int
        Moving-average window of the curves, episodes.
    reach, much_faster, narrow_gap : float
        Thresholds (:class:`ConvergenceConfig`).
    references : sequence of str
        References DRL-PC is compared with (those without frame rows are skipped).

    Returns
    -------
    dict
        Per claim: ``holds`` (bool or ``None`` when it cannot be decided), ``verdict``
        ("holds" / "does not hold" / "not decided"), ``text`` (the numbers in words) and the
        numbers.
    """
    claims: dict[str, dict[str, Any]] = {}
    for ref in references:
        p = _paired(rows, "drl_pc", ref)
        if p is None:
            continue
        holds = p["ci95"][0] > 0
        claims[f"pc_beats_{ref}"] = {
            **p, "holds": holds, "verdict": _verdict(holds),
            "text": f"held-out reward drl_pc {p['drl_pc']:.4g} vs {ref} {p[ref]:.4g}, "
                    f"paired difference {p['diff']:.4g} (95 % CI {p['ci95'][0]:.4g} to "
                    f"{p['ci95'][1]:.4g}) over {p['frames']} frames"}

    def faster(fast: str, slow: str, factor: float, label: str) -> dict[str, Any] | None:
        a, b = _speed(rows, fast, window, reach), _speed(rows, slow, window, reach)
        if not a["per_seed"] or not b["per_seed"]:
            return None
        holds: bool | None
        if a["mean"] is None or b["mean"] is None:
            holds, why = None, "a curve does not rise over the run (nothing learned): " \
                               "speed not comparable"
            ratio = None
        else:
            ratio = a["mean"] / b["mean"]
            holds = ratio <= factor if factor < 1 else a["mean"] < b["mean"]
            why = f"ratio {ratio:.3g} ({label})"
        why += (f"; smoothed seed-mean level start -> final: {fast} {a['start']:.4g} -> "
                f"{a['final']:.4g}, {slow} {b['start']:.4g} -> {b['final']:.4g}"
                if a["start"] is not None and b["start"] is not None else "")
        return {fast: a, slow: b, "ratio": ratio, "holds": holds, "verdict": _verdict(holds),
                "text": f"episodes to {reach:.0%} of the rise of the seed-mean curve (moving "
                        f"average {window}): "
                        f"{fast} {a['mean']} vs {slow} {b['mean']}, per seed "
                        f"{a['per_seed']} vs {b['per_seed']}; {why}"}

    for name, entry in (("psac_faster_than_ac",
                         faster("drl_uu", "ac", much_faster, f"much faster: <= {much_faster}")),
                        ("au_faster_than_uu", faster("drl_au", "drl_uu", 1.0, "faster: < 1"))):
        if entry is not None:
            claims[name] = entry

    po = _paired(rows, "drl_po", "drl_pc")
    if po is not None:
        pc_level = po["drl_pc"]
        gap = (pc_level - po["drl_po"]) / abs(pc_level) if pc_level else math.nan
        holds = bool(gap <= narrow_gap)
        claims["po_narrow_gap"] = {
            **po, "relative_gap": gap, "holds": holds, "verdict": _verdict(holds),
            "text": f"held-out reward drl_po {po['drl_po']:.4g} vs drl_pc {pc_level:.4g}: "
                    f"relative gap {gap:.3g} (narrow: <= {narrow_gap}); paired difference "
                    f"{po['diff']:.4g} (95 % CI {po['ci95'][0]:.4g} to {po['ci95'][1]:.4g})"}

    co = _paired(rows, "drl_co", "drl_pc")
    if co is not None:
        lower = co["ci95"][1] < 0
        f_co, f_pc = _final_levels(rows, "drl_co", window), _final_levels(rows, "drl_pc", window)
        var_co, var_pc = _variance(list(f_co.values())), _variance(list(f_pc.values()))
        unstable = bool(var_co > var_pc)
        holds = bool(lower and unstable)
        claims["co_lower_unstable"] = {
            **co, "lower": lower, "final_levels": {"drl_co": f_co, "drl_pc": f_pc},
            "variance_over_seeds": {"drl_co": var_co, "drl_pc": var_pc},
            "unstable": unstable, "holds": holds, "verdict": _verdict(holds),
            "text": f"held-out drl_co − drl_pc {co['diff']:.4g} (95 % CI {co['ci95'][0]:.4g} "
                    f"to {co['ci95'][1]:.4g}; lower: {lower}); variance over seeds of the "
                    f"final training level drl_co {var_co:.4g} vs drl_pc {var_pc:.4g} "
                    f"(unstable: {unstable})"}
    return claims


def convergence_summary(rows: Sequence[Mapping[str, Any]], cfg: ConvergenceConfig
                        ) -> dict[str, Any]:
    """The run summary (see :func:`run_convergence`) from the rows."""
    evals = {r["method"]: {k: r[k] for k in ("reward", "reward_ci95", "se", "se_ci95",
                                             "crlb_db", "crlb_db_ci95", "frames", "seeds")}
             for r in rows if r.get("kind") == "eval"}
    methods = list(dict.fromkeys(r["method"] for r in rows
                                 if r.get("kind") == "curve" and int(r["seed"]) >= 0))
    final = {m: _final_levels(rows, m, cfg.window) for m in methods}
    return {
        "eval": evals,
        "final_training": final,
        "claims": convergence_claims(rows, window=cfg.window, reach=cfg.reach,
                                     much_faster=cfg.much_faster, narrow_gap=cfg.narrow_gap,
                                     references=[r for r in evals if r not in METHODS]),
        "notes": [
            "drl_pc is drl_uu's agent (PSAC, UU, S_H + S_P), trained once; its rows repeat "
            "drl_uu's under the name drl_pc",
            f"eval: {cfg.eval_frames} held-out frames (seed {cfg.eval_seed}), the same for "
            "every method; learned methods greedy, averaged over their training seeds per "
            "frame; 95 % CI over frames (Student t)",
            f"training curves: reward = cumulative reward per frame with exploration on; "
            f"final level = mean of the last {cfg.window} episodes",
            "reference lines in the curve figure are held-out means, not training curves",
        ],
    }


def convergence_experiment(
        reference_designers: Callable[[ConvergenceConfig], Mapping[str, Any]] | None = None,
        name: str = "yang_som.convergence") -> ExperimentSpec:
    """The :class:`~isaclearn.systems.base.ExperimentSpec` of this experiment (not registered:
    the system module registers it).

    Parameters
    ----------
    reference_designers : callable, optional
        ``reference_designers(cfg) -> {name: designer}``: the references besides ``hold`` and
        ``random`` (``opt``, ``mp``), built for the run's configuration.
    name : str
        The experiment's full name.
    """
    def fn(cfg: ConvergenceConfig, ctx: RunContext) -> dict[str, Any]:
        refs = reference_designers(cfg) if reference_designers is not None else None
        return run_convergence(cfg, ctx, refs)

    return ExperimentSpec(
        name=name, fn=fn, config_cls=ConvergenceConfig, profiles=CONVERGENCE_PROFILES,
        description="Fig. 6a/6b: training curves of PSAC (UU/AU, PC/PO/CO) and AC over seeds, "
                    "held-out rewards vs the references, the figure's claims",
        plots=list(CONVERGENCE_PLOTS),
        table_columns=["method", "reward", "reward_ci95", "se", "crlb_db", "frames", "seeds"],
        table_where={"kind": "eval"})

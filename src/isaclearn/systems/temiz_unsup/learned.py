r"""The learned precoders of temiz_unsup: variants, loss normalizations, training and storage.

Variants (all trained without labels on the loss of eq. 25, :mod:`isaclearn.learn.losses`):

==================  ============================================================================
``dnn``             the paper's network and loss: ``2MK + T`` inputs, 4 × 128 SiLU, 10 % dropout,
                    ``2MK`` outputs mapped to ``W``; one network per ``ρ``; rate and CRB scored on
                    the raw output with the power penalty :math:`|P_t - \|\hat{\mathbf W}\|_F^2|`
                    (eqs. 20, 23, 25); eq. (21) scales the output at inference
``dnn_scaled``      the same network, with the rate and CRB terms scored on the eq.-(21)-scaled
                    precoder and no power penalty (see below why)
``dnn_rho``         ``dnn_scaled`` with ``ρ`` as an extra input: one network for every ``ρ``
``struct``          the structured network (:class:`isaclearn.learn.StructuredPrecoderNet`): the
                    parameters of the optimal MISO structure plus sensing weights; one per ``ρ``
``struct_rho``      the structured network conditioned on ``ρ``
``struct_cont``     ``struct`` trained by continuation along ``ρ`` (beyond the paper), downwards:
                    the network for ``ρ`` starts from the trained network of the next larger
                    value of the paper's grid ``{0, 0.1, …, 1}`` instead of a random
                    initialization (``ρ = 1`` starts from scratch)
``struct_cont_up``  the same chain upwards, from ``ρ = 0`` (kept to show why the default
                    direction is downwards)
==================  ============================================================================

Continuation (homotopy along the trade-off weight) starts each network at its neighbour's
solution, which it keeps unless training lowers the validation loss of its own ``ρ`` (the warm
start counts as epoch 0 of :func:`~isaclearn.learn.train_precoder`). The chain is the fixed
grid, not the experiment's subset, so every experiment reuses the same networks. *Upwards* the
chain is trapped: the sensing-optimal network switches most users off (softmax powers
``p_k`` of order 1e-44), where the softmax is saturated and the rate gradient cannot switch them
back on. *Downwards* every network starts from a precoder that serves all users and only has
to add sensing power; it matches independent training but is not monotone by construction
either, so it is an option, not a default (measurements in ``docs/temiz_unsup.md``).

Why ``dnn_scaled``: with Adam, the paper's L1 power penalty keeps a gradient of constant size
that flips sign around :math:`\|\hat{\mathbf W}\|_F^2 = P_t`; it dominates Adam's
second-moment estimate of every weight, so the rate and CRB terms (weighted by
:math:`\beta/\alpha`, :math:`\gamma/\alpha`, about 100 times smaller) barely move the
weights, and the network stays at its initial output, while the same network scored on the
scaled precoder without the penalty trains (measurements in ``docs/temiz_unsup.md``). The
structured network's output already has :math:`\|\mathbf W\|_F^2 = P_t`, so the penalty is
identically zero for it.

Training distribution (paper section V-A): the scenario of :func:`make_scenario` with target
angles drawn per instance on the integer-degree grid of [−90°, 90°]; the networks are tested on
the fixed angles −10° and 25°. ``β`` is computed from WMMSE (best of MRT/ZF/RZF, 100 iterations
or converged) on ``num_beta`` training channels and ``γ`` as the mean minimum approximate sum
CRB over ``num_gamma`` training angle draws (:func:`isaclearn.learn.compute_beta`,
:func:`isaclearn.learn.compute_gamma`); both are cached next to the models.

:class:`ModelStore` trains a network the first time it is asked for and keeps its checkpoint
(``<variant>_M<M>_snr<SNR>[_rho<ρ>].safetensors/.json``) in a folder, so that an interrupted run
resumes and the other experiments can reuse the networks (``model_dir``). A stored network is
reused only if its full configuration (architecture, scenario, loss weights, training
hyperparameters, seed) equals the requested one; otherwise :class:`~isaclearn.core.CheckpointError`
is raised and names the difference.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn import (
    RHO_GRID,
    LearnedPrecoder,
    LossConfig,
    NetConfig,
    TrainConfig,
    TrainJob,
    compute_beta,
    compute_gamma,
    train_many,
    train_precoder,
)
from isaclearn.systems.temiz_unsup.scenario import make_scenario
from isaclearn.systems.toolkit import EpochLog

VARIANTS: dict[str, dict[str, Any]] = {
    "dnn": {"kind": "entrywise", "rho_conditioned": False, "score_on": "raw",
            "power_weight": 1.0},
    "dnn_scaled": {"kind": "entrywise", "rho_conditioned": False, "score_on": "scaled",
                   "power_weight": 0.0},
    "dnn_rho": {"kind": "entrywise", "rho_conditioned": True, "score_on": "scaled",
                "power_weight": 0.0},
    "struct": {"kind": "structured", "rho_conditioned": False, "score_on": "scaled",
               "power_weight": 1.0},
    "struct_rho": {"kind": "structured", "rho_conditioned": True, "score_on": "scaled",
                   "power_weight": 1.0},
    "struct_cont": {"kind": "structured", "rho_conditioned": False, "score_on": "scaled",
                    "power_weight": 1.0, "continuation": "down"},
    "struct_cont_up": {"kind": "structured", "rho_conditioned": False, "score_on": "scaled",
                       "power_weight": 1.0, "continuation": "up"},
}
"""Network variants by name (see the module docstring)."""


@dataclass
class LearnSettings:
    """Training settings shared by the experiments (fields of their configs).

    Attributes mirror :class:`isaclearn.learn.TrainConfig` and :class:`isaclearn.learn.NetConfig`
    (``hidden``, ``dropout``, ``d_model``, ``num_layers``), plus the sample sizes of the loss
    normalizations ``num_beta`` and ``num_gamma``, the loss weights ``alpha`` and ``delta`` and
    the seed of the training data ``seed`` and ``train_workers``, the number of per-``ρ``
    networks trained at once on Ray (:meth:`ModelStore.prepare`).
    """

    num_users: int = 10
    num_train: int = 20_000
    batch_size: int = 500
    lr: float = 1e-3
    max_epochs: int = 100
    patience: int = 10
    max_train_time_s: float = 0.0
    hidden: tuple[int, ...] = (128, 128, 128, 128)
    dropout: float = 0.1
    d_model: int = 32
    num_layers: int = 2
    num_beta: int = 512
    num_gamma: int = 32
    alpha: float = 7.5
    delta: float = 0.1
    seed: int = 0
    train_workers: int = 1

    @classmethod
    def from_config(cls, cfg: Any) -> LearnSettings:
        """The settings named like fields of an experiment config ``cfg``."""
        names = cls.__dataclass_fields__
        return cls(**{n: getattr(cfg, n) for n in names if hasattr(cfg, n)})

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            num_train=self.num_train, batch_size=self.batch_size, lr=self.lr,
            max_epochs=self.max_epochs, patience=self.patience, seed=self.seed,
            max_time_s=self.max_train_time_s if self.max_train_time_s > 0 else None,
        )

    def net_config(self, variant: str, num_antennas: int, num_targets: int = 2) -> NetConfig:
        v = _variant(variant)
        return NetConfig(
            kind=v["kind"], num_antennas=num_antennas, num_users=self.num_users,
            num_targets=num_targets, hidden=tuple(self.hidden), dropout=self.dropout,
            rho_conditioned=v["rho_conditioned"], d_model=self.d_model,
            num_layers=self.num_layers,
        )


def _variant(name: str) -> dict[str, Any]:
    if name not in VARIANTS:
        raise ConfigError(f"unknown network variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def check_variants(names: tuple[str, ...] | list[str]) -> None:
    """Raise :class:`ConfigError` for an unknown variant name."""
    for n in names:
        _variant(n)


def training_scenario(num_antennas: int, num_users: int, snr_db: float) -> Any:
    """The training distribution: random target angles on the integer-degree grid."""
    return make_scenario(num_antennas, num_users, target_angles_deg=None, snr_db=snr_db)


class ModelStore:
    """Trains, stores and reloads the networks of the experiments.

    Parameters
    ----------
    folder : str or Path or None
        Where checkpoints, TensorBoard logs and normalization caches go; ``None`` uses a
        temporary folder (nothing is kept).
    settings : LearnSettings
        Training settings.
    log : callable
        Receives progress lines.
    progress : callable or None
        ``progress(iterable, total=..., desc=...)`` (a run context's ``progress``): shows the
        per-instance loop of the γ programs.
    log_interval_s : float
        Least time between two per-epoch lines of a training network (:class:`EpochLog`).
    """

    def __init__(self, folder: str | Path | None, settings: LearnSettings,
                 log: Callable[[str], None], *,
                 progress: Callable[..., Iterable[Any]] | None = None,
                 log_interval_s: float = 10.0) -> None:
        self._tmp = None
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="isaclearn-models-")
            folder = self._tmp.name
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"model folder {self.folder} cannot be created "
                              f"({exc.strerror or exc}); check model_dir") from None
        self.settings = settings
        self.log = log
        self.progress = progress
        self.log_interval_s = log_interval_s
        self._designers: dict[str, tuple[LearnedPrecoder, dict[str, Any]]] = {}

    def normalization(self, num_antennas: int, snr_db: float) -> dict[str, Any]:
        """``β``, ``γ`` and how they were obtained, for ``M`` antennas at ``snr_db`` (cached)."""
        s = self.settings
        path = self.folder / f"norm_M{num_antennas}_K{s.num_users}_snr{snr_db:g}.json"
        want = {"num_antennas": num_antennas, "num_users": s.num_users, "snr_db": snr_db,
                "num_beta": s.num_beta, "num_gamma": s.num_gamma, "seed": s.seed}
        if path.is_file():
            cached = json.loads(path.read_text())
            if cached.get("request") == want:
                return dict(cached["result"])
        sc = training_scenario(num_antennas, s.num_users, snr_db)
        gen = make_generator(10_000 + s.seed)
        self.log(f"M={num_antennas}, SNR {snr_db:g} dB: computing beta (WMMSE on {s.num_beta} "
                 f"channels) and gamma ({s.num_gamma} sensing programs) ...")
        beta, binfo = compute_beta(sc.sample(s.num_beta, generator=gen))
        loop = None
        if self.progress is not None:
            progress = self.progress

            def loop(indices: range) -> Iterable[int]:
                return progress(indices, total=len(indices),
                                desc=f"M={num_antennas}: gamma programs")

        gamma, ginfo = compute_gamma(sc.sample(s.num_gamma, generator=gen), progress=loop)
        result = {"beta": beta, "gamma": gamma, "beta_info": binfo, "gamma_info": ginfo}
        path.write_text(json.dumps({"request": want, "result": result}, indent=2))
        self.log(f"M={num_antennas}, SNR {snr_db:g} dB: beta = 1/{1 / beta:.2f} (WMMSE mean "
                 f"sum rate), gamma = {gamma:.3e} rad^2 (min approx. sum CRB)")
        return result

    def _stem(self, variant: str, rho: float, num_antennas: int, snr_db: float) -> str:
        stem = f"{variant}_M{num_antennas}_K{self.settings.num_users}_snr{snr_db:g}"
        if not _variant(variant)["rho_conditioned"]:
            stem += f"_rho{rho:.2f}"
        return stem

    def _job(self, variant: str, rho: float, num_antennas: int, snr_db: float,
             init_from: str | None) -> TrainJob:
        v = _variant(variant)
        s = self.settings
        norm = self.normalization(num_antennas, snr_db)
        loss = LossConfig(beta=norm["beta"], gamma=norm["gamma"], alpha=s.alpha,
                          delta=s.delta, score_on=v["score_on"], power_weight=v["power_weight"])
        stem = self._stem(variant, rho, num_antennas, snr_db)
        return TrainJob(
            net_config=s.net_config(variant, num_antennas),
            scenario=training_scenario(num_antennas, s.num_users, snr_db), loss_config=loss,
            config=s.train_config(), rho=None if v["rho_conditioned"] else float(rho),
            checkpoint=str(self.folder / stem), log_dir=str(self.folder / "tb" / stem),
            init_from=init_from,
        )

    def prepare(self, variant: str, rhos: Iterable[float], num_antennas: int,
                snr_db: float = 20.0) -> None:
        """Train the not yet finished per-``ρ`` networks of ``variant`` for ``rhos`` together.

        With ``settings.train_workers > 1`` and Ray installed they run as parallel Ray tasks
        (:func:`isaclearn.learn.train_many`, one torch thread each); otherwise nothing happens
        here and :meth:`designer` trains them one after another. A ``ρ``-conditioned variant (one
        network) and a continuation chain (each network starts from the previous one) are
        always trained by :meth:`designer`.
        """
        v = _variant(variant)
        workers = self.settings.train_workers
        if workers <= 1 or v["rho_conditioned"] or v.get("continuation"):
            return
        try:
            import ray  # noqa: F401
        except ImportError:
            self.log("train_workers > 1 but Ray is not installed: training one after another")
            return
        jobs = []
        for rho in rhos:
            if not 0.0 <= rho <= 1.0:
                raise ConfigError(f"rho must be in [0, 1], got {rho}")
            stem = self._stem(variant, rho, num_antennas, snr_db)
            if not _finished(self.folder / stem):
                jobs.append(self._job(variant, rho, num_antennas, snr_db, None))
        if jobs:
            self.log(f"training {len(jobs)} {variant} networks (M={num_antennas}) on Ray, "
                     f"{workers} at a time ...")
            train_many(jobs, parallel="ray", num_cpus=workers, threads_per_job=1)

    def designer(
        self, variant: str, rho: float, num_antennas: int, snr_db: float = 20.0
    ) -> tuple[LearnedPrecoder, dict[str, Any]]:
        """A trained designer of ``variant`` for trade-off weight ``rho`` (trained if needed).

        Returns the designer and a dict with ``train_time_s``, ``epochs``, ``best_epoch``,
        ``stop_reason``, ``num_train``, ``checkpoint``, ``init_from`` (the warm start's stem of
        a continuation network, else "") and ``time_to_95pct_wmmse_s``.
        """
        v = _variant(variant)
        if not 0.0 <= rho <= 1.0:
            raise ConfigError(f"rho must be in [0, 1], got {rho}")
        stem = self._stem(variant, rho, num_antennas, snr_db)
        if stem not in self._designers:
            init_from = None
            direction = v.get("continuation")
            if direction:
                prev = ([r for r in RHO_GRID if r < rho - 1e-9][-1:] if direction == "up"
                        else [r for r in RHO_GRID if r > rho + 1e-9][:1])
                if prev:
                    _, pinfo = self.designer(variant, prev[0], num_antennas, snr_db)
                    init_from = pinfo["checkpoint"]
            job = self._job(variant, rho, num_antennas, snr_db, init_from)
            beta = job.loss_config.beta
            self.log(f"{'loading' if _finished(self.folder / stem) else 'training'} {stem} ...")
            epoch_log = EpochLog(self.log, stem, job.config.max_epochs,
                                 interval_s=self.log_interval_s,
                                 max_time_s=job.config.max_time_s)
            net, res = train_precoder(
                job.net_config, job.scenario, job.loss_config, job.config, rho=job.rho,
                checkpoint=job.checkpoint, resume=True, log_dir=job.log_dir,
                init_from=init_from, log=epoch_log,
            )
            last = res.history[-1] if res.history else {}
            self.log(f"{stem}: {res.epochs} epochs ({res.stop_reason}), best epoch "
                     f"{res.best_epoch}, {res.train_time_s:.0f} s, val sum rate "
                     f"{last.get('val_sum_rate', math.nan):.2f}")
            info = {"train_time_s": res.train_time_s, "epochs": res.epochs,
                    "best_epoch": res.best_epoch, "stop_reason": res.stop_reason,
                    "num_train": res.num_train, "checkpoint": job.checkpoint,
                    "init_from": Path(init_from).name if init_from else "",
                    "time_to_95pct_wmmse_s": time_to_rate(res.history, 0.95 / beta)}
            self._designers[stem] = (LearnedPrecoder(net, rho=None, name=variant)
                                     if not v["rho_conditioned"] else
                                     LearnedPrecoder(net, rho=0.0, name=variant), info)
        base, info = self._designers[stem]
        return LearnedPrecoder(base.net, rho=float(rho), name=variant), dict(info)


def _finished(stem: Path) -> bool:
    """Whether ``stem`` is a finished training checkpoint (any configuration)."""
    meta = stem.with_name(stem.name + ".json")
    if not meta.is_file():
        return False
    try:
        state = json.loads(meta.read_text()).get("state", {})
    except (OSError, ValueError):
        return False
    return bool(state.get("progress", {}).get("finished", False))


def time_to_rate(history: list[dict[str, float]], target: float) -> float:
    """Training time (s) until the validation sum rate first reached ``target`` (NaN if never).

    With ``target = 0.95 / β`` this is the time to 95 % of the WMMSE mean sum rate of the
    training channels (the reference of β)."""
    elapsed = 0.0
    for h in history:
        elapsed += float(h.get("epoch_time_s", 0.0))
        if float(h.get("val_sum_rate", -math.inf)) >= target:
            return elapsed
    return math.nan


def design_in_chunks(designer: Any, problem: Any, chunk: int = 20_000) -> torch.Tensor:
    """``designer.design`` over ``problem`` in chunks of ``chunk`` instances; returns ``w``."""
    ws = []
    for s in range(0, problem.batch_size, chunk):
        ws.append(designer.design(problem.subset(slice(s, s + chunk))).w)
    return torch.cat(ws)


# --------------------------------------------------------------------- trained networks


def learned_designers(paths: Iterable[str | Path], *, rho: float | None = None
                      ) -> dict[str, Any]:
    """Designers from trained-network checkpoints, named ``learned:<stem>``.

    ``paths`` are checkpoint stems or their ``.safetensors`` / ``.json`` files. ``rho`` is fed
    to ρ-conditioned networks (required for those unless stored); a per-ρ network keeps the ρ
    it was trained for and ignores ``rho``. Each designer's ``info["note"]`` says which ρ it
    runs at and whether ``rho`` was ignored (:func:`rho_note`); the command line prints it.

    Raises
    ------
    ConfigError
        ``rho`` outside [0, 1] (or not finite).
    CheckpointError
        A missing, corrupted or foreign checkpoint.
    """
    from isaclearn.learn import load_trained

    if rho is not None and not 0.0 <= float(rho) <= 1.0:
        raise ConfigError(f"--rho must be in [0, 1], got {rho:g}")
    out: dict[str, Any] = {}
    for path in paths:
        designer = load_trained(path, rho=rho)
        stem = Path(path).name
        for suffix in (".safetensors", ".json"):
            stem = stem.removesuffix(suffix)
        name = f"learned:{stem}"
        designer.name = name
        designer.info["note"] = rho_note(designer, rho)
        out[name] = designer
    return out


def rho_note(designer: LearnedPrecoder, rho: float | None) -> str:
    """Which ρ ``designer`` runs at, and what became of the requested ``rho``, in one line."""
    trained = designer.info.get("trained_rho")
    if designer.net.config.rho_conditioned:
        source = "--rho" if rho is not None else "its stored value; --rho changes it"
        return f"rho-conditioned network, run at rho = {designer.rho:g} ({source})"
    text = ("per-rho network trained for rho = "
            + (f"{trained:g}" if trained is not None else "? (not stored)"))
    if rho is not None:
        text += f"; --rho {rho:g} is ignored (it applies to rho-conditioned networks only)"
    return text


def find_networks(folder: str | Path) -> list[Path]:
    """Finished trained temiz_unsup networks under ``folder`` (searched recursively).

    A network is a checkpoint sidecar (``*.json``) of kind ``precoder``, or a *finished*
    ``training_state`` of :func:`~isaclearn.learn.train_precoder`, whose configuration holds a
    precoder network. Unreadable or foreign JSON files are skipped. Returns the stems, sorted.
    """
    out = []
    root = Path(folder)
    if not root.is_dir():
        return []
    for meta in sorted(root.rglob("*.json")):
        try:
            side = json.loads(meta.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if not isinstance(side, dict) or not str(side.get("format", "")).startswith(
                "isaclearn-checkpoint/"):
            continue
        net = side.get("config", {}).get("net") if isinstance(side.get("config"), dict) else None
        if not isinstance(net, dict) or net.get("kind") not in ("entrywise", "structured"):
            continue
        kind = side.get("kind")
        finished = bool(side.get("state", {}).get("progress", {}).get("finished", False))
        if kind == "precoder" or (kind == "training_state" and finished):
            out.append(meta.with_suffix(""))
    return out

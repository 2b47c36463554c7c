r"""Unsupervised training of a neural ISAC precoder (temiz_unsup section V-A, Table 2).

:func:`train_precoder` builds the network from its :class:`~isaclearn.learn.NetConfig`, draws a
fixed training set from a scenario (the paper's 95 % / 5 % train/validation split), and minimizes
the loss of eq. (25) on the training loop of :mod:`isaclearn.learn.loop` (Adam, learning-rate
reduction on a validation plateau, early stopping with a *relative* ``min_delta``, the weights of
the epoch with the lowest validation loss restored at the end). The task
(:class:`PrecoderTask`) shuffles with a generator seeded ``seed + 1`` (after
``seed_everything(seed)`` and building the network), draws the ``ρ`` of a conditioned network
per instance from that generator after each epoch's permutation, and validates in mini-batches.

What a user can rely on:

* **Determinism.** Everything random (weight initialization, dropout, the data, shuffling, the
  ``ρ`` drawn for a conditioned network) follows from ``TrainConfig.seed``: the same seed, data
  and thread count give bit-identical weights.
* **Resume.** With ``checkpoint=`` the full training state (weights, best weights, Adam moments,
  scheduler and early-stopping state, RNG states, history) is saved after every epoch as
  safetensors + JSON (:mod:`isaclearn.learn.checkpoint`). ``resume=True`` continues from it and
  ends exactly where an uninterrupted run ends. A checkpoint written for another configuration
  is refused with :class:`~isaclearn.core.errors.CheckpointError`.
* **Logs.** With ``log_dir=`` every loss term (train and validation), the validation sum rate and
  approximate sum CRB and the learning rate are written as TensorBoard scalars per epoch.

:func:`train_many` trains several networks (e.g. one per ``ρ``): one after another by default,
or in parallel Ray tasks (``parallel="ray"``, needs the ``distributed`` extra).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from isaclearn.channels.downlink import DownlinkIsacScenario, DownlinkProblem
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator, seed_everything
from isaclearn.learn.checkpoint import weights_digest
from isaclearn.learn.designer import trained_weights
from isaclearn.learn.loop import BatchLoss, TrainConfig, TrainResult, TrainTask, fit
from isaclearn.learn.losses import LOSS_TERMS, LossConfig, isac_loss_terms
from isaclearn.learn.precoder_nets import NetConfig, PrecoderNet, build_network

_ADDED_TRAIN_FIELDS = {"weight_decay": 0.0, "max_grad_norm": None}
"""Fields :class:`TrainConfig` gained after precoder checkpoints were first written, with the
values those runs used: they enter a checkpoint's configuration only when they differ, so that
the finished networks of earlier runs are reused (:func:`run_config`)."""


def scenario_dict(scenario: DownlinkIsacScenario) -> dict[str, Any]:
    """JSON form of a scenario (for checkpoint configs)."""
    return json.loads(json.dumps(asdict(scenario)))


_DATA_CACHE: dict[str, DownlinkProblem] = {}


def generate_dataset(
    scenario: DownlinkIsacScenario, num: int, *, seed: int, chunk: int = 50_000
) -> DownlinkProblem:
    """``num`` instances of ``scenario`` drawn in chunks from ``make_generator(seed)``.

    The same arguments give the same instances. The most recent dataset is cached in memory,
    so that a sweep of networks over ``ρ`` draws it once.
    """
    key = json.dumps([scenario_dict(scenario), num, seed, chunk], sort_keys=True)
    if key in _DATA_CACHE:
        return _DATA_CACHE[key]
    gen = make_generator(seed)
    parts = []
    left = num
    while left > 0:
        n = min(chunk, left)
        parts.append(scenario.sample(n, generator=gen))
        left -= n
    data = DownlinkProblem.cat(parts)
    _DATA_CACHE.clear()
    _DATA_CACHE[key] = data
    return data


def _rho_of(
    net_cfg: NetConfig, rho: float | None, cfg: TrainConfig
) -> float | None:
    if net_cfg.rho_conditioned:
        if rho is not None:
            raise ConfigError("a rho-conditioned network is trained on rho_grid; pass rho=None")
        return None
    if rho is None or not 0.0 <= float(rho) <= 1.0:
        raise ConfigError(f"a per-rho network needs rho in [0, 1], got {rho}")
    return float(rho)


def _train_dict(cfg: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items()
            if k not in _ADDED_TRAIN_FIELDS or v != _ADDED_TRAIN_FIELDS[k]}


def run_config(
    net_cfg: NetConfig,
    scenario: DownlinkIsacScenario,
    loss_cfg: LossConfig,
    cfg: TrainConfig,
    rho: float | None,
    init: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration a training checkpoint is tied to (``init``: the warm start, if any).

    ``train`` holds the :class:`TrainConfig` fields, less those added since the first
    checkpoints (``weight_decay``, ``max_grad_norm``) while they keep the value those runs used,
    so that a stored network of an earlier version is still recognized."""
    out: dict[str, Any] = {
        "net": net_cfg.to_dict(),
        "scenario": scenario_dict(scenario),
        "loss": loss_cfg.to_dict(),
        "train": _train_dict(cfg),
        "rho": rho,
    }
    if init is not None:
        out["init"] = init
    return out


def _batch_terms(
    net: PrecoderNet, data: DownlinkProblem, idx: torch.Tensor, rho: torch.Tensor,
    loss_cfg: LossConfig, conditioned: bool,
) -> dict[str, torch.Tensor]:
    sub = data.subset(idx)
    w_raw, w = net(sub.csi, sub.theta, power=sub.power, noise_var=sub.noise_var,
                   rho=rho if conditioned else None)
    return isac_loss_terms(sub, w_raw, w, rho, loss_cfg)


_LOGGED = (*LOSS_TERMS, "total", "sum_rate", "sum_crb_approx")


class PrecoderTask(TrainTask):
    """The precoder network's part of :func:`~isaclearn.learn.loop.fit`: eq. (25) on a drawn
    data set (the last ``val_fraction`` of ``num_train`` instances validate).

    Parameters
    ----------
    net : PrecoderNet
        The network.
    scenario : DownlinkIsacScenario
        Training distribution (data drawn with :func:`generate_dataset`, seed ``config.seed``).
    loss_config : LossConfig
        Loss weights.
    config : TrainConfig
        ``num_train``, ``val_fraction``, ``batch_size`` (validation batches), ``rho_grid``,
        ``seed``.
    rho : float or None
        Fixed ``ρ`` of a per-``ρ`` network; ``None`` for a conditioned one.
    """

    log_terms = _LOGGED
    flush_denormal = True
    log_keys = ("sum_rate",)

    def __init__(self, net: PrecoderNet, scenario: DownlinkIsacScenario,
                 loss_config: LossConfig, config: TrainConfig, rho: float | None) -> None:
        self.model = net
        self.scenario = scenario
        self.loss_config = loss_config
        self.config = config
        self.conditioned = net.config.rho_conditioned
        self.rho = rho
        n_val = max(1, int(round(config.val_fraction * config.num_train)))
        n_tr = config.num_train - n_val
        if n_tr < 1:
            raise ConfigError("num_train is too small for the validation split")
        self.num_train, self.num_val = n_tr, n_val
        self.val_idx = torch.arange(n_tr, config.num_train)
        self.grid = torch.tensor(config.rho_grid, dtype=torch.float32)
        if self.conditioned:
            self.val_rho = self.grid[torch.arange(n_val) % len(self.grid)]
        else:
            self.val_rho = torch.full((n_val,), float(rho), dtype=torch.float32)  # type: ignore[arg-type]
        self.generator_seeds = {"shuffle": config.seed + 1}
        self.rho_tr = self.val_rho[:0]
        self.data: DownlinkProblem | None = None

    def prepare(self) -> None:
        self.data = generate_dataset(self.scenario, self.config.num_train, seed=self.config.seed)

    def begin_epoch(self, generators: dict[str, torch.Generator]) -> None:
        if self.conditioned:
            self.rho_tr = self.grid[torch.randint(len(self.grid), (self.num_train,),
                                                  generator=generators["shuffle"])]
        else:
            self.rho_tr = torch.full((self.num_train,), float(self.rho),  # type: ignore[arg-type]
                                     dtype=torch.float32)

    def _terms(self, idx: torch.Tensor, rho: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.data is not None
        return _batch_terms(self.model, self.data, idx, rho,  # type: ignore[arg-type]
                            self.loss_config, self.conditioned)

    def train_batch(self, idx: torch.Tensor,
                    generators: dict[str, torch.Generator]) -> BatchLoss:
        terms = self._terms(idx, self.rho_tr[idx])
        return BatchLoss(terms["total"].mean(),
                         {key: float(terms[key].detach().sum()) for key in _LOGGED})

    def validate(self) -> dict[str, float]:
        vsums = dict.fromkeys(_LOGGED, 0.0)
        bs = self.config.batch_size
        for s in range(0, self.num_val, bs):
            sl = slice(s, s + bs)
            terms = self._terms(self.val_idx[sl], self.val_rho[sl])
            for key in _LOGGED:
                vsums[key] += float(terms[key].sum())
        return {key: v / self.num_val for key, v in vsums.items()}


def train_precoder(
    net_config: NetConfig,
    scenario: DownlinkIsacScenario,
    loss_config: LossConfig,
    config: TrainConfig,
    *,
    rho: float | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    log_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    stop_after_epochs: int | None = None,
    time_budget_s: float | None = None,
    init_from: str | Path | None = None,
) -> tuple[PrecoderNet, TrainResult]:
    """Train one precoder network without labels (eq. 25).

    Parameters
    ----------
    net_config : NetConfig
        Architecture (its ``M``, ``K``, ``T`` must match the scenario).
    scenario : DownlinkIsacScenario
        Training distribution (the paper draws random target angles: ``target_angles_deg=None``).
    loss_config : LossConfig
        Loss weights, with ``β`` and ``γ`` already computed.
    config : TrainConfig
        Hyperparameters and seed.
    rho : float or None
        The trade-off weight of a per-``ρ`` network; ``None`` for a ``ρ``-conditioned one.
    checkpoint : path, optional
        Stem of the training-state checkpoint, rewritten after every epoch.
    resume : bool
        Continue from ``checkpoint`` if it exists (its configuration must match).
    log_dir : path, optional
        TensorBoard log folder.
    log : callable, optional
        Receives one line per epoch.
    stop_after_epochs : int, optional
        Return (resumably, ``finished=False``) after this many epochs of this call.
    time_budget_s : float, optional
        Return (resumably) after the first epoch that ends past this wall time of this call.
    init_from : path, optional
        Warm start: a trained network (``precoder`` checkpoint or finished training state) of
        the same architecture whose weights replace the random initialization. Its weights are
        scored on the validation set before the first epoch and count as epoch 0 for the
        best-weights selection, so the result is never worse on validation than the start.
        The checkpoint's configuration records the start's name and weight digest; a resume
        with other starting weights is refused.

    Returns
    -------
    net : PrecoderNet
        In eval mode, with the best validation weights if ``finished`` (else the latest).
    result : TrainResult
    """
    rho_fixed = _rho_of(net_config, rho, config)
    m = scenario.channel.num_antennas
    k = scenario.channel.num_users
    net_mkt = (net_config.num_antennas, net_config.num_users, net_config.num_targets)
    if net_mkt != (m, k, scenario.num_targets):
        raise ConfigError(
            f"network (M, K, T) = {net_mkt} does not match the scenario's "
            f"{(m, k, scenario.num_targets)}"
        )
    init_tensors: dict[str, torch.Tensor] | None = None
    init_desc: dict[str, Any] | None = None
    if init_from is not None:
        _, init_tensors, _ = trained_weights(init_from, expected_net=net_config)
        init_desc = {"from": Path(init_from).name, "weights_sha256": weights_digest(init_tensors)}
    full_cfg = run_config(net_config, scenario, loss_config, config, rho_fixed, init_desc)

    seed_everything(config.seed)
    net = build_network(net_config)
    if init_tensors is not None:
        net.load_state_dict(init_tensors, strict=True)
    task = PrecoderTask(net, scenario, loss_config, config, rho_fixed)
    if log and init_desc is not None:
        log(f"warm start from {init_desc['from']}")
    result = fit(task, config, checkpoint=checkpoint, checkpoint_config=full_cfg,
                 resume=resume, warm_start=init_tensors is not None, log_dir=log_dir, log=log,
                 stop_after_epochs=stop_after_epochs, time_budget_s=time_budget_s)
    return net, result


@dataclass
class TrainJob:
    """One network of a sweep for :func:`train_many` (arguments of :func:`train_precoder`)."""

    net_config: NetConfig
    scenario: DownlinkIsacScenario
    loss_config: LossConfig
    config: TrainConfig
    rho: float | None
    checkpoint: str
    log_dir: str | None = None
    init_from: str | None = None


def _run_job(job: TrainJob, resume: bool) -> dict[str, Any]:
    _, result = train_precoder(
        job.net_config, job.scenario, job.loss_config, job.config, rho=job.rho,
        checkpoint=job.checkpoint, resume=resume, log_dir=job.log_dir, init_from=job.init_from,
    )
    return result.to_dict()


def train_many(
    jobs: Sequence[TrainJob],
    *,
    parallel: Literal["sequential", "ray"] = "sequential",
    resume: bool = True,
    num_cpus: int | None = None,
    threads_per_job: int = 1,
    log: Callable[[str], None] | None = None,
) -> list[TrainResult]:
    """Train several networks, each to its own checkpoint (e.g. one per ``ρ``).

    ``parallel="sequential"`` trains them one after another in this process (the right choice
    on a small machine). ``parallel="ray"`` runs one Ray task per job on a local Ray instance
    (``ray.init`` is called if Ray is not running yet) with ``threads_per_job`` torch threads
    each; the networks are read back from their checkpoints with
    :func:`isaclearn.learn.designer.load_trained`. Results come back in the order of ``jobs``.
    """
    if parallel == "sequential":
        out = []
        for i, job in enumerate(jobs):
            if log:
                log(f"training job {i + 1}/{len(jobs)} (rho={job.rho}) -> {job.checkpoint}")
            out.append(TrainResult(**_run_job(job, resume)))
        return out
    if parallel != "ray":
        raise ConfigError(f"parallel must be 'sequential' or 'ray', got {parallel!r}")
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "parallel='ray' needs Ray: pip install 'isaclearn[distributed]'"
        ) from None
    if not ray.is_initialized():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=threads_per_job)
    def _remote(job: TrainJob, resume: bool, threads: int) -> dict[str, Any]:
        torch.set_num_threads(threads)
        return _run_job(job, resume)

    refs = [_remote.remote(job, resume, threads_per_job) for job in jobs]
    return [TrainResult(**r) for r in ray.get(refs)]

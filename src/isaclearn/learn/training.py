r"""Unsupervised training of a neural ISAC precoder (temiz_unsup section V-A, Table 2).

:func:`train_precoder` builds the network from its :class:`~isaclearn.learn.NetConfig`, draws a
fixed training set from a scenario (the paper's 95 % / 5 % train/validation split), and minimizes
the loss of eq. (25) with Adam, learning-rate reduction on a validation plateau
(:class:`torch.optim.lr_scheduler.ReduceLROnPlateau`) and early stopping; at the end the weights
of the epoch with the lowest validation loss are restored.

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

import copy
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch

from isaclearn.channels.downlink import DownlinkIsacScenario, DownlinkProblem
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator, seed_everything
from isaclearn.learn.checkpoint import (
    exists,
    load_checkpoint,
    prefixed,
    save_checkpoint,
    unprefixed,
    weights_digest,
)
from isaclearn.learn.designer import trained_weights
from isaclearn.learn.losses import LOSS_TERMS, LossConfig, isac_loss_terms
from isaclearn.learn.precoder_nets import NetConfig, PrecoderNet, build_network

RHO_GRID = tuple(round(0.1 * i, 1) for i in range(11))
"""The paper's trade-off weights ``ρ ∈ {0, 0.1, …, 1}``."""


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters (defaults: the paper's Table 2 where it gives a value).

    Attributes
    ----------
    num_train : int
        Instances generated for training, validation included (paper: 10⁶).
    val_fraction : float
        Fraction held out for validation (paper: 5 %).
    batch_size : int
        Mini-batch size (paper: 500).
    lr : float
        Initial Adam learning rate (paper: 0.001).
    max_epochs : int
        Upper limit on epochs.
    patience : int
        Early stopping: stop after this many epochs without a lower validation loss.
    min_delta : float
        Relative decrease of the validation loss that counts as an improvement.
    lr_factor : float
        ReduceLROnPlateau factor.
    lr_patience : int
        ReduceLROnPlateau patience (epochs).
    min_lr : float
        ReduceLROnPlateau lower bound on the learning rate.
    seed : int
        Seed of everything random in the run.
    rho_grid : tuple of float
        Values of ``ρ`` drawn (uniformly, per instance) for a ``ρ``-conditioned network; the
        validation instances cycle through them.
    max_time_s : float or None
        Stop (finished, keeping the best weights) after the first epoch that ends past this
        much training time. The result then depends on the machine's speed, which the
        ``stop_reason`` ``"time_limit"`` records; ``None`` (default) keeps runs deterministic.
    """

    num_train: int = 20_000
    val_fraction: float = 0.05
    batch_size: int = 500
    lr: float = 1e-3
    max_epochs: int = 100
    patience: int = 10
    min_delta: float = 1e-4
    lr_factor: float = 0.5
    lr_patience: int = 3
    min_lr: float = 1e-5
    seed: int = 0
    rho_grid: tuple[float, ...] = RHO_GRID
    max_time_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rho_grid", tuple(float(r) for r in self.rho_grid))
        if self.num_train < 2:
            raise ConfigError(f"num_train must be >= 2, got {self.num_train}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ConfigError("batch_size, max_epochs and patience must be >= 1")
        if not self.lr > 0 or not 0.0 < self.lr_factor < 1.0:
            raise ConfigError(f"need lr > 0 and 0 < lr_factor < 1, got {self.lr}, "
                              f"{self.lr_factor}")
        if not self.rho_grid or any(not 0.0 <= r <= 1.0 for r in self.rho_grid):
            raise ConfigError(f"rho_grid must be non-empty values in [0, 1], got {self.rho_grid}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rho_grid"] = list(self.rho_grid)
        return d


@dataclass
class TrainResult:
    """Outcome of :func:`train_precoder`.

    Attributes
    ----------
    epochs : int
        Epochs completed (over all resumed sessions).
    best_epoch : int
        1-based epoch whose weights were kept.
    best_val_loss : float
        Its validation loss.
    finished : bool
        False when the call stopped early on ``stop_after_epochs`` or ``time_budget_s``
        (resumable).
    stop_reason : str
        ``"early_stopping"``, ``"max_epochs"``, ``"time_limit"`` or ``"interrupted"``.
    train_time_s : float
        Wall time spent in epochs, summed over resumed sessions.
    history : list of dict
        Per epoch: mean train and validation loss terms, validation sum rate and approximate sum
        CRB, learning rate, epoch time.
    num_train, num_val : int
        Sizes of the split.
    """

    epochs: int
    best_epoch: int
    best_val_loss: float
    finished: bool
    stop_reason: str
    train_time_s: float
    history: list[dict[str, float]] = field(default_factory=list)
    num_train: int = 0
    num_val: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    first = parts[0]
    data = replace(
        first,
        h=torch.cat([p.h for p in parts]),
        theta=torch.cat([p.theta for p in parts]),
        h_est=None if first.h_est is None else torch.cat([p.h_est for p in parts]),  # type: ignore[misc]
    )
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


def run_config(
    net_cfg: NetConfig,
    scenario: DownlinkIsacScenario,
    loss_cfg: LossConfig,
    cfg: TrainConfig,
    rho: float | None,
    init: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration a training checkpoint is tied to (``init``: the warm start, if any)."""
    out: dict[str, Any] = {
        "net": net_cfg.to_dict(),
        "scenario": scenario_dict(scenario),
        "loss": loss_cfg.to_dict(),
        "train": cfg.to_dict(),
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


@contextmanager
def _flush_subnormals() -> Iterator[None]:
    """Flush subnormal floats to zero on the CPU while training, then restore the default.

    A structured network that switches a user off (``p_k`` of order 1e-44 after its softmax)
    fills the forward and backward passes with subnormal numbers, which x86 CPUs process 2–3×
    slower (measured: 2.1 s vs 0.9 s for the same 5 000 instances). Values below 1.2e-38 do
    not change any loss term that matters at float32 precision."""
    flushed = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flushed:
            torch.set_flush_denormal(False)


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
    conditioned = net_config.rho_conditioned

    seed_everything(config.seed)
    net = build_network(net_config)
    if init_tensors is not None:
        net.load_state_dict(init_tensors, strict=True)
    n_val = max(1, int(round(config.val_fraction * config.num_train)))
    n_tr = config.num_train - n_val
    if n_tr < 1:
        raise ConfigError("num_train is too small for the validation split")
    val_idx = torch.arange(n_tr, config.num_train)
    grid = torch.tensor(config.rho_grid, dtype=torch.float32)
    if conditioned:
        val_rho = grid[torch.arange(n_val) % len(grid)]
    else:
        val_rho = torch.full((n_val,), float(rho_fixed), dtype=torch.float32)  # type: ignore[arg-type]
    shuffle_gen = make_generator(config.seed + 1)

    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=config.lr_factor, patience=config.lr_patience,
        min_lr=config.min_lr,
    )
    st: dict[str, Any] = {
        "epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0, "history": [],
        "train_time_s": 0.0, "finished": False, "stop_reason": "",
    }
    best_state = copy.deepcopy(net.state_dict())

    if resume and checkpoint is not None and exists(checkpoint):
        ck = load_checkpoint(checkpoint, expected_config=full_cfg, expected_kind="training_state")
        net.load_state_dict(unprefixed(ck.tensors, "model"))
        best_state = unprefixed(ck.tensors, "best")
        opt_state: dict[str, Any] = {"state": {}, "param_groups": ck.state["param_groups"]}
        for name, t in unprefixed(ck.tensors, "optim").items():
            pid, key = name.split(".", 1)
            opt_state["state"].setdefault(int(pid), {})[key] = t
        opt.load_state_dict(opt_state)
        sched.load_state_dict(ck.state["scheduler"])
        torch.set_rng_state(ck.tensors["rng.torch"])
        shuffle_gen.set_state(ck.tensors["rng.shuffle"])
        st = dict(ck.state["progress"])
        if log:
            log(f"resumed from {checkpoint} after epoch {st['epoch']}")

    def save() -> None:
        if checkpoint is None:
            return
        tensors = {**prefixed(net.state_dict(), "model"), **prefixed(best_state, "best")}
        osd = opt.state_dict()
        for pid, s in osd["state"].items():
            for key, t in s.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(t)
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.shuffle"] = shuffle_gen.get_state()
        save_checkpoint(
            checkpoint, tensors, kind="training_state", config=full_cfg,
            metrics={"best_val_loss": st["best_val"], "best_epoch": st["best_epoch"]},
            state={"progress": st, "param_groups": osd["param_groups"],
                   "scheduler": sched.state_dict()},
        )

    if not st["finished"]:
        data = generate_dataset(scenario, config.num_train, seed=config.seed)
    writer = None
    if log_dir is not None and not st["finished"]:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(log_dir), purge_step=st["epoch"] + 1)

    def validate() -> dict[str, float]:
        net.eval()
        vsums = dict.fromkeys(_LOGGED, 0.0)
        with torch.no_grad():
            for s in range(0, n_val, config.batch_size):
                sl = slice(s, s + config.batch_size)
                terms = _batch_terms(net, data, val_idx[sl], val_rho[sl], loss_config,
                                     conditioned)
                for key in _LOGGED:
                    vsums[key] += float(terms[key].sum())
        return {key: v / n_val for key, v in vsums.items()}

    if init_tensors is not None and st["epoch"] == 0 and not st["history"] \
            and not st["finished"]:
        v0 = validate()
        if math.isfinite(v0["total"]):
            st["best_val"] = v0["total"]
        st["init_val"] = v0
        if log:
            log(f"warm start from {init_desc['from'] if init_desc else ''}: val "
                f"{v0['total']:+.5f}  val sum rate {v0['sum_rate']:.2f}")

    start = time.perf_counter()
    epochs_this_call = 0
    with _flush_subnormals():
        while not st["finished"]:
            if st["epoch"] >= config.max_epochs:
                st["finished"], st["stop_reason"] = True, "max_epochs"
                break
            t0 = time.perf_counter()
            net.train()
            perm = torch.randperm(n_tr, generator=shuffle_gen)
            if conditioned:
                rho_tr = grid[torch.randint(len(grid), (n_tr,), generator=shuffle_gen)]
            else:
                rho_tr = torch.full((n_tr,), float(rho_fixed), dtype=torch.float32)  # type: ignore[arg-type]
            sums = dict.fromkeys(_LOGGED, 0.0)
            seen = 0
            skipped = 0
            for s in range(0, n_tr, config.batch_size):
                idx = perm[s : s + config.batch_size]
                terms = _batch_terms(net, data, idx, rho_tr[idx], loss_config, conditioned)
                loss = terms["total"].mean()
                if not bool(torch.isfinite(loss)):
                    skipped += 1
                    continue
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grads = [q.grad for q in net.parameters() if q.grad is not None]
                if not bool(torch.isfinite(torch.nn.utils.get_total_norm(grads))):
                    skipped += 1  # a finite loss with a non-finite gradient norm: no step
                    continue
                opt.step()
                for key in _LOGGED:
                    sums[key] += float(terms[key].detach().sum())
                seen += len(idx)
            train_means = {key: v / max(seen, 1) for key, v in sums.items()}

            val_means = validate()
            val_loss = val_means["total"]
            if not math.isfinite(val_loss):
                val_loss = math.inf
            sched.step(val_loss)

            st["epoch"] += 1
            epochs_this_call += 1
            if val_loss < st["best_val"] - config.min_delta * abs(st["best_val"]) or (
                not math.isfinite(st["best_val"]) and math.isfinite(val_loss)
            ):
                st["best_val"], st["best_epoch"], st["bad_epochs"] = val_loss, st["epoch"], 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                st["bad_epochs"] += 1
            dt = time.perf_counter() - t0
            st["train_time_s"] += dt
            lr_now = float(opt.param_groups[0]["lr"])
            row = {"epoch": st["epoch"], "lr": lr_now, "epoch_time_s": dt,
                   "skipped_batches": skipped}
            row.update({f"train_{key}": v for key, v in train_means.items()})
            row.update({f"val_{key}": v for key, v in val_means.items()})
            st["history"] = [*st["history"], row]
            if writer is not None:
                for key in _LOGGED:
                    writer.add_scalar(f"train/{key}", train_means[key], st["epoch"])
                    writer.add_scalar(f"val/{key}", val_means[key], st["epoch"])
                writer.add_scalar("lr", lr_now, st["epoch"])
            if log:
                log(
                    f"epoch {st['epoch']:3d}  train {train_means['total']:+.5f}  val "
                    f"{val_loss:+.5f}  val sum rate {val_means['sum_rate']:.2f}  lr {lr_now:.1e}"
                    f"  ({dt:.1f} s)"
                )
            if st["bad_epochs"] >= config.patience:
                st["finished"], st["stop_reason"] = True, "early_stopping"
            elif st["epoch"] >= config.max_epochs:
                st["finished"], st["stop_reason"] = True, "max_epochs"
            elif config.max_time_s is not None and st["train_time_s"] >= config.max_time_s:
                st["finished"], st["stop_reason"] = True, "time_limit"
            save()
            if not st["finished"] and (
                (stop_after_epochs is not None and epochs_this_call >= stop_after_epochs)
                or (time_budget_s is not None and time.perf_counter() - start >= time_budget_s)
            ):
                st["stop_reason"] = "interrupted"
                break
    if writer is not None:
        writer.close()
    if st["finished"]:
        net.load_state_dict(best_state)
        save()
    net.eval()
    return net, TrainResult(
        epochs=int(st["epoch"]),
        best_epoch=int(st["best_epoch"]),
        best_val_loss=float(st["best_val"]),
        finished=bool(st["finished"]),
        stop_reason=str(st["stop_reason"]),
        train_time_s=float(st["train_time_s"]),
        history=list(st["history"]),
        num_train=n_tr,
        num_val=n_val,
    )


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

r"""The training loop of every network in isaclearn: :func:`fit`, :class:`TrainConfig`,
:class:`TrainTask` and :class:`TrainResult`.

One loop owns everything that is not specific to a model; a small task object supplies the
rest. :func:`fit` runs, per epoch:

1. ``model.train()``; a permutation of the ``num_train`` training instances from the seeded
   ``"shuffle"`` generator; :meth:`TrainTask.begin_epoch` (per-epoch random draws of the task);
2. for every mini-batch of ``batch_size`` indices of the permutation (batches with fewer than
   ``task.min_batch_size`` instances are left out): :meth:`TrainTask.train_batch` gives the
   scalar loss; a non-finite loss, or a finite loss whose gradient has a non-finite total norm
   (:func:`torch.nn.utils.get_total_norm`), skips the step (counted as ``skipped_batches``);
   otherwise optional gradient clipping (``max_grad_norm``) and an Adam step
   (:class:`torch.optim.Adam`, with ``weight_decay``);
3. ``model.eval()`` and :meth:`TrainTask.validate` without gradients; its ``"total"`` is the
   validation loss :math:`v_e` (a non-finite value counts as :math:`+\infty`);
4. :class:`torch.optim.lr_scheduler.ReduceLROnPlateau` steps on :math:`v_e`;
5. best weights: epoch :math:`e` (1-based) improves on the best loss :math:`v^\star` when
   :math:`v_e < v^\star-\delta\,|v^\star|` (``min_delta`` :math:`=\delta` is *relative*;
   :math:`\delta=0` is a strict ``<``), or when :math:`v^\star` is not finite and :math:`v_e`
   is; its weights are copied, otherwise the count of epochs without improvement grows;
6. stop (finished) when that count reaches ``patience`` (``"early_stopping"``), at
   ``max_epochs`` (``"max_epochs"``) or once the summed epoch time passes ``max_time_s``
   (``"time_limit"``); the training state is saved (with ``checkpoint=``); the call returns
   early but resumably after ``stop_after_epochs`` epochs or ``time_budget_s`` seconds of this
   call (``"interrupted"``).

A finished run ends with the best weights loaded. A *warm start* (``warm_start=True``: the caller
loaded trained weights into the model) is scored on the validation set before the first epoch
and counts as epoch 0: the run never ends worse on validation than its start.

What a caller can rely on:

* **Determinism.** The loop draws random numbers only from its named generators
  (``task.generator_seeds``, each a :class:`torch.Generator` seeded with the given value) and
  from what the model itself consumes (dropout, from torch's global generator, which the caller
  seeds before building the model). The same seeds, data and thread count give bit-identical
  weights.
* **Resume.** With ``checkpoint=`` the full state (weights, best weights, Adam moments, the
  scheduler and early-stopping state, torch's global RNG state and every named generator, the
  history) is written after every epoch as a ``kind="training_state"`` checkpoint
  (:mod:`isaclearn.learn.checkpoint`: safetensors + JSON, SHA-256, atomic). ``resume=True``
  continues from it and ends exactly where an uninterrupted run ends; a checkpoint written for
  another ``checkpoint_config`` is refused with :class:`~isaclearn.core.errors.CheckpointError`.
  Layout: tensors ``model.*``, ``best.*``, ``optim.<param id>.<key>``, ``rng.torch``,
  ``rng.<generator name>``; JSON state ``progress`` (the dict of :class:`TrainResult` fields
  plus ``bad_epochs``), ``param_groups`` and ``scheduler``.
* **Logs.** With ``log_dir=`` every training and validation term and the learning rate go to
  TensorBoard (``train/<term>``, ``val/<term>``, ``lr``) per epoch.

A new network trains on this loop by writing a :class:`TrainTask`: its data (held or drawn in
:meth:`TrainTask.prepare`), its batch loss and its validation. Sequence models fit as they are:
the loop only ever hands the task a tensor of instance indices, so a task holding ``[N, L, F]``
sequences returns, e.g., the mean squared error or cross-entropy of ``model(x[idx])``.
"""

from __future__ import annotations

import copy
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn.checkpoint import (
    exists,
    load_checkpoint,
    prefixed,
    save_checkpoint,
    unprefixed,
)

RHO_GRID = tuple(round(0.1 * i, 1) for i in range(11))
"""The trade-off weights ``ρ ∈ {0, 0.1, …, 1}`` of a ``ρ``-conditioned precoder."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings of :func:`fit`, one dataclass for every network.

    The defaults are those of the downlink precoder networks (:func:`~isaclearn.learn.
    train_precoder`, Table 2 of their paper where it gives a value); the uplink networks start
    from :data:`isaclearn.learn.isacnn.UPLINK_TRAIN_CONFIG`. Settings that belong to one task
    only are arguments of that task's function (e.g. ``augment`` and ``alpha`` of
    :func:`~isaclearn.learn.isacnn.train_uplink`), except the three data settings below that the
    precoder task has always stored here.

    Attributes
    ----------
    num_train : int
        Instances drawn for training, validation included, by a task that draws its own data
        (:func:`~isaclearn.learn.train_precoder`; paper: 10⁶). Unused by a task given its data.
    val_fraction : float
        Fraction of ``num_train`` held out for validation (paper: 5 %); as ``num_train``.
    batch_size : int
        Mini-batch size (paper: 500).
    lr : float
        Initial Adam learning rate (paper: 0.001).
    max_epochs : int
        Upper limit on epochs.
    patience : int
        Early stopping: stop after this many epochs without a lower validation loss.
    min_delta : float
        Relative decrease of the best validation loss that counts as an improvement
        (``0``: any strict decrease).
    lr_factor : float
        ``ReduceLROnPlateau`` factor.
    lr_patience : int
        ``ReduceLROnPlateau`` patience (epochs).
    min_lr : float
        ``ReduceLROnPlateau`` lower bound on the learning rate.
    seed : int
        Seed of everything random in the run (the task derives its generators' seeds from it).
    rho_grid : tuple of float
        Values of ``ρ`` drawn (uniformly, per instance) for a ``ρ``-conditioned precoder; the
        validation instances cycle through them. Unused by other tasks.
    max_time_s : float or None
        Stop (finished, keeping the best weights) after the first epoch that ends past this
        much training time. The result then depends on the machine's speed, which the
        ``stop_reason`` ``"time_limit"`` records; ``None`` (default) keeps runs deterministic.
    weight_decay : float
        Adam's L2 weight decay (0: none).
    max_grad_norm : float or None
        Clip the gradient to this total 2-norm before each step (``None``: no clipping).
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
    weight_decay: float = 0.0
    max_grad_norm: float | None = None

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
        if self.lr_patience < 0 or not self.min_lr >= 0 or not self.min_delta >= 0:
            raise ConfigError(f"lr_patience, min_lr and min_delta must be >= 0, got "
                              f"{self.lr_patience}, {self.min_lr}, {self.min_delta}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ConfigError(f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")
        if not self.rho_grid or any(not 0.0 <= r <= 1.0 for r in self.rho_grid):
            raise ConfigError(f"rho_grid must be non-empty values in [0, 1], got {self.rho_grid}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rho_grid"] = list(self.rho_grid)
        return d


@dataclass
class TrainResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    epochs : int
        Epochs completed (over all resumed sessions).
    best_epoch : int
        1-based epoch whose weights were kept; 0: the starting weights (a warm start, or no
        epoch with a finite validation loss).
    best_val_loss : float
        Its validation loss (``inf`` if none was finite).
    finished : bool
        False when the call stopped early on ``stop_after_epochs`` or ``time_budget_s``
        (resumable).
    stop_reason : str
        ``"early_stopping"``, ``"max_epochs"``, ``"time_limit"`` or ``"interrupted"``.
    train_time_s : float
        Wall time spent in epochs, summed over resumed sessions.
    history : list of dict
        One row per epoch: ``epoch`` (1-based), ``lr`` (the learning rate after the epoch's
        plateau step, i.e. the next epoch's), ``lr_used`` (the rate the epoch trained with),
        ``epoch_time_s``, ``skipped_batches``, and the task's mean terms as ``train_<term>``
        (over the stepped mini-batches, in training mode) and ``val_<term>``.
    num_train, num_val : int
        Training and validation instances.
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

    @property
    def train_loss(self) -> list[float]:
        """Mean training loss (``train_total``) per epoch."""
        return [float(h["train_total"]) for h in self.history]

    @property
    def val_loss(self) -> list[float]:
        """Validation loss (``val_total``) per epoch."""
        return [float(h["val_total"]) for h in self.history]

    @property
    def lr(self) -> list[float]:
        """Learning rate each epoch trained with (``lr_used``; NaN in rows of older runs)."""
        return [float(h.get("lr_used", math.nan)) for h in self.history]


@dataclass
class BatchLoss:
    """What :meth:`TrainTask.train_batch` returns.

    Attributes
    ----------
    loss : torch.Tensor
        Scalar loss to differentiate.
    sums : dict of str to float
        Every term of ``TrainTask.log_terms`` summed over the batch's instances (for the epoch
        means of the history); added only if the step is taken.
    """

    loss: torch.Tensor
    sums: dict[str, float]


class TrainTask(ABC):
    """The model-specific part of a training run (see the module docstring).

    Attributes
    ----------
    model : torch.nn.Module
        The network trained (in place).
    num_train : int
        Training instances; the loop shuffles ``range(num_train)``.
    num_val : int
        Validation instances (reported only).
    generator_seeds : dict of str to int
        Named :class:`torch.Generator` seeds; ``"shuffle"`` (the permutation of every epoch) is
        required, the task may ask for more (passed to :meth:`begin_epoch` and
        :meth:`train_batch`, saved in checkpoints).
    log_terms : tuple of str
        Terms of :attr:`BatchLoss.sums` and of :meth:`validate`; must include ``"total"``.
    min_batch_size : int
        Mini-batches with fewer instances are left out (2 for batch norm).
    flush_denormal : bool
        Flush subnormal floats to zero on the CPU during the epochs (speed; see
        :func:`flush_subnormals`).
    log_keys : tuple of str
        Validation terms shown in the per-epoch log line next to the loss.
    """

    model: nn.Module
    num_train: int
    num_val: int = 0
    generator_seeds: dict[str, int]
    log_terms: tuple[str, ...] = ("total",)
    min_batch_size: int = 1
    flush_denormal: bool = False
    log_keys: tuple[str, ...] = ()

    def prepare(self) -> None:  # noqa: B027 (optional hook)
        """Get the data ready; called once, only when the run trains or validates."""

    def begin_epoch(self, generators: dict[str, torch.Generator]) -> None:  # noqa: B027
        """Per-epoch random draws, after the epoch's permutation."""

    @abstractmethod
    def train_batch(self, idx: torch.Tensor,
                    generators: dict[str, torch.Generator]) -> BatchLoss:
        """Loss of the training instances ``idx`` (``[b]`` int64, on the CPU)."""

    @abstractmethod
    def validate(self) -> dict[str, float]:
        """Mean validation terms (``"total"`` is the loss that selects the best weights);
        called in evaluation mode without gradients."""


@contextmanager
def flush_subnormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormal floats to zero on the CPU inside the block, then restore the default.

    A structured precoder that switches a user off (``p_k`` of order 1e-44 after its softmax)
    fills the forward and backward passes with subnormal numbers, which x86 CPUs process 2–3×
    slower (measured: 2.1 s vs 0.9 s for the same 5 000 instances). Values below 1.2e-38 do
    not change any loss term that matters at float32 precision."""
    flushed = enabled and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flushed:
            torch.set_flush_denormal(False)


def _finite_or_inf(x: float) -> float:
    return x if math.isfinite(x) else math.inf


def fit(
    task: TrainTask,
    config: TrainConfig,
    *,
    checkpoint: str | Path | None = None,
    checkpoint_config: dict[str, Any] | None = None,
    resume: bool = False,
    warm_start: bool = False,
    log_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    stop_after_epochs: int | None = None,
    time_budget_s: float | None = None,
) -> TrainResult:
    """Train ``task.model`` (module docstring: the epoch, selection and stopping rules).

    Parameters
    ----------
    task : TrainTask
        Model, data, loss and validation.
    config : TrainConfig
        Optimizer, scheduler, early stopping and limits. ``seed`` is not used here: the task's
        ``generator_seeds`` carry it.
    checkpoint : path, optional
        Stem of the training-state checkpoint, rewritten after every epoch.
    checkpoint_config : dict, optional
        What the checkpoint is tied to (stored; a resume with another one is refused).
        Default: ``{"train": config.to_dict()}``.
    resume : bool
        Continue from ``checkpoint`` if it exists.
    warm_start : bool
        The model holds trained starting weights: score them before the first epoch as epoch 0
        of the best-weights selection.
    log_dir : path, optional
        TensorBoard log folder.
    log : callable, optional
        Receives one line per epoch.
    stop_after_epochs : int, optional
        Return (resumably, ``finished=False``) after this many epochs of this call.
    time_budget_s : float, optional
        Return (resumably) after the first epoch that ends past this wall time of this call.

    Returns
    -------
    TrainResult
        The model is left in eval mode, with the best weights if ``finished`` (else the latest).

    Raises
    ------
    CheckpointError
        ``resume`` from a checkpoint of another configuration, or a corrupted one.
    ConfigError
        A task without a ``"shuffle"`` generator or whose validation lacks ``"total"``.
    """
    model = task.model
    if "shuffle" not in task.generator_seeds:
        raise ConfigError("a TrainTask needs a 'shuffle' entry in generator_seeds")
    if "total" not in task.log_terms:
        raise ConfigError(f"TrainTask.log_terms must include 'total', got {task.log_terms}")
    full_cfg = checkpoint_config if checkpoint_config is not None else {
        "train": config.to_dict()}
    gens = {name: make_generator(seed) for name, seed in task.generator_seeds.items()}
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=config.lr_factor, patience=config.lr_patience,
        min_lr=config.min_lr,
    )
    st: dict[str, Any] = {
        "epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0, "history": [],
        "train_time_s": 0.0, "finished": False, "stop_reason": "",
    }
    best_state = copy.deepcopy(model.state_dict())

    if resume and checkpoint is not None and exists(checkpoint):
        ck = load_checkpoint(checkpoint, expected_config=full_cfg, expected_kind="training_state")
        model.load_state_dict(unprefixed(ck.tensors, "model"))
        best_state = unprefixed(ck.tensors, "best")
        opt_state: dict[str, Any] = {"state": {}, "param_groups": ck.state["param_groups"]}
        for name, t in unprefixed(ck.tensors, "optim").items():
            pid, key = name.split(".", 1)
            opt_state["state"].setdefault(int(pid), {})[key] = t
        opt.load_state_dict(opt_state)
        sched.load_state_dict(ck.state["scheduler"])
        torch.set_rng_state(ck.tensors["rng.torch"])
        for name, g in gens.items():
            if f"rng.{name}" not in ck.tensors:
                raise CheckpointError(f"training checkpoint {checkpoint} lacks the state of the "
                                      f"generator {name!r}")
            g.set_state(ck.tensors[f"rng.{name}"])
        st = dict(ck.state["progress"])
        if log:
            log(f"resumed from {checkpoint} after epoch {st['epoch']}")

    def save() -> None:
        if checkpoint is None:
            return
        tensors = {**prefixed(model.state_dict(), "model"), **prefixed(best_state, "best")}
        osd = opt.state_dict()
        for pid, s in osd["state"].items():
            for key, t in s.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(t)
        tensors["rng.torch"] = torch.get_rng_state()
        for name, g in gens.items():
            tensors[f"rng.{name}"] = g.get_state()
        save_checkpoint(
            checkpoint, tensors, kind="training_state", config=full_cfg,
            metrics={"best_val_loss": st["best_val"], "best_epoch": st["best_epoch"]},
            state={"progress": st, "param_groups": osd["param_groups"],
                   "scheduler": sched.state_dict()},
        )

    if not st["finished"]:
        task.prepare()
    writer = None
    if log_dir is not None and not st["finished"]:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(log_dir), purge_step=st["epoch"] + 1)

    def validate() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            out = task.validate()
        if "total" not in out:
            raise ConfigError("TrainTask.validate() must return a 'total' entry")
        return out

    if warm_start and st["epoch"] == 0 and not st["history"] and not st["finished"]:
        v0 = validate()
        if math.isfinite(v0["total"]):
            st["best_val"] = v0["total"]
        st["init_val"] = v0
        if log:
            log(f"warm start: val {v0['total']:+.5f}"
                + "".join(f"  val {k} {v0[k]:.4g}" for k in task.log_keys if k in v0))

    start = time.perf_counter()
    epochs_this_call = 0
    params = [q for q in model.parameters()]
    with flush_subnormals(task.flush_denormal):
        while not st["finished"]:
            if st["epoch"] >= config.max_epochs:
                st["finished"], st["stop_reason"] = True, "max_epochs"
                break
            t0 = time.perf_counter()
            lr_used = float(opt.param_groups[0]["lr"])
            model.train()
            perm = torch.randperm(task.num_train, generator=gens["shuffle"])
            task.begin_epoch(gens)
            sums = dict.fromkeys(task.log_terms, 0.0)
            seen = 0
            skipped = 0
            for s in range(0, task.num_train, config.batch_size):
                idx = perm[s : s + config.batch_size]
                if idx.numel() < task.min_batch_size:
                    continue
                out = task.train_batch(idx, gens)
                if not bool(torch.isfinite(out.loss)):
                    skipped += 1
                    continue
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                grads = [q.grad for q in params if q.grad is not None]
                norm = torch.nn.utils.get_total_norm(grads)
                if not bool(torch.isfinite(norm)):
                    skipped += 1  # a finite loss with a non-finite gradient norm: no step
                    continue
                if config.max_grad_norm is not None:
                    torch.nn.utils.clip_grads_with_norm_(params, config.max_grad_norm, norm)
                opt.step()
                for key in task.log_terms:
                    sums[key] += out.sums[key]
                seen += idx.numel()
            train_means = {key: v / max(seen, 1) for key, v in sums.items()}

            val_means = validate()
            val_loss = _finite_or_inf(float(val_means["total"]))
            sched.step(val_loss)

            st["epoch"] += 1
            epochs_this_call += 1
            if val_loss < st["best_val"] - config.min_delta * abs(st["best_val"]) or (
                not math.isfinite(st["best_val"]) and math.isfinite(val_loss)
            ):
                st["best_val"], st["best_epoch"], st["bad_epochs"] = val_loss, st["epoch"], 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                st["bad_epochs"] += 1
            dt = time.perf_counter() - t0
            st["train_time_s"] += dt
            lr_now = float(opt.param_groups[0]["lr"])
            row = {"epoch": st["epoch"], "lr": lr_now, "lr_used": lr_used, "epoch_time_s": dt,
                   "skipped_batches": skipped}
            row.update({f"train_{key}": v for key, v in train_means.items()})
            row.update({f"val_{key}": v for key, v in val_means.items()})
            st["history"] = [*st["history"], row]
            if writer is not None:
                for key, v in train_means.items():
                    writer.add_scalar(f"train/{key}", v, st["epoch"])
                for key, v in val_means.items():
                    writer.add_scalar(f"val/{key}", v, st["epoch"])
                writer.add_scalar("lr", lr_now, st["epoch"])
            if log:
                log(f"epoch {st['epoch']:3d}  train {train_means['total']:+.5f}  val "
                    f"{val_loss:+.5f}"
                    + "".join(f"  val {k} {val_means[k]:.4g}" for k in task.log_keys
                              if k in val_means)
                    + f"  lr {lr_now:.1e}  ({dt:.1f} s)")
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
        model.load_state_dict(best_state)
        save()
    model.eval()
    return TrainResult(
        epochs=int(st["epoch"]),
        best_epoch=int(st["best_epoch"]),
        best_val_loss=float(st["best_val"]),
        finished=bool(st["finished"]),
        stop_reason=str(st["stop_reason"]),
        train_time_s=float(st["train_time_s"]),
        history=list(st["history"]),
        num_train=int(task.num_train),
        num_val=int(task.num_val),
    )

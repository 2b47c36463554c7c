r"""ISACNN and the FC-NN baseline of qi_uplink (``shared/papers/002_44f20366b67f6561.txt``,
section IV), their unsupervised training on the negative objective (eq. 30), and the designer
that wraps a trained network.

Pipeline (Fig. 4): pre-processing (eq. 29) → network → Lambda layer → recovery (eqs. 31–32).

* **Input** (eq. 29): :math:`\mathbf F=[\Re(\mathbf h_1^T),\dots,\Re(\mathbf h_K^T),
  \Im(\mathbf h_1^T),\dots,\Im(\mathbf h_K^T),\sigma_{t,1},\dots,\sigma_{t,N_t}]^T`, length
  :math:`2N_rK+N_t`. We feed the unit-free quantities
  :math:`\sqrt{p_k/\sigma_n^2}\,\hat{\mathbf h}_k` and :math:`\sigma_{t,i}P_s/\sigma_n^2`
  (channel amplitudes are ~1e-5 and eigenvalues ~1e-11 in watts; a fixed rescaling that the
  first batch-norm would otherwise have to learn). Under imperfect CSI the estimate is fed.
* **ISACNN** (Fig. 5, section V): three 1-D convolutions (the paper's ``(k, 1)`` kernels on a
  column) with 2, 4, 8 filters and kernels 5, 3, 3 ("valid" padding), ReLU, each preceded by
  batch norm; flatten; two heads, each batch norm → fully connected → sigmoid, with
  :math:`N_t` outputs (:math:`\boldsymbol\theta_s`) and 1 output (:math:`\eta_s`).
* **FC-NN** (the baseline of Fig. 6): batch norm before each of four fully connected layers with
  :math:`8N_t, 4N_t, 2N_t, N_t` neurons (ReLU, the last sigmoid, giving
  :math:`\boldsymbol\theta_s`). The paper does not say how FC-NN meets the power constraint; we
  attach the same :math:`\eta_s` head (to the :math:`2N_t` layer) and Lambda layer, so the two
  networks differ only in their feature extractor.
* **Lambda layer** (section IV-B): :math:`\boldsymbol\sigma_s=[\boldsymbol\theta_s/
  \|\boldsymbol\theta_s\|]^{\downarrow}\cdot\eta_sP_s`. The paper normalizes by the
  :math:`\ell_2` norm and claims :math:`\|\boldsymbol\sigma_s\|\le P_s`, but the constraint (15)
  is on the :math:`\ell_1` norm, which the :math:`\ell_2` normalization can exceed by
  :math:`\sqrt{N_t}`. ``theta_norm="l1"`` (default) normalizes by the :math:`\ell_1` norm
  (:math:`\sum_i\sigma_{s,i}=\eta_sP_s\le P_s` exactly); ``"l2"`` is the paper's text followed
  by a rescaling onto the budget when it is exceeded. ``sort_output`` applies the descending sort
  that pairs the largest power with the largest eigenvalue of :math:`\mathbf R_T`.
* **Training** (section V): unsupervised, loss = −mean WSNR (eq. 30) with the optimal (MMSE)
  communication rate on the *true* channel, Adam (1e-3), mini-batch 256, up to 500 epochs,
  early stopping with patience 20 on the validation loss (best weights restored),
  ``ReduceLROnPlateau`` (factor 0.33, patience 10): :data:`UPLINK_TRAIN_CONFIG` on the common
  loop :func:`isaclearn.learn.loop.fit` (:func:`train_uplink`, task :class:`UplinkTask`).
  Trained networks are ``kind="uplink_net"`` checkpoints (:func:`save_uplink_net`,
  :func:`load_uplink_net`).
* **Channel augmentation** (not in the paper; ``train_uplink(augment=True)``, the default;
  ``False`` is the paper's recipe): every training mini-batch sees its channels transformed by a
  random symmetry of problem (28), :math:`\hat{\mathbf H}\to\mathbf Q\hat{\mathbf H}\mathbf D
  \boldsymbol\Pi` (Haar unitary, user phases, user permutation;
  :func:`augment_channel_features`), with the loss unchanged. Why: 2 N_r K = 160 of the 176
  inputs are channel entries, and the flattened 1344 features feed the heads' linear layers
  (21.5 k weights), which with a fixed set of 8000 instances fit noise in them. The
  augmentation closes that generalization gap (the network then needs more epochs before early
  stopping); the ablation against the alternatives tried (other inputs, weight decay) is in
  ``docs/qi_uplink.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from isaclearn.channels.uplink import UplinkProblem
from isaclearn.core.design import Design
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import CheckpointError, ConfigError, ShapeError
from isaclearn.learn.checkpoint import load_model, save_model, weights_digest
from isaclearn.learn.checkpoint import paths as checkpoint_paths
from isaclearn.learn.loop import BatchLoss, TrainConfig, TrainResult, TrainTask, fit
from isaclearn.metrics.uplink import rt_eig
from isaclearn.solvers.uplink import recover_design
from isaclearn.solvers.uplink_reduced import ReducedUplink, reduce_problem

ThetaNorm = Literal["l1", "l2"]


def uplink_features(problem: UplinkProblem, *, sigma_t: torch.Tensor | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""Feature vector of eq. (29) ``[B, 2 N_r K + N_t]`` (unit-free, see module docstring).

    Parameters
    ----------
    problem : UplinkProblem
        Uses the designer's CSI ``problem.csi``.
    sigma_t : torch.Tensor or None
        Eigenvalues of :math:`\mathbf R_T` (descending) if already computed.
    dtype : torch.dtype
        Real dtype of the features.
    """
    h = problem.csi
    s2 = float(problem.noise_var)
    if sigma_t is None:
        sigma_t, _ = rt_eig(problem.r_t)
    scale = torch.sqrt(problem.p.to(real_dtype(h.dtype)) / s2)
    ht = (h * scale[:, None, :].to(h.dtype)).transpose(-2, -1)  # [B, K, N_r]: row k = h_k^T
    b = ht.shape[0]
    feats = [ht.real.reshape(b, -1), ht.imag.reshape(b, -1),
             sigma_t.to(real_dtype(h.dtype)) * (float(problem.power_s) / s2)]
    return torch.cat(feats, dim=-1).to(dtype)


def lambda_layer(theta: torch.Tensor, eta: torch.Tensor, *, theta_norm: ThetaNorm = "l1",
                 sort_output: bool = True) -> torch.Tensor:
    r"""The Lambda output layer (section IV-B), in units of :math:`P_s`.

    Parameters
    ----------
    theta : torch.Tensor
        ``[B, N_t]`` in ``(0, 1)`` (sigmoid outputs).
    eta : torch.Tensor
        ``[B, 1]`` in ``(0, 1)``.
    theta_norm : {"l1", "l2"}
        Normalization of :math:`\boldsymbol\theta_s` (module docstring).
    sort_output : bool
        Sort in descending order.

    Returns
    -------
    torch.Tensor
        :math:`\mathbf x=\boldsymbol\sigma_s/P_s` ``[B, N_t]``, :math:`\mathbf x\ge0`,
        :math:`\sum_ix_i\le1`.
    """
    if theta_norm == "l1":
        th = theta / theta.sum(-1, keepdim=True).clamp_min(1e-12)
    elif theta_norm == "l2":
        th = theta / theta.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    else:
        raise ConfigError(f"theta_norm must be 'l1' or 'l2', got {theta_norm!r}")
    if sort_output:
        th, _ = torch.sort(th, dim=-1, descending=True)
    x = th * eta
    if theta_norm == "l2":
        tot = x.sum(-1, keepdim=True)
        x = torch.where(tot > 1.0, x / tot.clamp_min(1e-12), x)
    return x


class _Heads(nn.Module):
    """Two sigmoid heads (θ with N_t outputs, η with 1 output), each preceded by batch norm."""

    def __init__(self, in_theta: int, in_eta: int, num_tx: int) -> None:
        super().__init__()
        self.theta = nn.Sequential(nn.BatchNorm1d(in_theta), nn.Linear(in_theta, num_tx),
                                   nn.Sigmoid())
        self.eta = nn.Sequential(nn.BatchNorm1d(in_eta), nn.Linear(in_eta, 1), nn.Sigmoid())


@dataclass
class UplinkNetConfig:
    """Constructor arguments of a network, stored next to its weights.

    Attributes
    ----------
    kind : {"isacnn", "fcnn"}
        Architecture.
    num_tx, num_rx, num_users : int
        ``N_t``, ``N_r``, ``K`` (they fix the input length).
    theta_norm : {"l1", "l2"}
        Lambda-layer normalization.
    sort_output : bool
        Lambda-layer sort.
    filters, kernels : list of int
        ISACNN convolutions (2, 4, 8 filters; kernels 5, 3, 3).
    seed : int
        Seed of the weight initialization.
    """

    kind: str = "isacnn"
    num_tx: int = 16
    num_rx: int = 16
    num_users: int = 5
    theta_norm: str = "l1"
    sort_output: bool = True
    filters: list[int] = field(default_factory=lambda: [2, 4, 8])
    kernels: list[int] = field(default_factory=lambda: [5, 3, 3])
    seed: int = 0

    @property
    def num_features(self) -> int:
        return 2 * self.num_rx * self.num_users + self.num_tx


class IsacNN(nn.Module):
    """ISACNN (Fig. 5): batch-normed 1-D convolutions, two sigmoid heads, Lambda layer.

    ``forward(features [B, 2 N_r K + N_t]) -> x [B, N_t]`` with :math:`\\mathbf x=
    \\boldsymbol\\sigma_s/P_s`.

    Examples
    --------
    >>> net = IsacNN(UplinkNetConfig(num_tx=4, num_rx=4, num_users=2))
    >>> net.eval()(torch.randn(3, 2 * 4 * 2 + 4)).shape
    torch.Size([3, 4])
    """

    def __init__(self, spec: UplinkNetConfig) -> None:
        super().__init__()
        if len(spec.filters) != len(spec.kernels):
            raise ConfigError("filters and kernels must have the same length")
        self.spec = spec
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            layers: list[nn.Module] = []
            ch, length = 1, spec.num_features
            for f, k in zip(spec.filters, spec.kernels):
                layers += [nn.BatchNorm1d(ch), nn.Conv1d(ch, f, k), nn.ReLU()]
                ch, length = f, length - k + 1
            if length < 1:
                raise ConfigError(f"input of length {spec.num_features} too short for kernels "
                                  f"{spec.kernels}")
            self.features = nn.Sequential(*layers, nn.Flatten())
            flat = ch * length
            self.heads = _Heads(flat, flat, spec.num_tx)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.dim() != 2 or feats.shape[-1] != self.spec.num_features:
            raise ShapeError(f"features must have shape [B, {self.spec.num_features}], got "
                             f"{tuple(feats.shape)}")
        z = self.features(feats[:, None, :])
        return lambda_layer(self.heads.theta(z), self.heads.eta(z),
                            theta_norm=self.spec.theta_norm,  # type: ignore[arg-type]
                            sort_output=self.spec.sort_output)


class FcNN(nn.Module):
    """FC-NN baseline (section V): batch norm before each of four fully connected layers with
    ``8 N_t, 4 N_t, 2 N_t, N_t`` neurons, plus the η head and Lambda layer of ISACNN."""

    def __init__(self, spec: UplinkNetConfig) -> None:
        super().__init__()
        self.spec = spec
        nt = spec.num_tx
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            self.body = nn.Sequential(
                nn.BatchNorm1d(spec.num_features), nn.Linear(spec.num_features, 8 * nt),
                nn.ReLU(),
                nn.BatchNorm1d(8 * nt), nn.Linear(8 * nt, 4 * nt), nn.ReLU(),
                nn.BatchNorm1d(4 * nt), nn.Linear(4 * nt, 2 * nt), nn.ReLU(),
            )
            self.heads = _Heads(2 * nt, 2 * nt, nt)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.dim() != 2 or feats.shape[-1] != self.spec.num_features:
            raise ShapeError(f"features must have shape [B, {self.spec.num_features}], got "
                             f"{tuple(feats.shape)}")
        z = self.body(feats)
        return lambda_layer(self.heads.theta(z), self.heads.eta(z),
                            theta_norm=self.spec.theta_norm,  # type: ignore[arg-type]
                            sort_output=self.spec.sort_output)


UplinkNet = IsacNN | FcNN


def build_uplink_network(spec: UplinkNetConfig) -> UplinkNet:
    """The network described by ``spec``."""
    if spec.kind == "isacnn":
        return IsacNN(spec)
    if spec.kind == "fcnn":
        return FcNN(spec)
    raise ConfigError(f"unknown network kind {spec.kind!r}; choose 'isacnn' or 'fcnn'")


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------


UPLINK_TRAIN_CONFIG = TrainConfig(
    lr=1e-3, batch_size=256, max_epochs=500, patience=20, min_delta=0.0, lr_factor=0.33,
    lr_patience=10, min_lr=0.0, seed=0,
)
"""Training settings of section V: Adam 1e-3, mini-batch 256, up to 500 epochs, early stopping
with patience 20 on any strict decrease of the validation loss, ``ReduceLROnPlateau`` (factor
0.33, patience 10, no floor). ``seed`` seeds the mini-batch shuffling (``seed``) and the channel
augmentation (``seed + 1``). Change fields with :func:`dataclasses.replace`."""


def unsupervised_loss(red: ReducedUplink, x: torch.Tensor) -> torch.Tensor:
    r"""Loss of eq. (30): :math:`-\frac1{N_s}\sum_q\text{WSNR}_q(\mathbf x_q)` (scalar)."""
    return -red.wsnr(x).mean()


def augment_channel_features(feats: torch.Tensor, num_rx: int, num_users: int, *,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Apply a random symmetry of problem (28) to the channel part of eq. (29)'s features.

    Every instance gets :math:`\hat{\mathbf H}\to\mathbf Q\hat{\mathbf H}\mathbf D
    \boldsymbol\Pi` with a Haar-random unitary :math:`\mathbf Q` (``N_r x N_r``), random
    per-user phases :math:`\mathbf D` and a random user permutation :math:`\boldsymbol\Pi`;
    :math:`\sigma_t` is untouched. The objective depends on the channel only through the
    eigenvalues of :math:`\mathbf H\mathbf P\mathbf H^H` (sensing, eq. 11) and the users'
    MMSE SINRs averaged over the users (eq. 26), which all are invariant, so the transformed
    features come with the same loss (applied to both :math:`\mathbf H` and
    :math:`\hat{\mathbf H}` the joint law of the i.i.d. Rayleigh channels is unchanged).

    Parameters
    ----------
    feats : torch.Tensor
        ``[B, 2 N_r K + N_t]`` from :func:`uplink_features`.
    num_rx, num_users : int
        ``N_r``, ``K``.
    generator : torch.Generator or None
        Source of randomness.

    Returns
    -------
    torch.Tensor
        Features of the same shape and dtype.
    """
    b, nk = feats.shape[0], num_rx * num_users
    if feats.dim() != 2 or feats.shape[-1] <= 2 * nk:
        raise ShapeError(f"feats must have shape [B, 2 N_r K + N_t] with N_r K = {nk}, got "
                         f"{tuple(feats.shape)}")
    cdt = torch.complex128 if feats.dtype == torch.float64 else torch.complex64
    ht = torch.complex(feats[:, :nk], feats[:, nk:2 * nk]).reshape(b, num_users, num_rx)
    dev = feats.device
    g = torch.complex(torch.randn(b, num_rx, num_rx, generator=generator, dtype=feats.dtype),
                      torch.randn(b, num_rx, num_rx, generator=generator, dtype=feats.dtype))
    q, r = torch.linalg.qr(g.to(dev))
    d = torch.diagonal(r, dim1=-2, dim2=-1)
    q = q * (d / d.abs().clamp_min(1e-30))[:, None, :]  # Haar measure
    phase = 2 * math.pi * torch.rand(b, num_users, generator=generator, dtype=feats.dtype)
    perm = torch.argsort(torch.rand(b, num_users, generator=generator), dim=-1)
    ht = ht @ q.transpose(-2, -1).to(cdt)  # row k: (Q h_k)^T
    ht = ht * torch.polar(torch.ones_like(phase), phase).to(dev, cdt)[:, :, None]
    ht = torch.gather(ht, 1, perm.to(dev)[:, :, None].expand(-1, -1, num_rx))
    return torch.cat([ht.real.reshape(b, -1), ht.imag.reshape(b, -1), feats[:, 2 * nk:]], -1)


def _prepare(problem: UplinkProblem, alpha: float | None) -> tuple[torch.Tensor, ReducedUplink]:
    feats = uplink_features(problem)
    red = reduce_problem(problem, use_csi=False, alpha=alpha)  # the loss uses the true channel
    rdt = feats.dtype
    red = ReducedUplink(gain_t=red.gain_t.to(rdt), gain_h=red.gain_h.to(rdt),
                        spec_d=red.spec_d.to(rdt), spec_q=red.spec_q.to(rdt),
                        num_symbols=red.num_symbols, alpha=red.alpha, m_s=red.m_s.to(rdt),
                        m_c=red.m_c.to(rdt))
    return feats, red


class UplinkTask(TrainTask):
    """ISACNN / FC-NN training on eq. (30) as a :class:`~isaclearn.learn.loop.TrainTask`.

    Every training mini-batch (at least two instances: batch norm) is optionally augmented
    (:func:`augment_channel_features`, generator ``"augment"`` seeded ``seed + 1``; shuffling
    uses ``"shuffle"`` seeded ``seed``); the validation loss is one pass over the whole set.

    Parameters
    ----------
    model : IsacNN or FcNN
        The network.
    train, val : UplinkProblem
        Training and validation instances; features from ``csi``, loss from the true channel.
    alpha : float
        Sensing weight.
    augment : bool
        Channel augmentation of every training mini-batch.
    seed : int
        Seed of the shuffling and the augmentation.
    """

    min_batch_size = 2

    def __init__(self, model: UplinkNet, train: UplinkProblem, val: UplinkProblem, *,
                 alpha: float, augment: bool, seed: int) -> None:
        self.model: UplinkNet = model
        self.augment = augment
        self.x_tr, self.red_tr = _prepare(train, alpha)
        self.x_va, self.red_va = _prepare(val, alpha)
        self.num_train, self.num_val = self.x_tr.shape[0], self.x_va.shape[0]
        self.generator_seeds = {"shuffle": seed, "augment": seed + 1}

    def train_batch(self, idx: torch.Tensor,
                    generators: dict[str, torch.Generator]) -> BatchLoss:
        idx = idx.to(self.x_tr.device)
        xb = self.x_tr[idx]
        if self.augment:
            spec = self.model.spec
            xb = augment_channel_features(xb, spec.num_rx, spec.num_users,
                                          generator=generators["augment"])
        loss = unsupervised_loss(self.red_tr.subset(idx), self.model(xb))
        return BatchLoss(loss, {"total": float(loss.detach()) * idx.numel()})

    def validate(self) -> dict[str, float]:
        return {"total": float(unsupervised_loss(self.red_va, self.model(self.x_va)))}


def _data_digest(problem: UplinkProblem) -> str:
    tensors = {f.name: getattr(problem, f.name) for f in dataclasses.fields(problem)
               if isinstance(getattr(problem, f.name), torch.Tensor)}
    return weights_digest(tensors)


def train_uplink(
    model: UplinkNet,
    train: UplinkProblem,
    val: UplinkProblem,
    config: TrainConfig | None = None,
    *,
    alpha: float | None = None,
    augment: bool = True,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    log_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    stop_after_epochs: int | None = None,
    time_budget_s: float | None = None,
) -> TrainResult:
    r"""Train ``model`` unsupervised on the negative WSNR (eq. 30) with
    :func:`~isaclearn.learn.loop.fit`; a finished run restores the best weights.

    Parameters
    ----------
    model : IsacNN or FcNN
        The network (modified in place).
    train, val : UplinkProblem
        Training and validation instances; features from ``csi``, loss from the true channel.
    config : TrainConfig or None
        Settings (default :data:`UPLINK_TRAIN_CONFIG`); ``num_train``, ``val_fraction`` and
        ``rho_grid`` are not used (the data are given).
    alpha : float or None
        Sensing weight (default: ``train.alpha``).
    augment : bool
        Channel augmentation of every training mini-batch (module docstring; ``False`` is the
        paper's recipe).
    checkpoint, resume, log_dir, log, stop_after_epochs, time_budget_s
        As in :func:`~isaclearn.learn.loop.fit`. The training checkpoint is tied to the network
        spec, the settings, ``alpha``, ``augment`` and a digest of the two data sets.

    Returns
    -------
    TrainResult
        ``history`` rows hold ``train_total`` (mean training loss over the stepped mini-batches,
        in training mode) and ``val_total`` (evaluation mode); ``result.train_loss``,
        ``result.val_loss`` and ``result.lr`` list them per epoch; ``best_epoch`` is 1-based.
    """
    cfg = config or UPLINK_TRAIN_CONFIG
    if alpha is None:
        alpha = float(train.alpha)
    task = UplinkTask(model, train, val, alpha=float(alpha), augment=augment, seed=cfg.seed)
    ck_cfg = None
    if checkpoint is not None:
        ck_cfg = {"net": dataclasses.asdict(model.spec), "train": cfg.to_dict(),
                  "alpha": float(alpha), "augment": augment,
                  "data": {"train": _data_digest(train), "val": _data_digest(val)}}
    return fit(task, cfg, checkpoint=checkpoint, checkpoint_config=ck_cfg, resume=resume,
               log_dir=log_dir, log=log, stop_after_epochs=stop_after_epochs,
               time_budget_s=time_budget_s)


# ---------------------------------------------------------------------------------------------
# designer and checkpoints
# ---------------------------------------------------------------------------------------------


@dataclass
class LearnedUplink:
    """A trained ISACNN / FC-NN as a designer: pre-processing (EVD of :math:`\\mathbf R_T`,
    eq. 29), a forward pass in evaluation mode, and the recovery of eqs. (31)–(32).

    Attributes
    ----------
    model : IsacNN or FcNN
        The trained network.
    name : str
        Method name in result tables.
    """

    model: Any
    name: str = "isacnn"

    def design(self, problem: UplinkProblem) -> Design:
        spec: UplinkNetConfig = self.model.spec
        if (problem.num_tx, problem.num_rx, problem.num_users) != (spec.num_tx, spec.num_rx,
                                                                   spec.num_users):
            raise ShapeError(
                f"{self.name} was built for (N_t, N_r, K) = ({spec.num_tx}, {spec.num_rx}, "
                f"{spec.num_users}), got ({problem.num_tx}, {problem.num_rx}, "
                f"{problem.num_users})")
        sigma_t, u_t = rt_eig(problem.r_t)
        self.model.eval()
        with torch.no_grad():
            x = self.model(uplink_features(problem, sigma_t=sigma_t))
        rdt = real_dtype(problem.h.dtype)
        sigma_s = x.to(rdt) * float(problem.power_s)
        return recover_design(problem, sigma_s, u_t=u_t, sigma_t=sigma_t)


UPLINK_NET_KIND = "uplink_net"
"""Checkpoint kind of a trained ISACNN / FC-NN."""


def save_uplink_net(stem: str | Path, model: UplinkNet, *,
                    metrics: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as a ``kind="uplink_net"`` checkpoint (``<stem>.safetensors`` +
    ``<stem>.json``, SHA-256, atomic; :func:`isaclearn.learn.checkpoint.save_model`) whose
    configuration is ``{"net": <UplinkNetConfig fields>}``. Returns the tensor file's path."""
    return save_model(stem, model, kind=UPLINK_NET_KIND,
                      config={"net": dataclasses.asdict(model.spec)}, metrics=metrics)


def _build_uplink(config: dict[str, Any]) -> UplinkNet:
    return build_uplink_network(UplinkNetConfig(**config["net"]))


_RETRAIN = "retrain it (rerun the `isaclearn run` experiment that wrote it)"


def _load_legacy(t_path: Path, side_path: Path) -> UplinkNet:
    """A network written by the former ``save_net``: ``X.safetensors`` + ``X.safetensors.json``
    holding ``{"spec": ..., "meta": ...}`` and no hash."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        side = json.loads(side_path.read_text())
        spec = UplinkNetConfig(**side["spec"])
        model = build_uplink_network(spec)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"old-format network {t_path} has an unreadable sidecar ({exc}); "
                              f"{_RETRAIN}") from None
    try:
        tensors = load_file(str(t_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"old-format network {t_path} cannot be read ({exc}); "
                              f"{_RETRAIN}") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise CheckpointError(f"old-format network {t_path} does not fit the network its "
                              f"sidecar describes; {_RETRAIN}") from None
    warnings.warn(f"{t_path} is an old-format network without a SHA-256 (not verified against "
                  f"corruption); re-save it with save_uplink_net or {_RETRAIN}", stacklevel=3)
    model.eval()
    return model


def load_uplink_net(path: str | Path) -> UplinkNet:
    """Load an ISACNN / FC-NN (never unpickles).

    ``path`` is a checkpoint stem or either file's path. Accepted: a ``kind="uplink_net"``
    checkpoint of :func:`save_uplink_net`, a finished training state of :func:`train_uplink`
    (its best weights), or a file of the former format (``X.safetensors`` with the sidecar
    ``X.safetensors.json``). The former format has no SHA-256, so only its structure is
    checked (the sidecar's spec builds and the weights fit it exactly) and a
    :class:`UserWarning` says so.

    Raises
    ------
    CheckpointError
        Missing, corrupted or foreign files, or weights that do not fit (one line; for a file
        of the former format it says how to retrain).
    """
    t_path, j_path = checkpoint_paths(path)
    legacy_side = t_path.with_name(t_path.name + ".json")
    if not j_path.is_file() and t_path.is_file() and legacy_side.is_file():
        return _load_legacy(t_path, legacy_side)
    model, _ = load_model(path, _build_uplink, kind=UPLINK_NET_KIND,
                          description="ISACNN / FC-NN network")
    return model  # type: ignore[return-value]

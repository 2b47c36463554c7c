r"""The Bi-LSTM networks of ding_dt (``shared/papers/004_c28dc1e34dc31f1a.txt``, Sec. VI,
Fig. 4, eq. 52): RSU assignment and predictive beams from one bidirectional LSTM over the
vehicles of a slot.

**Sequence.** The recurrence runs over the *vehicles of one slot sorted by their position x*,
not over time (Sec. VI-B: "organizing information about the vehicles based on their positions
… is crucial"); the caller sorts (:func:`vehicle_order` gives the permutation). A batch is
``S`` slots, each padded to ``K`` vehicles: features ``[S, K, F]`` and the number of real
vehicles ``lengths [S]`` (real vehicles first). Padding never reaches the recurrence:
:func:`torch.nn.utils.rnn.pack_padded_sequence` (``enforce_sorted=False``) packs the real
vehicles only, so the output of a real vehicle does not depend on ``K`` or on what the padding
holds; the outputs at padded positions are set to zero.

**Per-vehicle input** (Sec. VI-B; spec ``ding_dt.md`` §3), for each RSU ``i = 0, …, I−1`` in
turn (:func:`vehicle_features`)::

    [Re r̃_[i,k],n (N_r), Im r̃_[i,k],n (N_r), Re f_[i,k],n−1 (N_t), Im f_[i,k],n−1 (N_t), ν̃, μ̃]

so ``F = I(2N_r + 2N_t + 2)`` (:func:`feature_size`; 260 at ``I = 2``, ``N_t = N_r = 32``).
The paper's "r" is read as the matched-filter echo r̃ (12); features come from both RSUs (the
paper does not say which; spec §6.11).

**Normalisation.** The raw features span many orders of magnitude (ν̃ ≈ 2e-7 s, μ̃ ≈ 6e3 Hz,
r̃ small and scaling with the transmit power). The network standardises its input with a fixed
per-feature affine map :math:`(x - m)/s` held in two buffers (``feature_mean``,
``feature_std``; identity until fitted). :meth:`BiLstmNet.fit_normalisation` sets them from the
*real* vehicles of the training set only (mean and population standard deviation per feature;
a feature whose standard deviation is zero, or below ``1e-6`` of its mean's magnitude, keeps
the scale 1). Being buffers, they are part of ``state_dict`` and travel with the weights in
every checkpoint; test data never changes them. The training tasks fit them by default.

**Architecture** (Fig. 4; sizes are not given in the paper; spec §1 proposes them):
``nn.LSTM(F, hidden_size, num_layers, bidirectional=True, batch_first=True)`` →
``Linear(2·hidden_size, dense_width)`` + ReLU → head ``Linear(dense_width, out)``, applied per
vehicle. No dropout (Sec. VI-B: overfitting is negligible). Fig. 4 says "convolutional", but the
text describes no convolution; we use none. Heads (two separate networks, as eq. 52 counts):

* ``"assign"``: ``I`` logits per vehicle (class ``i`` = RSU ``i``), trained with cross-entropy
  against Alg. 3's labels (:class:`AssignmentTask`);
* ``"beam"``: ``[Re f, Im f] ∈ R^{2N_t}`` per vehicle (the beam of the vehicle's serving RSU),
  trained with the beam MSE (:class:`BeamTask`), times ``output_scale`` (e.g. ``√P``, so that
  the last layer works at unit scale).

**Complexity** (52): each LSTM direction of a layer with input width ``e`` holds
``4[h(h + e) + h]`` weights in the paper's count (PyTorch adds a second bias vector,
``4h`` more); the cost per vehicle is proportional to the weights, i.e. ``O(K)`` per slot.

**Beam constraint** (our choice, spec §3): the beam head is unconstrained while training; before
a predicted beam is scored it is projected onto the power ball ``‖f‖² ≤ P``
(:func:`project_beams`). The sensing constraint (37) is *not* imposed on the predicted beams at
this stage (it needs the tracker's ``Λ`` and is often infeasible, spec §6.2); a caller that
wants it applies the ball ∩ half-space projection of :mod:`isaclearn.solvers` afterwards.

**Metrics** (spec §2 "Learning"): assignment accuracy = share of real vehicles whose predicted
RSU equals the label; beam MSE = mean over real vehicles of
:math:`\|[\Re,\Im](\hat{\mathbf f}-\mathbf f)\|^2/(2N_t)`, pooled over every real vehicle of the
set.

**Training** runs on the one loop :func:`isaclearn.learn.loop.fit` (:func:`train_bilstm` adds a
checkpoint configuration tied to the network, the settings and a digest of the data); trained
networks are ``kind="bilstm"`` checkpoints (:func:`save_bilstm` / :func:`load_bilstm`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from isaclearn.core.errors import CheckpointError, ConfigError, ShapeError, ValueRangeError
from isaclearn.learn.checkpoint import (
    config_differences,
    load_checkpoint,
    load_weights,
    model_weights,
    save_model,
    weights_digest,
)
from isaclearn.learn.loop import BatchLoss, TrainConfig, TrainResult, TrainTask, fit
from isaclearn.metrics import vehicular

HeadKind = Literal["assign", "beam"]

BILSTM_KIND = "bilstm"
"""Checkpoint kind of a trained Bi-LSTM (:func:`save_bilstm`)."""

BILSTM_TRAIN_CONFIG = TrainConfig(batch_size=128, lr=1e-3, max_epochs=200, patience=20,
                                  lr_patience=5)
"""Default settings of :func:`train_bilstm`: Adam, learning rate 1e-3, mini-batch 128 (spec §1
proposals; the paper gives none), at most 200 epochs (Sec. VII: "roughly 200 epochs" for the
beam network), early stopping after 20 epochs without improvement. ``num_train``,
``val_fraction`` and ``rho_grid`` are unused (the data are given)."""


# ---------------------------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------------------------


def feature_size(num_tx: int, num_rx: int, num_rsu: int = 2) -> int:
    """Length ``F = I(2N_r + 2N_t + 2)`` of one vehicle's input (module docstring).

    Parameters
    ----------
    num_tx, num_rx : int
        ``N_t`` and ``N_r`` (antennas per RSU).
    num_rsu : int
        ``I`` (the paper: 2).

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        A count below 1.

    Examples
    --------
    >>> feature_size(32, 32)
    260
    """
    for name, v in (("num_tx", num_tx), ("num_rx", num_rx), ("num_rsu", num_rsu)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
    return num_rsu * (2 * num_rx + 2 * num_tx + 2)


def vehicle_features(r_tilde: torch.Tensor, f_prev: torch.Tensor, nu: torch.Tensor,
                     mu: torch.Tensor) -> torch.Tensor:
    r"""Per-vehicle Bi-LSTM input (Sec. VI-B), raw (the network standardises it).

    For each RSU ``i`` in turn: ``[Re r̃, Im r̃, Re f_prev, Im f_prev, ν̃, μ̃]``, concatenated
    over ``i`` (module docstring). A pure function: no scaling, no sorting, no masking (padded
    vehicles give whatever their inputs hold; the network ignores them).

    Parameters
    ----------
    r_tilde : torch.Tensor
        ``[S, I, K, N_r]`` complex: matched-filter echoes r̃_[i,k],n (12).
    f_prev : torch.Tensor
        ``[S, I, K, N_t]`` complex: the beams of the previous slot f_[i,k],n−1 (zero at an RSU
        that did not serve the vehicle).
    nu : torch.Tensor
        ``[S, I, K]`` real: measured round-trip delays ν̃ (13), in s.
    mu : torch.Tensor
        ``[S, I, K]`` real: measured Doppler shifts μ̃ (14), in Hz.

    Returns
    -------
    torch.Tensor
        ``[S, K, I(2N_r + 2N_t + 2)]`` in the real dtype of ``r_tilde``, on its device.

    Raises
    ------
    ShapeError
        Inconsistent shapes, or a real ``r_tilde`` / ``f_prev``.

    Examples
    --------
    >>> r = torch.zeros(3, 2, 5, 4, dtype=torch.complex64)
    >>> f = torch.zeros(3, 2, 5, 6, dtype=torch.complex64)
    >>> vehicle_features(r, f, torch.zeros(3, 2, 5), torch.zeros(3, 2, 5)).shape
    torch.Size([3, 5, 44])
    """
    if r_tilde.dim() != 4 or not r_tilde.is_complex():
        raise ShapeError(f"r_tilde must be complex with shape [S, I, K, N_r], got "
                         f"{r_tilde.dtype} {tuple(r_tilde.shape)}")
    s, i, k, _ = r_tilde.shape
    if f_prev.dim() != 4 or not f_prev.is_complex() or tuple(f_prev.shape[:3]) != (s, i, k):
        raise ShapeError(f"f_prev must be complex with shape [S, I, K, N_t] = [{s}, {i}, {k}, "
                         f"N_t], got {f_prev.dtype} {tuple(f_prev.shape)}")
    for name, t in (("nu", nu), ("mu", mu)):
        if tuple(t.shape) != (s, i, k) or t.is_complex():
            raise ShapeError(f"{name} must be real with shape [S, I, K] = [{s}, {i}, {k}], got "
                             f"{t.dtype} {tuple(t.shape)}")
    rdt = r_tilde.real.dtype
    parts = [r_tilde.real, r_tilde.imag, f_prev.real.to(rdt), f_prev.imag.to(rdt),
             nu.to(rdt)[..., None], mu.to(rdt)[..., None]]
    per_rsu = torch.cat(parts, dim=-1)  # [S, I, K, 2N_r + 2N_t + 2]
    return per_rsu.transpose(1, 2).reshape(s, k, -1)


def vehicle_order(x_m: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Permutation that sorts each slot's real vehicles by position ``x`` (ascending), padding
    last.

    Parameters
    ----------
    x_m : torch.Tensor
        ``[S, K]`` real: positions along the road, in m (padded entries arbitrary).
    lengths : torch.Tensor
        ``[S]`` int: real vehicles per slot (the first ``lengths[s]`` entries are real).

    Returns
    -------
    torch.Tensor
        ``[S, K]`` int64 indices; ``x.gather(1, order)`` is sorted within the real vehicles,
        and the padded entries keep their order after them.

    Examples
    --------
    >>> vehicle_order(torch.tensor([[3.0, -1.0, 2.0, 9.0]]), torch.tensor([3]))
    tensor([[1, 2, 0, 3]])
    """
    if x_m.dim() != 2:
        raise ShapeError(f"x_m must have shape [S, K], got {tuple(x_m.shape)}")
    mask = vehicle_mask(lengths, x_m.shape[1]).to(x_m.device)
    key = torch.where(mask, x_m, torch.full_like(x_m, math.inf))
    return torch.sort(key, dim=1, stable=True).indices


def vehicle_mask(lengths: torch.Tensor, num_vehicles: int) -> torch.Tensor:
    """``[S, K]`` bool: ``True`` at the real vehicles (``k < lengths[s]``).

    Parameters
    ----------
    lengths : torch.Tensor
        ``[S]`` integer tensor, each in ``[1, K]``.
    num_vehicles : int
        ``K`` (padded length).

    Raises
    ------
    ShapeError
        ``lengths`` not 1-D integer, or ``K = 0`` / ``S = 0``.
    ValueRangeError
        A length outside ``[1, K]`` (a slot without vehicles needs no design: leave it out).

    Examples
    --------
    >>> vehicle_mask(torch.tensor([1, 3]), 3)
    tensor([[ True, False, False],
            [ True,  True,  True]])
    """
    if lengths.dim() != 1 or lengths.is_floating_point() or lengths.is_complex() \
            or lengths.dtype == torch.bool:
        raise ShapeError(f"lengths must be a 1-D integer tensor [S], got {lengths.dtype} "
                         f"{tuple(lengths.shape)}")
    if num_vehicles < 1 or lengths.numel() == 0:
        raise ShapeError(f"need at least one slot and one vehicle position, got S = "
                         f"{lengths.numel()}, K = {num_vehicles} (K = 0: no vehicles to design "
                         f"for)")
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > num_vehicles:
        raise ValueRangeError(f"lengths must lie in [1, K = {num_vehicles}], got values in "
                              f"[{lo}, {hi}] (a slot with 0 vehicles needs no design: leave it "
                              f"out)")
    k = torch.arange(num_vehicles, device=lengths.device)
    return k[None, :] < lengths[:, None]


# ---------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BiLstmConfig:
    """Constructor arguments of a :class:`BiLstmNet`, stored next to its weights.

    Attributes
    ----------
    num_tx, num_rx : int
        ``N_t`` and ``N_r``: they fix the default input layout and the beam head's width.
    head : {"assign", "beam"}
        ``"assign"``: ``num_rsu`` logits per vehicle; ``"beam"``: ``2N_t`` reals per vehicle.
    hidden_size : int
        LSTM hidden units per direction (spec §1 proposal: 128).
    num_layers : int
        Stacked bidirectional LSTM layers (proposal: 2).
    dense_width : int
        Width of the Dense + ReLU layer after the LSTM (proposal: 256).
    num_rsu : int
        ``I`` (the paper: 2).
    num_features : int or None
        Input width ``F``; ``None`` (default) resolves to :func:`feature_size` ``(num_tx,
        num_rx, num_rsu)``, the layout of :func:`vehicle_features`. Set it only for another
        feature layout.
    output_scale : float
        Beam head: the network outputs the head's value times this (e.g. ``√P``); must be 1
        for ``"assign"``.
    seed : int
        Seed of the weight initialisation (PyTorch's default initialisation, drawn from a
        forked generator: torch's global generator is left untouched).
    """

    num_tx: int
    num_rx: int
    head: HeadKind = "assign"
    hidden_size: int = 128
    num_layers: int = 2
    dense_width: int = 256
    num_rsu: int = 2
    num_features: int | None = None
    output_scale: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.head not in ("assign", "beam"):
            raise ConfigError(f"head must be 'assign' or 'beam', got {self.head!r}")
        default = feature_size(self.num_tx, self.num_rx, self.num_rsu)
        for name in ("hidden_size", "num_layers", "dense_width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        if self.num_features is None:
            object.__setattr__(self, "num_features", default)
        elif isinstance(self.num_features, bool) or not isinstance(self.num_features, int) \
                or self.num_features < 1:
            raise ConfigError(f"num_features must be an integer >= 1 or None, got "
                              f"{self.num_features!r}")
        scale = float(self.output_scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"output_scale must be finite and > 0, got {self.output_scale!r}")
        if self.head == "assign" and scale != 1.0:
            raise ConfigError(f"output_scale applies to the beam head only; got {scale} with "
                              f"head='assign'")
        object.__setattr__(self, "output_scale", scale)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")

    @property
    def input_size(self) -> int:
        """``F`` (``num_features`` resolved)."""
        assert self.num_features is not None
        return self.num_features

    @property
    def output_size(self) -> int:
        """Outputs per vehicle: ``num_rsu`` (assign) or ``2 N_t`` (beam)."""
        return self.num_rsu if self.head == "assign" else 2 * self.num_tx

    def to_dict(self) -> dict[str, Any]:
        """JSON form (all fields, ``num_features`` resolved)."""
        return dataclasses.asdict(self)


class BiLstmNet(nn.Module):
    """Bi-LSTM over the vehicles of a slot, then Dense + ReLU and a per-vehicle head (Fig. 4).

    ``forward(features [S, K, F], lengths [S]) -> [S, K, out]`` with ``out = num_rsu`` logits
    (``"assign"``) or ``2N_t`` beam entries ``[Re f, Im f]`` (``"beam"``); zero at padded
    positions. The features are standardised by the buffers ``feature_mean`` /
    ``feature_std`` (identity until :meth:`fit_normalisation`), converted to the network's
    dtype (float32 unless the caller converts the network).

    Parameters
    ----------
    config : BiLstmConfig

    Examples
    --------
    >>> net = BiLstmNet(BiLstmConfig(num_tx=4, num_rx=4, hidden_size=8, dense_width=16))
    >>> x = torch.randn(3, 5, feature_size(4, 4))
    >>> net(x, torch.tensor([5, 2, 1])).shape
    torch.Size([3, 5, 2])
    """

    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def __init__(self, config: BiLstmConfig) -> None:
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.lstm = nn.LSTM(config.input_size, config.hidden_size,
                                num_layers=config.num_layers, bidirectional=True,
                                batch_first=True)
            self.dense = nn.Linear(2 * config.hidden_size, config.dense_width)
            self.head = nn.Linear(config.dense_width, config.output_size)
        self.register_buffer("feature_mean", torch.zeros(config.input_size))
        self.register_buffer("feature_std", torch.ones(config.input_size))

    def check_inputs(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Validate ``features [S, K, F]`` and ``lengths [S]``; returns the ``[S, K]`` mask of
        real vehicles (on the features' device).

        Raises
        ------
        ShapeError
            Wrong shapes, ``S = 0`` or ``K = 0``.
        ValueRangeError
            A length outside ``[1, K]``.
        """
        f = self.config.input_size
        if features.dim() != 3 or features.shape[-1] != f or features.is_complex():
            raise ShapeError(f"features must be real with shape [S, K, {f}], got "
                             f"{features.dtype} {tuple(features.shape)}")
        s, k = features.shape[0], features.shape[1]
        if tuple(lengths.shape) != (s,):
            raise ShapeError(f"lengths must have shape [S] = [{s}], got {tuple(lengths.shape)}")
        return vehicle_mask(lengths, k).to(features.device)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Outputs per vehicle (class docstring).

        Parameters
        ----------
        features : torch.Tensor
            ``[S, K, F]`` real: per-vehicle inputs (:func:`vehicle_features`), vehicles sorted
            by ``x`` with the real ones first; padded entries arbitrary (even NaN).
        lengths : torch.Tensor
            ``[S]`` int: real vehicles per slot, each in ``[1, K]``.

        Returns
        -------
        torch.Tensor
            ``[S, K, out]`` in the network's dtype; zero at padded positions.
        """
        mask = self.check_inputs(features, lengths)
        k = features.shape[1]
        x = (features.to(self.feature_mean.dtype) - self.feature_mean) / self.feature_std
        packed = pack_padded_sequence(x, lengths.detach().to("cpu", torch.int64),
                                      batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        z, _ = pad_packed_sequence(out, batch_first=True, total_length=k)
        y = self.head(F.relu(self.dense(z)))
        if self.config.head == "beam" and self.config.output_scale != 1.0:
            y = y * self.config.output_scale
        return torch.where(mask[..., None], y, torch.zeros((), dtype=y.dtype, device=y.device))

    @torch.no_grad()
    def fit_normalisation(self, features: torch.Tensor, lengths: torch.Tensor, *,
                          chunk: int = 1024) -> None:
        """Set ``feature_mean`` / ``feature_std`` from the real vehicles of a training set.

        Mean and population standard deviation per feature over every real vehicle (two
        passes in float64, in chunks of ``chunk`` slots); a standard deviation that is zero,
        non-finite or below ``1e-6·|mean|`` is replaced by 1.

        Parameters
        ----------
        features : torch.Tensor
            ``[S, K, F]`` real training features.
        lengths : torch.Tensor
            ``[S]`` int.
        chunk : int
            Slots per pass step (memory bound).

        Raises
        ------
        ValueRangeError
            Non-finite features at real vehicles.
        """
        mask = self.check_inputs(features, lengths)
        n = int(mask.sum())
        total = torch.zeros(features.shape[-1], dtype=torch.float64, device=features.device)
        for s0 in range(0, features.shape[0], chunk):
            xr = features[s0:s0 + chunk][mask[s0:s0 + chunk]].to(torch.float64)
            if not bool(torch.isfinite(xr).all()):
                raise ValueRangeError("features contain NaN or Inf at real vehicles")
            total += xr.sum(0)
        mean = total / n
        sq = torch.zeros_like(total)
        for s0 in range(0, features.shape[0], chunk):
            xr = features[s0:s0 + chunk][mask[s0:s0 + chunk]].to(torch.float64)
            sq += (xr - mean).square().sum(0)
        std = (sq / n).sqrt()
        bad = ~torch.isfinite(std) | (std <= 1e-6 * mean.abs()) | (std == 0)
        std = torch.where(bad, torch.ones_like(std), std)
        self.feature_mean.copy_(mean.to(self.feature_mean))
        self.feature_std.copy_(std.to(self.feature_std))


# ---------------------------------------------------------------------------------------------
# beams and metrics
# ---------------------------------------------------------------------------------------------


def beams_to_real(f: torch.Tensor) -> torch.Tensor:
    """``[..., N_t]`` complex → ``[..., 2N_t]`` real ``[Re f, Im f]`` (the beam head's layout).

    Examples
    --------
    >>> beams_to_real(torch.tensor([1 + 2j, 3 - 1j]))
    tensor([ 1.,  3.,  2., -1.])
    """
    if not f.is_complex():
        raise ShapeError(f"f must be complex [..., N_t], got {f.dtype}")
    return torch.cat([f.real, f.imag], dim=-1)


def real_to_beams(y: torch.Tensor) -> torch.Tensor:
    """``[..., 2N_t]`` real ``[Re f, Im f]`` → ``[..., N_t]`` complex (inverse of
    :func:`beams_to_real`)."""
    if y.is_complex() or y.dim() < 1 or y.shape[-1] % 2:
        raise ShapeError(f"y must be real with an even last dimension [..., 2N_t], got "
                         f"{y.dtype} {tuple(y.shape)}")
    n = y.shape[-1] // 2
    return torch.complex(y[..., :n], y[..., n:])


def project_beams(f: torch.Tensor, power: torch.Tensor | float) -> torch.Tensor:
    r"""Euclidean projection of each beam onto the power ball :math:`\|\mathbf f\|^2\le P`
    (per beam, eq. 38; ``P`` of ``power_db``, spec §6.1).

    :math:`\Pi(\mathbf f)=\mathbf f\min(1,\sqrt{P}/\|\mathbf f\|)`. The norm of ``[Re f, Im f]``
    equals that of ``f``, so the beam head's real layout ``[..., 2N_t]`` and complex beams
    ``[..., N_t]`` are projected alike. The sensing constraint (37) is not imposed here
    (module docstring).

    Parameters
    ----------
    f : torch.Tensor
        ``[..., N_t]`` complex or ``[..., 2N_t]`` real beams.
    power : float or torch.Tensor
        ``P ≥ 0`` (linear), a scalar or broadcastable to ``f.shape[:-1]``.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``f``; beams inside the ball are returned unchanged.

    Raises
    ------
    ValueRangeError
        A negative or non-finite power.

    Examples
    --------
    >>> project_beams(torch.tensor([3.0, 4.0]), 1.0)
    tensor([0.6000, 0.8000])
    """
    p = torch.as_tensor(power, dtype=f.real.dtype, device=f.device)
    if p.is_complex() or not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
        raise ValueRangeError(f"power must be finite and >= 0, got {power}")
    norm_sq = f.abs().square().sum(-1)
    scale = torch.sqrt(p / norm_sq.clamp_min(torch.finfo(norm_sq.dtype).tiny))
    scale = torch.where(norm_sq > p, scale, torch.ones_like(scale))
    return f * scale[..., None].to(f.dtype)


def assignment_accuracy(logits: torch.Tensor, labels: torch.Tensor,
                        lengths: torch.Tensor) -> torch.Tensor:
    """Share of real vehicles whose predicted RSU (argmax of the logits) equals the label, per
    slot (spec §2; Fig. 5 pools over the set: :meth:`AssignmentTask.validate`).

    Parameters
    ----------
    logits : torch.Tensor
        ``[S, K, I]`` real.
    labels : torch.Tensor
        ``[S, K]`` int (padded entries arbitrary).
    lengths : torch.Tensor
        ``[S]`` int.

    Returns
    -------
    torch.Tensor
        ``[S]`` in ``[0, 1]``, in the dtype of ``logits``.
    """
    mask = vehicle_mask(lengths, logits.shape[1]).to(logits.device)
    return vehicular.assignment_accuracy(logits.argmax(-1), labels, mask).to(logits.dtype)


def beam_mse(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    r"""Beam MSE per slot (spec §2): mean over the real vehicles of
    :math:`\|[\Re,\Im](\hat{\mathbf f}-\mathbf f)\|^2/(2N_t)`.

    Parameters
    ----------
    pred, target : torch.Tensor
        ``[S, K, 2N_t]`` real ``[Re f, Im f]`` (padded entries arbitrary).
    lengths : torch.Tensor
        ``[S]`` int.

    Returns
    -------
    torch.Tensor
        ``[S]``.
    """
    if pred.shape != target.shape or pred.dim() != 3:
        raise ShapeError(f"pred and target must have the same shape [S, K, 2N_t], got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    mask = vehicle_mask(lengths, pred.shape[1]).to(pred.device)
    return vehicular.beam_mse(pred, target, mask)


# ---------------------------------------------------------------------------------------------
# training tasks
# ---------------------------------------------------------------------------------------------


@dataclass
class VehicleSequences:
    """A data set of slots: features, lengths and per-vehicle targets.

    Attributes
    ----------
    features : torch.Tensor
        ``[S, K, F]`` real (vehicles sorted by ``x``, real ones first).
    lengths : torch.Tensor
        ``[S]`` int64, each in ``[1, K]``.
    targets : torch.Tensor
        ``[S, K]`` int64 RSU labels (assignment) or ``[S, K, 2N_t]`` real beams
        ``[Re f, Im f]`` (beam); padded entries arbitrary.
    """

    features: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def subset(self, idx: torch.Tensor | slice) -> VehicleSequences:
        """The slots ``idx`` (e.g. a train/validation split)."""
        if isinstance(idx, torch.Tensor):
            return VehicleSequences(self.features[idx.to(self.features.device)],
                                    self.lengths[idx.to(self.lengths.device)],
                                    self.targets[idx.to(self.targets.device)])
        return VehicleSequences(self.features[idx], self.lengths[idx], self.targets[idx])

    def digest(self) -> str:
        """SHA-256 of the three tensors (ties a training checkpoint to its data)."""
        return weights_digest({"features": self.features, "lengths": self.lengths,
                               "targets": self.targets})


def _check_data(model: BiLstmNet, data: VehicleSequences, name: str) -> torch.Tensor:
    """Validate a data set for ``model``; returns its mask."""
    mask = model.check_inputs(data.features, data.lengths)
    s, k = data.features.shape[:2]
    cfg = model.config
    if cfg.head == "assign":
        t = data.targets
        if tuple(t.shape) != (s, k) or t.is_floating_point() or t.is_complex():
            raise ShapeError(f"{name} labels must be integer with shape [S, K] = [{s}, {k}], "
                             f"got {t.dtype} {tuple(t.shape)}")
        real = t[mask.to(t.device)]
        if bool(((real < 0) | (real >= cfg.num_rsu)).any()):
            raise ValueRangeError(f"{name} labels of real vehicles must lie in [0, "
                                  f"{cfg.num_rsu - 1}], got values in [{int(real.min())}, "
                                  f"{int(real.max())}]")
    else:
        t = data.targets
        want = (s, k, cfg.output_size)
        if tuple(t.shape) != want or not t.is_floating_point():
            raise ShapeError(f"{name} beams must be real with shape [S, K, 2N_t] = "
                             f"{list(want)}, got {t.dtype} {tuple(t.shape)}")
        if not bool(torch.isfinite(t[mask.to(t.device)]).all()):
            raise ValueRangeError(f"{name} beams contain NaN or Inf at real vehicles")
    return mask


def _trim(data: VehicleSequences, idx: torch.Tensor) -> VehicleSequences:
    """The slots ``idx``, cut to their longest sequence (fewer padded positions to compute)."""
    sub = data.subset(idx)
    kmax = int(sub.lengths.max())
    return VehicleSequences(sub.features[:, :kmax], sub.lengths, sub.targets[:, :kmax])


class _SequenceTask(TrainTask):
    """Shared set-up of :class:`AssignmentTask` and :class:`BeamTask`."""

    head: HeadKind

    def __init__(self, model: BiLstmNet, train: VehicleSequences, val: VehicleSequences, *,
                 seed: int = 0, fit_normalisation: bool = True,
                 val_batch_size: int = 1024) -> None:
        if model.config.head != self.head:
            raise ConfigError(f"{type(self).__name__} trains a head={self.head!r} network, got "
                              f"head={model.config.head!r}")
        if val_batch_size < 1:
            raise ConfigError(f"val_batch_size must be >= 1, got {val_batch_size}")
        _check_data(model, train, "train")
        _check_data(model, val, "val")
        self.model: BiLstmNet = model
        self.train = train
        self.val = val
        self.val_batch_size = int(val_batch_size)
        self.num_train, self.num_val = len(train), len(val)
        self.generator_seeds = {"shuffle": int(seed)}
        if fit_normalisation:
            model.fit_normalisation(train.features, train.lengths)

    def _device(self) -> torch.device:
        return self.model.feature_mean.device

    def _batch(self, data: VehicleSequences, idx: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(outputs, targets, lengths, mask) of the slots ``idx`` on the model's device."""
        b = _trim(data, idx)
        dev = self._device()
        x, lengths, t = b.features.to(dev), b.lengths.to(dev), b.targets.to(dev)
        y = self.model(x, lengths)
        mask = vehicle_mask(lengths, x.shape[1])
        return y, t, lengths, mask

    def _val_chunks(self) -> list[torch.Tensor]:
        n = self.num_val
        return [torch.arange(s, min(s + self.val_batch_size, n))
                for s in range(0, n, self.val_batch_size)]


class AssignmentTask(_SequenceTask):
    """Training of the assignment Bi-LSTM (cross-entropy against Alg. 3's RSU labels) as a
    :class:`~isaclearn.learn.loop.TrainTask` of :func:`~isaclearn.learn.loop.fit`.

    Loss of a mini-batch: the mean cross-entropy over its *real* vehicles (padded positions are
    masked out; pooled over the batch's vehicles, so a slot with more vehicles weighs more).
    Validation (evaluation mode, in chunks of ``val_batch_size`` slots): ``"total"``, the
    pooled mean cross-entropy over every real vehicle of the validation set, and
    ``"accuracy"``, the pooled share of correctly assigned vehicles (Fig. 5). Training terms:
    ``"total"`` and ``"accuracy"`` (of the training mode outputs).

    Parameters
    ----------
    model : BiLstmNet
        A ``head="assign"`` network (trained in place).
    train, val : VehicleSequences
        Features, lengths and ``[S, K]`` int64 labels (RSU index of each real vehicle).
    seed : int
        Seed of the shuffling generator ``"shuffle"``.
    fit_normalisation : bool
        Fit the network's input standardisation on ``train`` first (default; pass ``False``
        when warm-starting a trained network so that its scaling is kept).
    val_batch_size : int
        Slots per validation forward pass.

    Raises
    ------
    ConfigError
        A network with another head.
    ShapeError, ValueRangeError
        Data of the wrong shape, empty slots, labels out of range.
    """

    head: HeadKind = "assign"
    log_terms = ("total", "accuracy")
    log_keys = ("accuracy",)

    def train_batch(self, idx: torch.Tensor,
                    generators: dict[str, torch.Generator]) -> BatchLoss:
        y, t, _, mask = self._batch(self.train, idx)
        logits, labels = y[mask], t[mask]
        loss = F.cross_entropy(logits, labels)
        acc = (logits.detach().argmax(-1) == labels).double().mean()
        b = idx.numel()
        return BatchLoss(loss, {"total": float(loss.detach()) * b, "accuracy": float(acc) * b})

    def validate(self) -> dict[str, float]:
        ce, hits, n = 0.0, 0, 0
        for idx in self._val_chunks():
            y, t, _, mask = self._batch(self.val, idx)
            logits, labels = y[mask], t[mask]
            ce += float(F.cross_entropy(logits, labels, reduction="sum"))
            hits += int((logits.argmax(-1) == labels).sum())
            n += int(mask.sum())
        return {"total": ce / n, "accuracy": hits / n}


class BeamTask(_SequenceTask):
    """Training of the beam Bi-LSTM (beam MSE against Alg. 3's beams, spec §2) as a
    :class:`~isaclearn.learn.loop.TrainTask`.

    Loss of a mini-batch: the beam MSE pooled over its real vehicles,
    :math:`\\sum_k\\|\\hat{\\mathbf y}_k-\\mathbf y_k\\|^2/(2N_t\\,n)` over the ``n`` real
    vehicles (padded positions masked out). Validation: ``"total"``, the same pooled MSE of the
    raw outputs over the validation set (selects the best weights), and ``"beam_mse"``, the
    pooled MSE after :func:`project_beams` onto ``‖f‖² ≤ power`` (equal to ``"total"`` when
    ``power`` is ``None``).

    Parameters
    ----------
    model : BiLstmNet
        A ``head="beam"`` network.
    train, val : VehicleSequences
        Features, lengths and ``[S, K, 2N_t]`` real target beams ``[Re f, Im f]``.
    power : float or None
        Per-beam power budget ``P`` (linear) of the projection before scoring.
    seed, fit_normalisation, val_batch_size
        As in :class:`AssignmentTask`.
    """

    head: HeadKind = "beam"
    log_terms = ("total",)
    log_keys = ("beam_mse",)

    def __init__(self, model: BiLstmNet, train: VehicleSequences, val: VehicleSequences, *,
                 power: float | None = None, seed: int = 0, fit_normalisation: bool = True,
                 val_batch_size: int = 1024) -> None:
        if power is not None and not (math.isfinite(power) and power >= 0):
            raise ValueRangeError(f"power must be finite and >= 0 or None, got {power}")
        self.power = power
        super().__init__(model, train, val, seed=seed, fit_normalisation=fit_normalisation,
                         val_batch_size=val_batch_size)

    def train_batch(self, idx: torch.Tensor,
                    generators: dict[str, torch.Generator]) -> BatchLoss:
        y, t, _, mask = self._batch(self.train, idx)
        loss = F.mse_loss(y[mask], t[mask].to(y.dtype))
        return BatchLoss(loss, {"total": float(loss.detach()) * idx.numel()})

    def validate(self) -> dict[str, float]:
        raw, proj, n = 0.0, 0.0, 0
        for idx in self._val_chunks():
            y, t, _, mask = self._batch(self.val, idx)
            yr, tr = y[mask], t[mask].to(y.dtype)
            raw += float((yr - tr).square().mean(-1).sum())
            if self.power is not None:
                proj += float((project_beams(yr, self.power) - tr).square().mean(-1).sum())
            n += int(mask.sum())
        out = {"total": raw / n}
        out["beam_mse"] = (proj if self.power is not None else raw) / n
        return out


def training_checkpoint_config(task: AssignmentTask | BeamTask,
                               config: TrainConfig) -> dict[str, Any]:
    """What a training-state checkpoint of :func:`train_bilstm` is tied to: the network
    configuration (``"net"``, which :func:`load_bilstm` reads), the settings, the task's
    options and SHA-256 digests of the two data sets."""
    out: dict[str, Any] = {
        "net": task.model.config.to_dict(), "train": config.to_dict(),
        "task": {"head": task.head, "seed": task.generator_seeds["shuffle"]},
        "data": {"train": task.train.digest(), "val": task.val.digest()},
    }
    if isinstance(task, BeamTask):
        out["task"]["power"] = task.power
    return out


def train_bilstm(
    task: AssignmentTask | BeamTask,
    config: TrainConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    log_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    stop_after_epochs: int | None = None,
    time_budget_s: float | None = None,
) -> TrainResult:
    """Train ``task.model`` with :func:`~isaclearn.learn.loop.fit` (finished: best weights).

    Parameters
    ----------
    task : AssignmentTask or BeamTask
    config : TrainConfig or None
        Default :data:`BILSTM_TRAIN_CONFIG`.
    checkpoint, resume, log_dir, log, stop_after_epochs, time_budget_s
        As in :func:`~isaclearn.learn.loop.fit`; the training state is tied to
        :func:`training_checkpoint_config` (a finished one loads with :func:`load_bilstm`).

    Returns
    -------
    TrainResult
        History rows carry ``val_total`` and ``val_accuracy`` (assignment) or ``val_beam_mse``
        (beam).
    """
    cfg = config or BILSTM_TRAIN_CONFIG
    ck_cfg = training_checkpoint_config(task, cfg) if checkpoint is not None else None
    return fit(task, cfg, checkpoint=checkpoint, checkpoint_config=ck_cfg, resume=resume,
               log_dir=log_dir, log=log, stop_after_epochs=stop_after_epochs,
               time_budget_s=time_budget_s)


# ---------------------------------------------------------------------------------------------
# prediction and checkpoints
# ---------------------------------------------------------------------------------------------


def predict_assignment(net: BiLstmNet, features: torch.Tensor,
                       lengths: torch.Tensor) -> torch.Tensor:
    """RSU of every vehicle: the argmax of the assignment network's logits.

    Parameters
    ----------
    net : BiLstmNet
        A ``head="assign"`` network (run in evaluation mode without gradients; its mode is
        restored).
    features : torch.Tensor
        ``[S, K, F]``, vehicles sorted by ``x``, real ones first.
    lengths : torch.Tensor
        ``[S]`` int.

    Returns
    -------
    torch.Tensor
        ``[S, K]`` int64 RSU indices in ``[0, I)``; ``-1`` at padded positions.

    Raises
    ------
    ConfigError
        A beam network.
    """
    if net.config.head != "assign":
        raise ConfigError(f"predict_assignment needs a head='assign' network, got "
                          f"head={net.config.head!r}")
    logits = _eval(net, features, lengths)
    mask = vehicle_mask(lengths, features.shape[1]).to(logits.device)
    return torch.where(mask, logits.argmax(-1), torch.full_like(mask, -1, dtype=torch.int64))


def predict_beams(net: BiLstmNet, features: torch.Tensor, lengths: torch.Tensor, *,
                  power: float | torch.Tensor | None = None) -> torch.Tensor:
    """Beam of every vehicle from the beam network, projected onto ``‖f‖² ≤ power``.

    Parameters
    ----------
    net : BiLstmNet
        A ``head="beam"`` network.
    features : torch.Tensor
        ``[S, K, F]``.
    lengths : torch.Tensor
        ``[S]`` int.
    power : float, torch.Tensor or None
        Per-beam budget ``P`` (linear; scalar or broadcastable to ``[S, K]``); ``None``: no
        projection.

    Returns
    -------
    torch.Tensor
        ``[S, K, N_t]`` complex (complex64 for a float32 network); zero at padded positions.

    Raises
    ------
    ConfigError
        An assignment network.
    """
    if net.config.head != "beam":
        raise ConfigError(f"predict_beams needs a head='beam' network, got "
                          f"head={net.config.head!r}")
    y = _eval(net, features, lengths)
    if power is not None:
        y = project_beams(y, power)
    return real_to_beams(y)


def _eval(net: BiLstmNet, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return net(features, lengths)
    finally:
        net.train(was_training)


def save_bilstm(stem: str | Path, net: BiLstmNet, *,
                metrics: dict[str, Any] | None = None) -> Path:
    """Write ``net`` (weights and input standardisation) as a ``kind="bilstm"`` checkpoint
    (``<stem>.safetensors`` + ``<stem>.json``, SHA-256, atomic;
    :func:`isaclearn.learn.checkpoint.save_model`) with the configuration
    ``{"net": net.config.to_dict()}``. Returns the tensor file's path."""
    return save_model(stem, net, kind=BILSTM_KIND, config={"net": net.config.to_dict()},
                      metrics=metrics)


def load_bilstm(stem: str | Path, *,
                expect: BiLstmConfig | Mapping[str, Any] | None = None) -> BiLstmNet:
    """Load a Bi-LSTM from a ``kind="bilstm"`` checkpoint or a finished training state of
    :func:`train_bilstm` (its best weights); never unpickles.

    Parameters
    ----------
    stem : str or Path
        Checkpoint stem (or either file's path).
    expect : BiLstmConfig, mapping or None
        Refuse a network built for something else: a :class:`BiLstmConfig` must equal the
        stored one in every field; a mapping (e.g. ``{"num_tx": 32, "head": "assign"}``) is
        compared on its keys only.

    Returns
    -------
    BiLstmNet
        In evaluation mode, on the CPU.

    Raises
    ------
    CheckpointError
        Missing, corrupted or foreign files; a configuration that differs from ``expect`` (one
        line naming each differing field with both values); weights that do not fit.
    """
    ck = load_checkpoint(stem)
    tensors = model_weights(ck, stem, kind=BILSTM_KIND, description="Bi-LSTM network")
    stored = ck.config.get("net")
    if not isinstance(stored, dict):
        raise CheckpointError(f"checkpoint {stem} has no Bi-LSTM configuration ('net')")
    if expect is not None:
        want = expect.to_dict() if isinstance(expect, BiLstmConfig) else dict(expect)
        unknown = sorted(set(want) - {f.name for f in dataclasses.fields(BiLstmConfig)})
        if unknown:
            raise ConfigError(f"expect names unknown BiLstmConfig fields {unknown}")
        diffs = config_differences({k: stored.get(k) for k in want}, want)
        if diffs:
            raise CheckpointError(f"checkpoint {stem} holds a Bi-LSTM for another "
                                  f"configuration: {'; '.join(diffs)}")
    try:
        net = BiLstmNet(BiLstmConfig(**stored))
    except (TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint {stem} has an invalid Bi-LSTM configuration: "
                              f"{exc}") from None
    load_weights(net, tensors, stem)
    net.eval()
    return net

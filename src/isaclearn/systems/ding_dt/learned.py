r"""Bi-LSTM data and training for ding_dt (Sec. VI; spec §3 "Bi-LSTM", §6.11).

**Data.** The digital twin generates the snapshots: ``B`` constant-traffic instances of ``K``
vehicles (spec §6.12) run ``warmup_slots`` slots with the cheap ``steer`` designer (the tracks
settle), then Alg. 3 designs every following slot; each slot of each instance is one snapshot
(:func:`collect_snapshots`). A snapshot holds, per vehicle, the Bi-LSTM features of that slot
(:func:`isaclearn.learn.bilstm.vehicle_features`, built by the twin: the last echo and the
previous beam at the serving RSU), Alg. 3's RSU (the assignment label) and Alg. 3's beam at
that RSU as ``[Re f, Im f]`` (the beam target), with the vehicles sorted by their predicted
position ``x``. Training and validation snapshots come from different seeds.

**Training** (:func:`train_pair`): one assignment network (cross-entropy, Fig. 5) and one beam
network (MSE, Fig. 6, output scale √P), both :class:`~isaclearn.learn.bilstm.BiLstmNet` with
the sizes of :class:`LstmSettings`, trained by :func:`isaclearn.learn.bilstm.train_bilstm` with
early stopping switched off (patience = the epoch limit) so that the curves run to the end, and
saved as ``kind="bilstm"`` checkpoints named ``lstm_assign_<tag>`` / ``lstm_beam_<tag>``
(:func:`model_tag`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from isaclearn.channels.highway import constant_traffic
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn.bilstm import (
    AssignmentTask,
    BeamTask,
    BiLstmConfig,
    BiLstmNet,
    VehicleSequences,
    beams_to_real,
    load_bilstm,
    save_bilstm,
    train_bilstm,
)
from isaclearn.learn.loop import TrainConfig
from isaclearn.systems.ding_dt.config import DtSettings
from isaclearn.systems.ding_dt.designers import (
    AssignmentDesigner,
    LstmDesigner,
    SteerDesigner,
    SwitchDesigner,
)
from isaclearn.systems.ding_dt.evaluation import SlotMetrics, TwinProblem
from isaclearn.systems.ding_dt.twin import run_twin


@dataclass(frozen=True)
class LstmSettings:
    """Sizes and training settings of the two Bi-LSTM networks (spec §1 proposals).

    Attributes
    ----------
    hidden_size, num_layers, dense_width : int
        ``2 × Bi-LSTM(128) + Dense(256)`` by default.
    batch_size : int
        Mini-batch of snapshots (128).
    lr : float
        Adam learning rate (1e-3).
    epochs_assign, epochs_beam : int
        Epochs of the assignment and beam networks (paper: "tens", ≈ 200).
    seed : int
        Seed of the weights and the shuffling.
    """

    hidden_size: int = 128
    num_layers: int = 2
    dense_width: int = 256
    batch_size: int = 128
    lr: float = 1e-3
    epochs_assign: int = 50
    epochs_beam: int = 200
    seed: int = 0

    def train_config(self, epochs: int) -> TrainConfig:
        """:class:`TrainConfig` with early stopping switched off."""
        return TrainConfig(batch_size=self.batch_size, lr=self.lr, max_epochs=epochs,
                           patience=epochs, lr_patience=max(5, epochs // 10), seed=self.seed)

    def net_config(self, settings: DtSettings, head: str) -> BiLstmConfig:
        """The network configuration for ``settings``' arrays."""
        scale = math.sqrt(settings.power) if head == "beam" else 1.0
        return BiLstmConfig(num_tx=settings.num_tx, num_rx=settings.num_rx, head=head,  # type: ignore[arg-type]
                            hidden_size=self.hidden_size, num_layers=self.num_layers,
                            dense_width=self.dense_width, num_rsu=settings.num_rsus,
                            output_scale=scale, seed=self.seed)


@dataclass
class Snapshots:
    """Bi-LSTM data: ``S`` snapshots padded to ``K`` vehicles, sorted by ``x``.

    Attributes
    ----------
    features : torch.Tensor
        ``[S, K, F]`` float32.
    lengths : torch.Tensor
        ``[S]`` int64.
    labels : torch.Tensor
        ``[S, K]`` int64 Alg. 3's RSU per vehicle.
    beams : torch.Tensor
        ``[S, K, 2N_t]`` float32 Alg. 3's serving beam ``[Re f, Im f]``.
    """

    features: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    beams: torch.Tensor

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def assign_data(self) -> VehicleSequences:
        """The assignment task's data."""
        return VehicleSequences(self.features, self.lengths, self.labels)

    def beam_data(self) -> VehicleSequences:
        """The beam task's data."""
        return VehicleSequences(self.features, self.lengths, self.beams)

    @staticmethod
    def cat(parts: Sequence[Snapshots]) -> Snapshots:
        """Join snapshot sets of different ``K`` (padded to the largest)."""
        k = max(int(p.features.shape[1]) for p in parts)

        def pad(x: torch.Tensor) -> torch.Tensor:
            extra = k - x.shape[1]
            if extra == 0:
                return x
            shape = (x.shape[0], extra, *x.shape[2:])
            return torch.cat([x, x.new_zeros(shape)], dim=1)

        return Snapshots(torch.cat([pad(p.features) for p in parts]),
                         torch.cat([p.lengths for p in parts]),
                         torch.cat([pad(p.labels) for p in parts]),
                         torch.cat([pad(p.beams) for p in parts]))


def snapshot_of(problem: TwinProblem, design: Design, metrics: SlotMetrics) -> Snapshots:
    """The snapshots (one per instance with vehicles) of one twin slot, vehicles sorted by
    their predicted ``x`` (real ones first)."""
    assert problem.features is not None
    mask = problem.mask
    lengths = mask.sum(1)
    rows = (lengths > 0).nonzero().squeeze(1)
    key = torch.where(mask, problem.x_m, torch.full_like(problem.x_m, math.inf))
    order = torch.sort(key, dim=1, stable=True).indices[rows]
    ri = rows[:, None]
    feats = problem.features[ri, order].float()
    labels = torch.where(mask[ri, order], metrics.assign[ri, order], 0)
    beams = beams_to_real(metrics.served_beam[ri, order]).float()
    beams = torch.where(mask[ri, order][..., None], beams, 0.0)
    return Snapshots(feats, lengths[rows], labels, beams)


def collect_snapshots(
    settings: DtSettings,
    num_vehicles: int,
    num_snapshots: int,
    *,
    seed: int,
    batch: int = 32,
    warmup_slots: int = 10,
    designer: Any = None,
    progress: Callable[[range], Iterable[int]] | None = None,
) -> Snapshots:
    """``num_snapshots`` DT snapshots with Alg. 3 labels (module docstring).

    Parameters
    ----------
    settings : DtSettings
    num_vehicles : int
        ``K ≥ 1`` (constant traffic).
    num_snapshots : int
        Snapshots wanted (≥ 1); ``min(batch, num_snapshots)`` instances run
        ``ceil(num_snapshots / instances)`` labelled slots, the surplus is cut.
    seed : int
        Seed of the traffic and the noise.
    batch : int
        Instances run at once.
    warmup_slots : int
        Slots with the ``steer`` designer before the first labelled slot.
    designer : object or None
        The labelling designer (default Alg. 3 with the settings' FP controls).
    progress : callable or None
        Wraps the range of slots.

    Returns
    -------
    Snapshots
    """
    if num_vehicles < 1 or num_snapshots < 1:
        raise ConfigError(f"need K >= 1 and at least one snapshot, got K = {num_vehicles}, "
                          f"{num_snapshots} snapshots")
    b = max(1, min(batch, num_snapshots))
    slots = math.ceil(num_snapshots / b)
    gen = make_generator(seed)
    traffic = constant_traffic(settings.highway, num_vehicles, b, gen)
    label = designer if designer is not None else AssignmentDesigner("alg3", settings)
    run: Any = SwitchDesigner(SteerDesigner(), label, warmup_slots)
    parts: list[Snapshots] = []

    def keep(n: int, problem: TwinProblem, design: Design, metrics: SlotMetrics) -> None:
        if n >= warmup_slots:
            parts.append(snapshot_of(problem, design, metrics))

    run_twin(settings, traffic, run, warmup_slots + slots, generator=gen, features=True,
             on_slot=keep, progress=progress)
    out = Snapshots.cat(parts)
    idx = torch.arange(min(num_snapshots, len(out)))
    return Snapshots(out.features[idx], out.lengths[idx], out.labels[idx], out.beams[idx])


def model_tag(settings: DtSettings) -> str:
    """``N{N_t}_P{power_db}_{mode}``: what a trained pair depends on (labels come from Alg. 3
    under these settings)."""
    return (f"N{settings.num_tx}_P{settings.highway.power_db:g}_"
            f"{settings.sensing_constraint}")


def model_paths(folder: str | Path, settings: DtSettings, suffix: str = ""
                ) -> tuple[Path, Path]:
    """Stems ``<folder>/lstm_assign_<tag><suffix>`` and ``<folder>/lstm_beam_<tag><suffix>``."""
    tag = model_tag(settings) + suffix
    return Path(folder) / f"lstm_assign_{tag}", Path(folder) / f"lstm_beam_{tag}"


def load_pair(folder: str | Path, settings: DtSettings, suffix: str = ""
              ) -> LstmDesigner | None:
    """The trained pair for ``settings`` under ``folder`` (``None`` when either is missing).

    Raises
    ------
    CheckpointError
        A checkpoint that exists but holds another network (e.g. another ``N_t``).
    """
    a, b = model_paths(folder, settings, suffix)
    if not (a.with_suffix(".json").exists() and b.with_suffix(".json").exists()):
        return None
    expect = {"num_tx": settings.num_tx, "num_rx": settings.num_rx}
    return LstmDesigner(load_bilstm(a, expect={**expect, "head": "assign"}),
                        load_bilstm(b, expect={**expect, "head": "beam"}))


def train_net(head: str, train: Snapshots, val: Snapshots, settings: DtSettings,
              lstm: LstmSettings, *, log: Callable[[str], None] | None = None,
              epochs: int | None = None) -> tuple[BiLstmNet, list[dict[str, Any]]]:
    """Train one network (``head`` "assign" or "beam"); returns it and its per-epoch history."""
    net = BiLstmNet(lstm.net_config(settings, head))
    n_ep = epochs if epochs is not None else (lstm.epochs_assign if head == "assign"
                                              else lstm.epochs_beam)
    task: AssignmentTask | BeamTask
    if head == "assign":
        task = AssignmentTask(net, train.assign_data(), val.assign_data(), seed=lstm.seed)
    else:
        task = BeamTask(net, train.beam_data(), val.beam_data(), power=settings.power,
                        seed=lstm.seed)
    result = train_bilstm(task, lstm.train_config(n_ep), log=log)
    net.eval()
    return net, list(result.history)


def train_pair(train: Snapshots, val: Snapshots, settings: DtSettings, lstm: LstmSettings,
               folder: str | Path | None, *, suffix: str = "",
               log: Callable[[str], None] | None = None
               ) -> tuple[LstmDesigner, dict[str, list[dict[str, Any]]]]:
    """Train both networks and save them under ``folder`` (when given)."""
    nets, hist = {}, {}
    for head in ("assign", "beam"):
        nets[head], hist[head] = train_net(head, train, val, settings, lstm, log=log)
    if folder is not None:
        a, b = model_paths(folder, settings, suffix)
        Path(folder).mkdir(parents=True, exist_ok=True)
        save_bilstm(a, nets["assign"])
        save_bilstm(b, nets["beam"])
    return LstmDesigner(nets["assign"], nets["beam"]), hist


__all__ = [
    "LstmSettings",
    "Snapshots",
    "collect_snapshots",
    "load_pair",
    "model_paths",
    "model_tag",
    "snapshot_of",
    "train_net",
    "train_pair",
]

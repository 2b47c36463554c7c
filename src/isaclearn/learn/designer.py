"""A trained precoder network as a designer (``design(problem) -> Design``), and its files.

:class:`LearnedPrecoder` wraps a :class:`~isaclearn.learn.PrecoderNet` so that it is used like
every other designer (``isaclearn evaluate``, ``isaclearn bench precoders``, the experiments).
:func:`save_precoder` / :func:`load_precoder` store it as a ``kind="precoder"`` checkpoint
(safetensors + JSON sidecar holding the architecture, ``ρ`` and metrics); :func:`load_trained`
also accepts the final training-state checkpoint of :func:`~isaclearn.learn.train_precoder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.design import Design
from isaclearn.core.errors import CheckpointError, ConfigError, ShapeError
from isaclearn.learn.checkpoint import (
    Checkpoint,
    load_checkpoint,
    load_weights,
    model_weights,
    save_model,
)
from isaclearn.learn.fast_inference import structured_inference
from isaclearn.learn.precoder_nets import (
    NetConfig,
    PrecoderNet,
    StructuredPrecoderNet,
    build_network,
)


@dataclass
class LearnedPrecoder:
    """Designer backed by a trained network.

    Attributes
    ----------
    net : PrecoderNet
        The network (used in eval mode, without gradients).
    rho : float or None
        Trade-off weight fed to a ``ρ``-conditioned network; for a per-``ρ`` network, the weight
        it was trained for (informational).
    name : str
        Designer name in tables.

    Notes
    -----
    The network sees ``problem.csi`` (the estimate when the problem carries one) and the target
    angles; it runs in the dtype of its weights (float32 / complex64) and the design is returned
    in the dtype of ``problem.h``. ``info`` carries ``rho``. A structured network runs through
    :func:`~isaclearn.learn.fast_inference.structured_inference` (the same precoder as the
    module's ``forward`` up to rounding, several times faster on CPU).
    """

    net: PrecoderNet
    rho: float | None = None
    name: str = "dnn"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.net.config.rho_conditioned and self.rho is None:
            raise ConfigError("a rho-conditioned network needs rho= to act as a designer")

    def design(self, problem: DownlinkProblem) -> Design:
        """Precoder ``[B, M, K]`` with ``||W||_F² = P_t`` for every instance.

        Raises
        ------
        ShapeError
            The problem's ``M``, ``K`` or ``T`` differ from those the network was built for.
        """
        cfg = self.net.config
        want = (cfg.num_antennas, cfg.num_users, cfg.num_targets)
        have = (problem.num_antennas, problem.num_users, problem.num_targets)
        if want != have:
            raise ShapeError(f"network {self.name!r} is for M = {want[0]} antennas, K = "
                             f"{want[1]} users, T = {want[2]} targets; the problem has M = "
                             f"{have[0]}, K = {have[1]}, T = {have[2]}")
        self.net.eval()
        pdt = next(self.net.parameters()).dtype
        cdt = torch.complex64 if pdt == torch.float32 else torch.complex128
        h = problem.csi.to(cdt)
        theta = problem.theta.to(pdt)
        rho = self.rho if self.net.config.rho_conditioned else None
        if isinstance(self.net, StructuredPrecoderNet):
            w = structured_inference(self.net, h, theta, power=problem.power,
                                     noise_var=problem.noise_var, rho=rho)
        else:
            with torch.no_grad():
                _, w = self.net(h, theta, power=problem.power, noise_var=problem.noise_var,
                                rho=rho)
        return Design(w=w.to(problem.h.dtype), info={"rho": self.rho, **self.info})


def save_precoder(
    stem: str | Path, designer: LearnedPrecoder, *, metrics: dict[str, Any] | None = None
) -> Path:
    """Write ``designer``'s network as a ``kind="precoder"`` checkpoint; returns the tensor path."""
    return save_model(
        stem, designer.net, kind="precoder",
        config={"net": designer.net.config.to_dict(), "rho": designer.rho, "name": designer.name},
        metrics=metrics,
    )


def load_precoder(stem: str | Path, *, expected_net: NetConfig | None = None) -> LearnedPrecoder:
    """Load a checkpoint of :func:`save_precoder` (no unpickling) as a designer.

    Raises
    ------
    CheckpointError
        Corrupted files, another kind of checkpoint, or an architecture other than
        ``expected_net``.
    """
    return load_trained(stem, expected_net=expected_net)


def trained_weights(
    stem: str | Path, *, expected_net: NetConfig | None = None
) -> tuple[NetConfig, dict[str, torch.Tensor], Checkpoint]:
    """The architecture and weights of a trained network, from either checkpoint kind.

    A ``precoder`` checkpoint gives its tensors; a *finished* ``training_state`` checkpoint of
    :func:`~isaclearn.learn.train_precoder` gives its best-validation weights.

    Raises
    ------
    CheckpointError
        Missing or corrupted files, an unfinished training state, another kind of checkpoint,
        an invalid network config or one other than ``expected_net``.
    """
    ck = load_checkpoint(stem)
    tensors = model_weights(ck, stem, kind="precoder", description="precoder network")
    try:
        net_cfg = NetConfig.from_dict(ck.config["net"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint {stem} has an invalid network config: {exc}") from None
    if expected_net is not None and net_cfg != expected_net:
        raise CheckpointError(
            f"checkpoint {stem} holds the network {net_cfg}, expected {expected_net}"
        )
    return net_cfg, tensors, ck


def load_trained(
    stem: str | Path,
    *,
    expected_net: NetConfig | None = None,
    rho: float | None = None,
    name: str | None = None,
) -> LearnedPrecoder:
    """A designer from either a ``precoder`` checkpoint or a finished ``training_state`` one.

    ``rho`` is fed to a ``ρ``-conditioned network instead of the stored weight (it is required
    for one loaded from a training state without a stored ``ρ``); a per-``ρ`` network keeps the
    ``ρ`` it was trained for, whatever ``rho`` says. ``name`` overrides the stored name.
    ``info`` holds ``checkpoint`` and ``trained_rho`` (the stored ``ρ``, or ``None``).
    """
    net_cfg, tensors, ck = trained_weights(stem, expected_net=expected_net)
    stored_rho = ck.config.get("rho")
    stored_name = ck.config.get("name", "dnn") if ck.kind == "precoder" else "dnn"
    net: PrecoderNet = build_network(net_cfg)
    load_weights(net, tensors, stem)
    net.eval()
    use_rho = rho if (rho is not None and net_cfg.rho_conditioned) else stored_rho
    return LearnedPrecoder(net=net, rho=use_rho, name=name or stored_name,
                           info={"checkpoint": str(stem), "trained_rho": stored_rho})

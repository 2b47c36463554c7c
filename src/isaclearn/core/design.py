"""The designer protocol shared by every precoder: closed-form, iterative, convex, learned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch


@dataclass
class Design:
    """Beamforming tensors produced by a designer.

    Attributes
    ----------
    w : torch.Tensor
        Precoder ``[B, M, K]`` complex (downlink) or the system's main beamformer.
    extras : dict
        Further tensors a system needs (e.g. a sensing waveform), keyed by name.
    info : dict
        Diagnostics that are not tensors of the design (iterations, solver status, objective
        traces, infeasible-instance masks).
    """

    w: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Designer(Protocol):
    """Anything with ``design(problem) -> Design``. Designers never compute metrics or print."""

    name: str

    def design(self, problem: Any) -> Design:  # pragma: no cover - protocol
        ...
